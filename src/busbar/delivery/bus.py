"""Event-bus targets: the event is put on another bus of the same busbar, where
that bus's rules match it like any event put there.

The event keeps its id.  Each forward counts a hop; an event that has crossed
``MAX_HOPS`` buses is not forwarded again, and a copy beyond its event's budget of
descendants (see :mod:`busbar.router`) is not forwarded either, so rules that send
events round a loop of buses cannot make busbar spin, however wide they fan out.
A forward sent twice (a crash between the append and its record) is stored once.
"""

from __future__ import annotations

import time

from busbar.delivery.base import Delivery, Outcome
from busbar.resources.lookup import find_bus_by_arn
from busbar.store.base import NewEvent, Store

MAX_HOPS = 5


class BusSender:
    """Delivers to event buses by appending to the event log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def send(self, delivery: Delivery) -> Outcome:
        found = find_bus_by_arn(self._store, delivery.target["Arn"])
        if found is None:
            name = delivery.to.name if delivery.to is not None else delivery.target["Arn"]
            return Outcome.fail("ResourceNotFoundException", f"Event bus {name} does not exist.")
        bus = found[0]
        hops = delivery.hops
        if delivery.budget < 0:
            return Outcome.fail(
                "LoopDetected",
                "The event has as many descendants as --max-event-descendants allows; it is not forwarded again.",
            )
        if hops >= MAX_HOPS:
            return Outcome.fail(
                "LoopDetected", f"The event has already crossed {MAX_HOPS} event buses; it is not forwarded again."
            )
        now = time.time()
        await self._store.append_events(
            [
                NewEvent(
                    event_id=delivery.event_id,
                    bus=bus,
                    envelope=delivery.envelope,
                    time=now,
                    ingested_at=now,
                    trace_header=delivery.trace_header,
                    hops=hops + 1,
                    budget=delivery.budget,
                    dedup_id=f"forward/{delivery.id}",
                )
            ]
        )
        return Outcome.success()

    async def close(self) -> None:
        pass
