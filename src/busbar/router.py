"""The router: committed events -> matched rules -> recorded deliveries.

It reads the event log in order after its acknowledged position, matches each
event against the compiled rules of its bus, shapes the input of every target of
every matching rule, and records all those deliveries in the same transaction
that acknowledges the events.  Only then does it hand them to the dispatcher.
A crash before that commit re-reads the events; after it, the deliveries are in
the store: nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from busbar.delivery.dispatcher import Dispatcher, delivery_of
from busbar.ruleindex import RuleIndex
from busbar.store.base import NewDelivery, Store, StoredEvent
from busbar.transform import InputRenderError

log = logging.getLogger("busbar.router")

CONSUMER = "router"
# Events read per step: large enough to amortize a commit, small enough to keep latency low.
BATCH = 500


class Router:
    """Consumes the event log for the dispatcher."""

    def __init__(self, store: Store, rules: RuleIndex, dispatcher: Dispatcher) -> None:
        self._store = store
        self._rules = rules
        self._dispatcher = dispatcher
        self._task: asyncio.Task[None] | None = None
        self.position = 0

    async def start(self) -> None:
        self.position = self._store.position(CONSUMER)
        self._task = asyncio.create_task(self._run(), name="busbar-router")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                events = self._store.read_events(self.position, BATCH)
                if not events:
                    await self._store.wait_for_events(self.position, timeout=1.0)
                    continue
                await self._route(events)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep routing; the same events are tried again
                log.exception("routing failed; retrying", extra={"position": self.position})
                await asyncio.sleep(1.0)

    async def _route(self, events: list[StoredEvent]) -> None:
        found: list[NewDelivery] = []
        for event in events:
            found.extend(self._deliveries_of(event))
        ids = await self._store.record_deliveries(found, CONSUMER, events[-1].seq)
        self.position = events[-1].seq
        self._dispatcher.submit(delivery_of(d, i) for i, d in zip(ids, found, strict=True))

    def _deliveries_of(self, event: StoredEvent) -> list[NewDelivery]:
        if not self._rules.routes(event.bus):
            return []
        envelope = orjson.loads(event.envelope)  # parsed once, for matching and for shaping
        rules = self._rules.match(event.bus, envelope)
        if not rules:
            return []
        result = []
        ingestion_time = _ingestion_time(event.ingested_at)
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
                    )
                )
        return result


def _ingestion_time(epoch: float) -> str:
    """``<aws.events.event.ingestion-time>``: ISO 8601 with milliseconds, UTC."""
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1000):03d}Z"
