"""Event bus logging, as EventBridge has it since 2025: a bus's ``LogConfig``
(``CreateEventBus``/``UpdateEventBus``) makes busbar write a record for each step of
each event's way through the bus.

``Level`` chooses the steps: ``OFF`` (the default) none; ``ERROR`` failures only;
``INFO`` failures and the outcome of each step; ``TRACE`` every step.
``IncludeDetail``: ``FULL`` adds the event's detail and each target's input;
``NONE`` (the default) leaves them out.

Records follow AWS's event bus log schema (``resource_arn``, ``event_id``,
``invocation_id``, ``message_timestamp_ms``, ``message_type``, ``log_level``,
``details``, ``error``) and go, one JSON object per line, to the local log group
``/aws/vendedlogs/events/event-bus/<bus>`` (AWS's conventional name for a bus's
vended logs), kept by the store like every log group (the embedded store:
``<data-dir>/log-groups/%2Faws%2Fvendedlogs%2Fevents%2Fevent-bus%2F<bus>.jsonl``; NATS: its
log stream, one place for every node).  ``busbar bus-logs BUS`` prints them and the
console shows them.  Nothing is
written for a bus whose level is ``OFF``, and that costs the hot path one
dictionary lookup.

Levels of the steps (AWS documents them in a diagram; busbar's reading of it):

* ``ERROR``: EVENT_INGEST_FAILURE, INVOCATION_ATTEMPT_RETRYABLE_FAILURE,
  INVOCATION_ATTEMPT_PERMANENT_FAILURE, INVOCATION_ATTEMPT_THROTTLE, INVOCATION_FAILURE,
  INVOCATION_DLQ;
* ``INFO``: EVENT_INGEST_SUCCESS, NO_STANDARD_RULES_MATCHED, RULE_MATCH, INVOCATION_SUCCESS;
* ``TRACE``: EVENT_RECEIPT, RULE_MATCH_START, INVOCATION_START, INVOCATION_ATTEMPT_START,
  INVOCATION_ATTEMPT_SUCCESS, INVOCATION_THROTTLE_START.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from busbar.resources.kinds import BUS
from busbar.resources.loggroups import log_group_key
from busbar.resources.scope import name_of_key, scope_of_key
from busbar.store.base import LogLine, Store, Unavailable
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.buslogs")

LEVELS = {"OFF": 0, "ERROR": 1, "INFO": 2, "TRACE": 3}
STEP_LEVELS = {
    "EVENT_INGEST_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_RETRYABLE_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_PERMANENT_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_THROTTLE": "ERROR",
    "INVOCATION_FAILURE": "ERROR",
    "INVOCATION_DLQ": "ERROR",
    "EVENT_INGEST_SUCCESS": "INFO",
    "NO_STANDARD_RULES_MATCHED": "INFO",
    "RULE_MATCH": "INFO",
    "INVOCATION_SUCCESS": "INFO",
    "EVENT_RECEIPT": "TRACE",
    "RULE_MATCH_START": "TRACE",
    "INVOCATION_START": "TRACE",
    "INVOCATION_ATTEMPT_START": "TRACE",
    "INVOCATION_ATTEMPT_SUCCESS": "TRACE",
    "INVOCATION_THROTTLE_START": "TRACE",
}
# Detail fields written only with IncludeDetail FULL.
DETAIL_FIELDS = ("event_detail", "target_input", "target_properties", "target_response_body")

# Lines are written in batches, off the event loop, this often.
_FLUSH_EVERY = 0.2


def log_group_name(bus_name: str) -> str:
    """The log group a bus's records go to."""
    return f"/aws/vendedlogs/events/event-bus/{bus_name}"


def bus_log_group(bus_key: str) -> str:
    """The store's name (``account/region/name``) of the log group of the bus whose store
    key is *bus_key*."""
    return log_group_key(log_group_name(name_of_key(bus_key)), scope_of_key(bus_key))


@dataclass(frozen=True, slots=True)
class _Config:
    rank: int
    full: bool
    arn: str
    name: str
    group: str  # the store's name of its log group


class BusLogs:
    """Writes the records of every bus whose ``LogConfig`` asks for them."""

    def __init__(self) -> None:
        self._store: Store | None = None
        self._configs: dict[str, _Config] = {}  # only buses that log
        self._pending: list[tuple[str, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # -- configuration -------------------------------------------------------------
    def follow(self, store: Store) -> None:
        """Read every bus's LogConfig, then follow their changes; records go to *store*."""
        self._store = store
        for key, bus in store.list_resources(BUS):
            self._configure(key, bus)
        store.watch(self._changed)

    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind == BUS:
            self._configure(key, value)

    def _configure(self, key: str, bus: dict[str, Any] | None) -> None:
        config = (bus or {}).get("LogConfig") or {}
        rank = LEVELS.get(str(config.get("Level", "OFF")), 0)
        if bus is None or rank == 0:
            self._configs.pop(key, None)
            return
        self._configs[key] = _Config(
            rank,
            config.get("IncludeDetail") == "FULL",
            bus["Arn"],
            bus["Name"],
            bus_log_group(key),
        )

    @property
    def active(self) -> bool:
        """Whether any bus writes records."""
        return bool(self._configs)

    def logs(self, bus_key: str) -> bool:
        """Whether the bus writes any record (its level is not OFF)."""
        return bus_key in self._configs

    def wants(self, bus_key: str, step: str) -> bool:
        """Whether the bus writes records of *step*."""
        config = self._configs.get(bus_key)
        return config is not None and config.rank >= LEVELS[STEP_LEVELS[step]]

    # -- records -------------------------------------------------------------------
    def emit(
        self,
        bus_key: str,
        step: str,
        event_id: str,
        details: dict[str, Any],
        *,
        invocation_id: str | None = None,
        error: dict[str, Any] | None = None,
        request_id: str | None = None,
        at: float | None = None,
    ) -> None:
        """Write a record of *step* for the bus, if its level asks for that step."""
        config = self._configs.get(bus_key)
        level = STEP_LEVELS[step]
        if config is None or config.rank < LEVELS[level]:
            return
        if not config.full:
            details = {key: value for key, value in details.items() if key not in DETAIL_FIELDS}
        record: dict[str, Any] = {
            "resource_arn": config.arn,
            "event_bus_name": config.name,
            "request_id": request_id,
            "event_id": event_id,
            "invocation_id": invocation_id,
            "message_timestamp_ms": int((at if at is not None else time.time()) * 1000),
            "message_type": step,
            "log_level": level,
            "details": details,
        }
        if error is not None:
            record["error"] = error
        self._pending.append((config.group, orjson.dumps({k: v for k, v in record.items() if v is not None})))
        if self._wake is not None and len(self._pending) == 1:
            self._wake.set()

    # -- writing -------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="busbar-bus-logs")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        await self.flush()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(_FLUSH_EVERY)  # gather what comes next into the same write
            await self.flush()

    async def flush(self) -> None:
        """Write every record emitted so far."""
        if not self._pending or self._store is None:
            return
        batch, self._pending = self._pending, []
        by_group: dict[str, list[bytes]] = {}
        for group, line in batch:
            by_group.setdefault(group, []).append(line)
        for group, lines in by_group.items():
            try:
                await self._store.append_log_lines(group, lines)
            except (OSError, Unavailable) as error:
                log.warning(
                    "event bus log records could not be written", extra={"count": len(lines), "error": str(error)}
                )


def records_of(lines: Iterable[LogLine]) -> list[dict[str, Any]]:
    """The records in log lines read from a bus's log group (a line that is not one is skipped)."""
    return list(_parse(b"\n".join(line.line for line in lines)))


def _parse(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
