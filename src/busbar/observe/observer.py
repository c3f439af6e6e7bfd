"""The one object the hot path tells what happened: PutEvents answered, events
routed, attempts ended, invocations throttled.  It counts (:mod:`busbar.observe.metrics`,
when metrics are on), logs failures (:mod:`busbar.observe.failures`) and writes
event bus logs (:mod:`busbar.observe.buslogs`, for buses whose LogConfig asks).

Each hook is one call from the code that does the work (``api/events.py``,
``router.py``, ``delivery/outcomes.py``, ``delivery/lanes.py``); each returns at
once when there is nothing to do, and none of them raises into its caller.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from busbar.config import Settings
from busbar.model.arns import parse_events
from busbar.observe.buslogs import BusLogs
from busbar.observe.failures import FailureLog
from busbar.observe.history import History
from busbar.observe.metrics import Metrics, RuleSeries
from busbar.observe.shapes import NOT_INVOKED, DeliveryLike, OutcomeLike
from busbar.resources.kinds import bus_key
from busbar.resources.scope import Scope, name_of_key
from busbar.store.base import NewDelivery, Store, StoredEvent

log = logging.getLogger("busbar.observe")

_Hook = TypeVar("_Hook", bound=Callable[..., None])


def _never_raises(hook: _Hook) -> _Hook:
    """A bug in observing must not fail the work observed (a routed batch routed twice,
    a delivery sent again): it is logged, and the caller goes on."""

    @functools.wraps(hook)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            hook(*args, **kwargs)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("observing failed", extra={"hook": hook.__name__})

    return guarded  # type: ignore[return-value]


# PutEvents entries naming a bus that does not exist are counted under this name, so
# that a client cannot make a series per name it invents.
UNKNOWN_BUS = "(unknown)"
_THROTTLED = frozenset({"THROTTLING", "ThrottlingException", "TooManyRequestsException"})


class Observer:
    """Metrics (optional), failure logs and event bus logs of one server."""

    def __init__(
        self, metrics: Metrics | None = None, buslogs: BusLogs | None = None, failures: FailureLog | None = None
    ) -> None:
        self.metrics = metrics
        self.buslogs = buslogs
        self.failures = failures or FailureLog()
        self.history = History(metrics) if metrics is not None else None
        self._names: dict[str, str] = {}  # bus store key -> bus name
        self._throttled: set[int] = set()  # deliveries counted as throttled, until their attempt ends

    @classmethod
    def for_server(cls, settings: Settings, store: Store) -> Observer:
        """The observer of a server: metrics unless ``--metrics off``; bus logs kept by its store."""
        metrics = Metrics() if settings.metrics else None
        if metrics is not None:
            metrics.watch_store(store)
        buslogs = BusLogs()
        return cls(metrics, buslogs, FailureLog(settings.failure_log_burst, settings.failure_log_per_minute))

    async def start(self, store: Store) -> None:
        if self.buslogs is not None:
            self.buslogs.follow(store)
            await self.buslogs.start()
        if self.history is not None:
            await self.history.start()

    async def stop(self) -> None:
        if self.history is not None:
            await self.history.stop()
        if self.buslogs is not None:
            await self.buslogs.stop()

    # -- PutEvents -----------------------------------------------------------------
    @_never_raises
    def put_events(
        self,
        scope: Scope,
        entries: Sequence[dict[str, Any]],
        results: Sequence[dict[str, str]] | None,
        started: float,
    ) -> None:
        """A PutEvents request was answered (*results* per entry; None: refused as a whole)
        *started* ``time.perf_counter()`` seconds ago."""
        metrics, logs = self.metrics, self._logs()
        if metrics is None and logs is None:
            return
        elapsed = time.perf_counter() - started
        buses: dict[str, bool] = {}  # what each entry names -> every entry of the request for it accepted
        for index, entry in enumerate(entries):
            given = entry.get("EventBusName") or "default"
            result = results[index] if results is not None else None
            if result is None or "EventId" not in result:
                buses[UNKNOWN_BUS if result and result["ErrorCode"] == "ResourceNotFoundException" else given] = False
            elif given not in buses:
                buses[given] = True
            if logs is not None:
                key = _bus_of(given, scope)[1]
                if logs.logs(key):
                    self._ingest_records(logs, key, scope, entry, result)
        if metrics is not None:
            if len(buses) > 1:  # a bus named twice, by its name and by its ARN, is one bus
                named: dict[str, bool] = {}
                for given, ok in buses.items():
                    name = self._given_name(given, scope)
                    named[name] = named.get(name, True) and ok
                buses = named
            for given, ok in buses.items():
                series = metrics.bus(self._given_name(given, scope))
                series.calls += 1
                if ok:
                    series.successes += 1
                else:
                    series.failures += 1
                series.latency.observe(elapsed)

    def _ingest_records(
        self, logs: BusLogs, key: str, scope: Scope, entry: dict[str, Any], result: dict[str, str] | None
    ) -> None:
        when = entry.get("Time")
        details = {
            "caller_account_id": scope.account,
            "source_time_ms": int((when if isinstance(when, int | float) else time.time()) * 1000),
            "source": entry.get("Source"),
            "detail_type": entry.get("DetailType"),
            "resources": entry.get("Resources") or [],
            "event_detail": entry.get("Detail"),
        }
        event_id = (result or {}).get("EventId", "")
        logs.emit(key, "EVENT_RECEIPT", event_id, details)
        if event_id:
            logs.emit(key, "EVENT_INGEST_SUCCESS", event_id, details)
        else:
            error = {
                "error_code": (result or {}).get("ErrorCode", "ValidationException"),
                "error_message": (result or {}).get("ErrorMessage", "The request was refused."),
            }
            logs.emit(key, "EVENT_INGEST_FAILURE", event_id, details, error=error)

    # -- routing -------------------------------------------------------------------
    @_never_raises
    def routed(self, events: Sequence[StoredEvent], deliveries: Sequence[NewDelivery], ids: Sequence[int]) -> None:
        """The router matched *events* and recorded *deliveries* (with store *ids*)."""
        metrics, logs = self.metrics, self._logs()
        if metrics is not None:
            for event in events:
                metrics.bus(self._name(event.bus)).events += 1
            last: tuple[str, str, str] | None = None
            for delivery in deliveries:
                match = (delivery.bus, delivery.event_id, delivery.rule_name)
                if match != last:  # the deliveries of one match are side by side
                    last = match
                    series = metrics.rule(self._name(delivery.bus), delivery.rule_name)
                    series.matched += 1
                    series.triggered += 1
        if logs is not None and any(logs.logs(event.bus) for event in events):
            self._routing_records(logs, events, deliveries, ids)

    def _routing_records(
        self, logs: BusLogs, events: Sequence[StoredEvent], deliveries: Sequence[NewDelivery], ids: Sequence[int]
    ) -> None:
        found: dict[tuple[str, str], dict[str, tuple[str, list[str], list[str]]]] = {}
        for delivery, delivery_id in zip(deliveries, ids, strict=False):
            rules = found.setdefault((delivery.bus, delivery.event_id), {})
            _, targets, invocations = rules.setdefault(delivery.rule_name, (delivery.rule_arn, [], []))
            targets.append(str(delivery.target["Arn"]))
            invocations.append(str(delivery_id))
        for event in events:
            if not logs.logs(event.bus):
                continue
            if logs.wants(event.bus, "RULE_MATCH_START"):
                logs.emit(event.bus, "RULE_MATCH_START", event.event_id, _event_details(event))
            matched = found.get((event.bus, event.event_id))
            if not matched:
                logs.emit(event.bus, "NO_STANDARD_RULES_MATCHED", event.event_id, {})
                continue
            for rule_arn, targets, invocations in matched.values():
                details = {"rule_arn": rule_arn, "target_arns": targets, "invocation_ids": invocations}
                logs.emit(event.bus, "RULE_MATCH", event.event_id, details)

    # -- delivery ------------------------------------------------------------------
    @_never_raises
    def throttled(self, delivery: DeliveryLike) -> None:
        """*delivery* waits for its target's invocation rate (counted once per delivery)."""
        if delivery.id in self._throttled:
            return
        self._throttled.add(delivery.id)
        if self.metrics is not None:
            self._rule(delivery).throttled += 1
        logs = self._logs()
        if logs is not None and logs.logs(delivery.bus):
            details = _invocation(delivery, attempt_count=delivery.attempts + 1)
            invocation = str(delivery.id)
            logs.emit(delivery.bus, "INVOCATION_THROTTLE_START", delivery.event_id, details, invocation_id=invocation)

    @_never_raises
    def succeeded(self, delivery: DeliveryLike, started: float | None = None) -> None:
        """An attempt begun at *started* (epoch seconds) invoked the target."""
        now = time.time()
        started = now if started is None else started
        self._end(delivery)
        if self.metrics is not None:
            series = self._attempted(delivery, started)
            series.successful += 1
            series.invocations += 1
            series.success_latency.observe(max(0.0, now - delivery.ingested_at))
        logs = self._logs()
        if logs is not None and logs.logs(delivery.bus):
            self._attempt_records(logs, delivery, started, now, "INVOCATION_ATTEMPT_SUCCESS", "SUCCESS")
            self._final_record(logs, delivery, started, now, "INVOCATION_SUCCESS", "SUCCESS", None)

    @_never_raises
    def retrying(
        self, delivery: DeliveryLike, outcome: OutcomeLike, attempts: int, due_at: float, started: float | None = None
    ) -> None:
        """Attempt number *attempts* failed; it is tried again at *due_at*."""
        now = time.time()
        started = now if started is None else started
        self._end(delivery)
        if self.metrics is not None:
            self._attempted(delivery, started)
        self.failures.attempt_failed(delivery, outcome, attempts, due_at)
        logs = self._logs()
        if logs is not None and logs.logs(delivery.bus):
            step, status = (
                ("INVOCATION_ATTEMPT_THROTTLE", "THROTTLED")
                if outcome.error_code in _THROTTLED
                else ("INVOCATION_ATTEMPT_RETRYABLE_FAILURE", "RETRYABLE_FAILURE")
            )
            self._attempt_records(logs, delivery, started, now, step, status, _error(outcome))

    @_never_raises
    def dead_lettered(
        self,
        delivery: DeliveryLike,
        outcome: OutcomeLike,
        attempts: int,
        condition: str | None,
        started: float | None = None,
        *,
        dlq: str | None = None,
        sent: bool = False,
    ) -> None:
        """The delivery was given up after *attempts* attempts; with a DeadLetterConfig
        (*dlq*), whether the dead letter reached it."""
        now = time.time()
        started = now if started is None else started
        self._end(delivery)
        invoked = outcome.error_code not in NOT_INVOKED
        if self.metrics is not None:
            series = self._attempted(delivery, started) if invoked else self._rule(delivery)
            if invoked:
                series.invocations += 1
                series.failed += 1
            else:
                series.dead_letter += 1
            if dlq:
                if sent:
                    series.sent_to_dlq += 1
                else:
                    series.failed_to_dlq += 1
        self.failures.dead_lettered(delivery, outcome, attempts, condition, "bus" if sent else "store")
        logs = self._logs()
        if logs is not None and logs.logs(delivery.bus):
            error = _error(outcome)
            if invoked:
                status = "RETRYABLE_FAILURE" if outcome.retryable else "PERMANENT_FAILURE"
                self._attempt_records(logs, delivery, started, now, f"INVOCATION_ATTEMPT_{status}", status, error)
            self._final_record(logs, delivery, started, now, "INVOCATION_FAILURE", "FAILURE", error)
            if sent:
                self._final_record(logs, delivery, started, now, "INVOCATION_DLQ", "DLQ", error)

    # -- gauges read when scraped ----------------------------------------------------
    def gauge(self, name: str, help_text: str, read: Any) -> None:
        """Report ``busbar_<name>``, read by calling *read* at each scrape (no-op with metrics off)."""
        if self.metrics is not None:
            self.metrics.watch(name, help_text, read)

    # -- helpers -------------------------------------------------------------------
    def _logs(self) -> BusLogs | None:
        logs = self.buslogs
        return logs if logs is not None and logs.active else None

    def _given_name(self, given: str, scope: Scope) -> str:
        """The name of the bus an entry's EventBusName (a name or an ARN) names."""
        return given if given == UNKNOWN_BUS or not given.startswith("arn:") else _bus_of(given, scope)[0]

    def _name(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = name_of_key(key)
        return name

    def _rule(self, delivery: DeliveryLike) -> RuleSeries:
        assert self.metrics is not None
        return self.metrics.rule(self._name(delivery.bus), delivery.rule_name)

    def _attempted(self, delivery: DeliveryLike, started: float) -> RuleSeries:
        """Count an attempt that invoked (or tried to invoke) the target."""
        series = self._rule(delivery)
        series.attempts += 1
        if delivery.attempts:
            series.retries += 1
        else:
            series.start_latency.observe(max(0.0, started - delivery.ingested_at))
        return series

    def _end(self, delivery: DeliveryLike) -> None:
        if self._throttled:
            self._throttled.discard(delivery.id)

    def _attempt_records(
        self,
        logs: BusLogs,
        delivery: DeliveryLike,
        started: float,
        now: float,
        step: str,
        status: str,
        error: dict[str, Any] | None = None,
    ) -> None:
        attempt = delivery.attempts + 1
        invocation = str(delivery.id)
        if delivery.attempts == 0 and logs.wants(delivery.bus, "INVOCATION_START"):
            start = _invocation(delivery, attempt_count=attempt)
            logs.emit(delivery.bus, "INVOCATION_START", delivery.event_id, start, invocation_id=invocation, at=started)
        if logs.wants(delivery.bus, "INVOCATION_ATTEMPT_START"):
            start = _invocation(delivery, attempt_count=attempt)
            logs.emit(
                delivery.bus, "INVOCATION_ATTEMPT_START", delivery.event_id, start, invocation_id=invocation, at=started
            )
        details = {
            "rule_arn": delivery.rule_arn,
            "role_arn": delivery.target.get("RoleArn"),
            "target_arn": delivery.target.get("Arn"),
            "attempt_type": "FIRST" if delivery.attempts == 0 else ("THROTTLE" if status == "THROTTLED" else "RETRY"),
            "attempt_count": attempt,
            "invocation_status": status,
            "target_duration_ms": int((now - started) * 1000),
        }
        logs.emit(delivery.bus, step, delivery.event_id, _present(details), invocation_id=invocation, error=error)

    def _final_record(
        self,
        logs: BusLogs,
        delivery: DeliveryLike,
        started: float,
        now: float,
        step: str,
        status: str,
        error: dict[str, Any] | None,
    ) -> None:
        details = _invocation(
            delivery,
            total_attempts=delivery.attempts + 1,
            final_invocation_status=status,
            ingestion_to_complete_latency_ms=int((now - delivery.ingested_at) * 1000),
            target_duration_ms=int((now - started) * 1000),
        )
        if delivery.attempts == 0:
            details["ingestion_to_start_latency_ms"] = int((started - delivery.ingested_at) * 1000)
        if status == "SUCCESS":
            details["ingestion_to_success_latency_ms"] = int((now - delivery.ingested_at) * 1000)
        logs.emit(delivery.bus, step, delivery.event_id, details, invocation_id=str(delivery.id), error=error)


def _bus_of(given: str, scope: Scope) -> tuple[str, str]:
    """(name, store key) of the bus a PutEvents entry names (by name or ARN)."""
    if given.startswith("arn:"):
        parts = parse_events(given, "event-bus")
        if parts is not None:
            return parts.name, bus_key(Scope(parts.account, parts.region), parts.name)
    return given, bus_key(scope, given)


def _event_details(event: StoredEvent) -> dict[str, Any]:
    try:
        envelope = orjson.loads(event.envelope)
    except orjson.JSONDecodeError:
        envelope = {}
    return {
        "caller_account_id": envelope.get("account"),
        "source_time_ms": int(event.time * 1000),
        "source": envelope.get("source"),
        "detail_type": envelope.get("detail-type"),
        "resources": envelope.get("resources") or [],
        "event_detail": orjson.dumps(envelope.get("detail")).decode(),
    }


def _invocation(delivery: DeliveryLike, **more: Any) -> dict[str, Any]:
    """The details of an invocation record (the input and properties only with IncludeDetail FULL)."""
    target = delivery.target
    properties = {k: v for k, v in target.items() if k not in ("Id", "Arn", "RoleArn")}
    details = {
        "rule_arn": delivery.rule_arn,
        "role_arn": target.get("RoleArn"),
        "target_arn": target.get("Arn"),
        "target_input": delivery.payload.decode("utf-8", "replace"),
        "target_properties": orjson.dumps(properties).decode() if properties else None,
        **more,
    }
    return _present(details)


def _present(details: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in details.items() if value is not None}


def _error(outcome: OutcomeLike) -> dict[str, Any]:
    return {"error_code": outcome.error_code, "error_message": outcome.error_message}
