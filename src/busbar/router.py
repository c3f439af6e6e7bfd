"""The router: stored events -> matched rules -> recorded deliveries.

It consumes the event log (:meth:`Store.next_events`: events nobody has routed yet;
with several nodes each event goes to one of them), matches each event against the
compiled rules of its bus, shapes the input of every target of every matching rule,
and records all those deliveries in the same step that marks the events routed.
Only then does the dispatcher get them.  A crash before that step routes the
events again; after it, the deliveries are in the store: nothing is lost.

Bus-to-bus forwards are bounded twice: an event that has crossed ``MAX_HOPS`` buses
is not forwarded again (see :mod:`busbar.delivery.bus`), and the events that may
descend from one event through forwards are bounded by a *budget*
(``--max-event-descendants``): an event forwarded to n buses shares what is left of
its budget between its n copies, and copies beyond the budget are dead-lettered
(``LoopDetected``).  Rules that route round a loop of buses stop after at most that
many events, whatever the fan-out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson

from busbar.delivery.dispatcher import Dispatcher, delivery_of
from busbar.observe import Observer
from busbar.ruleindex import CompiledRule, RuleIndex
from busbar.store.base import NewDelivery, Store, StoredEvent
from busbar.tasks import cancel_and_wait
from busbar.transform import InputRenderError

log = logging.getLogger("busbar.router")

# Events read per step: large enough to amortize a commit, small enough to keep latency low.
BATCH = 500
DEFAULT_DESCENDANTS = 100


class Router:
    """Consumes the event log for the dispatcher."""

    def __init__(
        self,
        store: Store,
        rules: RuleIndex,
        dispatcher: Dispatcher,
        max_descendants: int = DEFAULT_DESCENDANTS,
        observer: Observer | None = None,
    ) -> None:
        self._store = store
        self._observer = observer or Observer()  # busbar.observe: MatchedEvents, TriggeredRules, bus logs
        self._rules = rules
        self._dispatcher = dispatcher
        self._max_descendants = max_descendants
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="busbar-router")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _run(self) -> None:
        handoff = self._store.capabilities.handoff
        while True:
            try:
                events = await self._store.next_events(BATCH, wait=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep routing
                log.exception("reading the event log failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if not events:
                continue
            while True:  # the same events until their deliveries are recorded
                try:
                    found = [d for event in events for d in self._deliveries_of(event)]
                    ids = await self._store.record_deliveries(found, events)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - keep routing; the same events are tried again
                    log.exception("routing failed; retrying", extra={"first_seq": events[0].seq})
                    await asyncio.sleep(1.0)
            self._observer.routed(events, found, ids)  # busbar.observe hook
            if handoff and found:
                await self._dispatcher.submit(delivery_of(d, i) for i, d in zip(ids, found, strict=True))

    def _deliveries_of(self, event: StoredEvent) -> list[NewDelivery]:
        if event.rules is not None:
            return self._deliveries_for_rules(event, event.rules)
        if not self._rules.routes(event.bus):
            return []
        envelope = orjson.loads(event.envelope)  # parsed once, for matching and for shaping
        return self._deliveries_to(event, envelope, self._rules.match(event.bus, envelope))

    def _deliveries_for_rules(self, event: StoredEvent, arns: tuple[str, ...]) -> list[NewDelivery]:
        """An event for some rules only: a schedule tick (``direct``: its rule fires
        whatever its pattern) or a replayed event (matched, then only FilterArns' rules)."""
        envelope = orjson.loads(event.envelope)
        if event.direct:
            found = (self._rules.by_arn(arn) for arn in arns)
            rules = [rule for rule in found if rule is not None and rule.bus == event.bus]
        else:
            wanted = set(arns)
            rules = [rule for rule in self._rules.match(event.bus, envelope) if rule.arn in wanted]
        return self._deliveries_to(event, envelope, rules)

    def _deliveries_to(
        self, event: StoredEvent, envelope: dict[str, Any], rules: list[CompiledRule]
    ) -> list[NewDelivery]:
        if not rules:
            return []
        result = []
        ingestion_time = _ingestion_time(event.ingested_at)
        forwards = sum(rule.forwards for rule in rules)
        budgets = self._budgets(event, forwards) if forwards else None  # only events copied to buses
        for rule in rules:
            for target in rule.targets:
                payload, error = None, None
                if not target.passthrough:
                    try:
                        payload = target.shaping.render(
                            envelope,
                            rule_arn=rule.arn,
                            rule_name=rule.name,
                            ingestion_time=ingestion_time,
                            event_json=event.envelope,
                        )
                    except InputRenderError as failure:
                        # Recorded like any delivery, so it is dead-lettered with its reason, never lost.
                        error = failure.message
                result.append(
                    NewDelivery(
                        event_id=event.event_id,
                        bus=event.bus,
                        rule_name=rule.name,
                        rule_arn=rule.arn,
                        target=target.config,
                        envelope=event.envelope,
                        payload=payload,
                        trace_header=event.trace_header,
                        ingested_at=event.ingested_at,
                        hops=event.hops,
                        shaping_error=error,
                        budget=next(budgets) if budgets is not None and target.forwards else 0,
                    )
                )
        return result

    def _budgets(self, event: StoredEvent, forwards: int) -> Iterator[int]:
        """The budget of each of *forwards* copies of *event* on other buses, in order:
        the copies within the event's budget share what is left of it; the rest get -1
        (not forwarded)."""
        budget = self._max_descendants if event.budget is None else event.budget
        allowed = max(0, min(forwards, budget))
        share = (budget - allowed) // allowed if allowed else 0
        return itertools.chain(itertools.repeat(share, allowed), itertools.repeat(-1))


def _ingestion_time(epoch: float) -> str:
    """``<aws.events.event.ingestion-time>``: ISO 8601 with milliseconds, UTC."""
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1000):03d}Z"
