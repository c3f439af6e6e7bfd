"""The scheduler: rules with a ``ScheduleExpression`` fire at their ticks.

One scheduler runs on every node.  It follows the rules in the store (as the rule
index does), sleeps until the next tick of any enabled scheduled rule, and then
appends that tick's event to the log::

    {"version": "0", "id": ..., "detail-type": "Scheduled Event", "source": "aws.events",
     "account": ..., "time": <the tick>, "region": ..., "resources": [<rule ARN>], "detail": {}}

for that rule only (``rules=(arn,)``, ``direct``: the rule fires whatever its pattern,
as AWS fires a rule that has both), so the router delivers it like any event —
durably, with retries, dead letters and input shaping.

One event per tick: the event's ``dedup_id`` is ``tick/<rule ARN>/<tick>``, so when
several nodes fire the same tick, or one fires it again, the store keeps one.
Ticks missed while no busbar ran are not fired later: like AWS, busbar does not
backfill; after a start the first tick fired is the first one after the start.

``rate(N unit)`` counts from the rule's anchor (when its schedule was set or it was
last enabled, see :mod:`busbar.api.rules`); ``cron(...)`` ticks at its UTC minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from busbar.model.entries import format_time, new_event_ids
from busbar.resources.kinds import DEFAULT_BUS, RULE, bus_key
from busbar.resources.scope import scope_of_key
from busbar.schedules import InvalidScheduleExpression, Schedule, parse_schedule
from busbar.store.base import NewEvent, Store
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.scheduler")

# The longest single sleep: the wall clock may be set while we sleep.
_MAX_SLEEP = 30.0
# How long a tick whose event could not be stored is tried again (then it is missed).
_RETRY_FOR = 30.0


@dataclass
class _Entry:
    """One enabled scheduled rule and its next tick (epoch seconds)."""

    arn: str
    bus: str  # the store key of its bus
    schedule: Schedule
    anchor: float | None
    next_tick: float | None


class Scheduler:
    """Fires the ticks of every enabled scheduled rule in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entries: dict[str, _Entry] = {}  # by rule key
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop_watching: Any = None
        self.fired = 0  # ticks whose event this node appended (for tests and metrics)

    def follow(self) -> None:
        """Read every scheduled rule, then follow the changes of rules in the store."""
        now = time.time()
        for key, rule in self._store.list_resources(RULE):
            self._follow(key, rule, now)
        self._stop_watching = self._store.watch(self._changed)

    async def start(self) -> None:
        self.follow()
        self._task = asyncio.create_task(self._run(), name="busbar-scheduler")

    async def stop(self) -> None:
        if self._stop_watching is not None:
            self._stop_watching()
        if self._task is not None:
            await cancel_and_wait([self._task])

    # -- following the rules -------------------------------------------------------
    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind == RULE:
            self._follow(key, value, time.time())
            self._wake.set()

    def _follow(self, key: str, rule: dict[str, Any] | None, now: float) -> None:
        expression = rule.get("ScheduleExpression") if rule is not None else None
        if rule is None or not expression or rule.get("State") == "DISABLED":
            self._entries.pop(key, None)
            return
        try:
            schedule = parse_schedule(expression)
        except InvalidScheduleExpression:
            log.warning("stored schedule expression is not valid", extra={"rule": rule.get("Arn")})
            self._entries.pop(key, None)
            return
        anchor = rule.get("ScheduleAnchor")
        old = self._entries.get(key)
        if old is not None and old.schedule.expression == expression and old.anchor == anchor:
            return  # the rule changed otherwise (targets, description): its ticks stay as they were
        entry = _Entry(rule["Arn"], bus_key(scope_of_key(key), DEFAULT_BUS), schedule, anchor, None)
        entry.next_tick = self._tick_after(entry, now)
        self._entries[key] = entry

    @staticmethod
    def _tick_after(entry: _Entry, after: float) -> float | None:
        anchor = entry.anchor if entry.anchor is not None else after
        tick = entry.schedule.next_after(after, anchor=anchor)
        return tick.timestamp() if tick is not None else None

    # -- firing --------------------------------------------------------------------
    def next_tick(self, rule_arn: str) -> float | None:
        """When the rule *rule_arn* fires next (epoch seconds), or None."""
        return next((e.next_tick for e in self._entries.values() if e.arn == rule_arn), None)

    async def fire_due(self, now: float) -> int:
        """Fire every tick due at *now*; answer how many."""
        due = [entry for entry in self._entries.values() if entry.next_tick is not None and entry.next_tick <= now]
        for entry in due:
            await self._fire(entry, now)
        return len(due)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            await self.fire_due(time.time())
            ticks = [entry.next_tick for entry in self._entries.values() if entry.next_tick is not None]
            delay = min(_MAX_SLEEP, max(0.0, min(ticks) - time.time())) if ticks else _MAX_SLEEP
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def _fire(self, entry: _Entry, now: float) -> None:
        tick = entry.next_tick
        assert tick is not None
        # After a stall (a suspended machine) the ticks missed meanwhile are not fired.
        entry.next_tick = self._tick_after(entry, max(tick, now))
        event = self._event(entry, tick)
        deadline = time.time() + _RETRY_FOR
        while True:
            try:
                await self._store.append_events([event])
                self.fired += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the store may come back; the dedup id keeps it one event
                if time.time() >= deadline:
                    log.exception("a schedule tick could not be stored; it is missed", extra={"rule": entry.arn})
                    return
                log.warning("a schedule tick could not be stored; trying again", extra={"rule": entry.arn})
                await asyncio.sleep(1.0)

    @staticmethod
    def _event(entry: _Entry, tick: float) -> NewEvent:
        scope = scope_of_key(entry.bus)
        event_id = new_event_ids(1)[0]
        envelope = {
            "version": "0",
            "id": event_id,
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": scope.account,
            "time": format_time(tick),
            "region": scope.region,
            "resources": [entry.arn],
            "detail": {},
        }
        return NewEvent(
            event_id=event_id,
            bus=entry.bus,
            envelope=orjson.dumps(envelope),
            time=tick,
            ingested_at=time.time(),
            dedup_id=f"tick/{entry.arn}/{int(tick)}",
            rules=(entry.arn,),
            direct=True,
        )
