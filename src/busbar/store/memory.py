"""A store in memory: every part of the interface, nothing durable.

For tests of the code above the store (the router, the dispatcher, the API) without
a file, and as the reference the store conformance tests hold every backend to.
With ``handoff=False`` it hands out deliveries only through :meth:`take`, as a
cluster backend does, so the dispatcher's other path is tested too.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import itertools
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from busbar.store.base import (
    AlreadyExists,
    ArchivedEvent,
    ArchiveStats,
    Capabilities,
    ChangeListener,
    Conflict,
    LaneListener,
    LogLine,
    NewArchivedEvent,
    NewDelivery,
    NewEvent,
    NotFound,
    Store,
    StoredDelivery,
    StoredEvent,
    Versioned,
)


class MemoryStore(Store):
    """A :class:`Store` in this process's memory."""

    def __init__(self, handoff: bool = True) -> None:
        self._handoff = handoff
        self._resources: dict[str, dict[str, Versioned]] = {}
        self._listeners: list[ChangeListener] = []
        self._lane_listeners: list[LaneListener] = []
        self._events: list[StoredEvent] = []
        self._dedup: set[str] = set()
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._cursor = 0  # the last event handed to the router
        self._position = 0  # the last event whose deliveries are recorded
        self._appended = asyncio.Event()
        self._deliveries: dict[int, StoredDelivery] = {}
        self._ids = itertools.count(1)
        self._leased: set[int] = set()
        self._log_groups: dict[str, list[bytes]] = {}
        self._archives: dict[str, list[ArchivedEvent]] = {}
        self._archive_dedup: dict[str, set[str]] = {}
        self._positions = itertools.count(1)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(handoff=self._handoff)

    async def start(self) -> None:
        self._appended = asyncio.Event()

    async def close(self) -> None:
        pass

    # -- resources -----------------------------------------------------------------
    def get_versioned(self, kind: str, key: str) -> Versioned | None:
        return self._resources.get(kind, {}).get(key)

    def get_resource(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._resources.get(kind, {}).get(key)  # read on every delivery: no detour
        return found.value if found is not None else None

    def list_resources(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        return sorted(
            (key, found.value) for key, found in self._resources.get(kind, {}).items() if key.startswith(prefix)
        )

    async def create_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        await asyncio.sleep(0)  # a write yields, as a real one does
        if key in self._resources.get(kind, {}):
            raise AlreadyExists(f"{kind} {key}")
        return self._write(kind, key, value, 1)

    async def update_resource(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        await asyncio.sleep(0)
        current = self._resources.get(kind, {}).get(key)
        if current is None:
            raise NotFound(f"{kind} {key}")
        if current.revision != revision:
            raise Conflict(f"{kind} {key}")
        return self._write(kind, key, value, revision + 1)

    async def put_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        await asyncio.sleep(0)
        current = self._resources.get(kind, {}).get(key)
        return self._write(kind, key, value, current.revision + 1 if current else 1)

    async def delete_resource(self, kind: str, key: str, revision: int | None = None) -> bool:
        await asyncio.sleep(0)
        current = self._resources.get(kind, {}).get(key)
        if current is None:
            return False
        if revision is not None and current.revision != revision:
            raise Conflict(f"{kind} {key}")
        del self._resources[kind][key]
        self._tell(kind, key, None)
        return True

    def _write(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        # A copy, as a real store serialises: later changes to the caller's dict are not stored.
        self._resources.setdefault(kind, {})[key] = Versioned(copy.deepcopy(value), revision)
        self._tell(kind, key, value)
        return revision

    def _tell(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        for listener in list(self._listeners):
            listener(kind, key, value)

    def watch(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- event log -----------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> None:
        await asyncio.sleep(0)
        self._append(events)

    def _append(self, events: Sequence[NewEvent]) -> None:
        for event in events:
            if event.dedup_id is not None:
                if event.dedup_id in self._dedup:
                    continue
                self._dedup.add(event.dedup_id)
            seq = next(self._seq)
            self._events.append(
                StoredEvent(
                    seq,
                    event.event_id,
                    event.bus,
                    event.envelope,
                    event.time,
                    event.ingested_at,
                    event.trace_header,
                    event.hops,
                    event.budget,
                    event.rules,
                    event.direct,
                )
            )
            self._last_seq = seq
        appended, self._appended = self._appended, asyncio.Event()
        appended.set()

    async def next_events(self, limit: int, wait: float) -> list[StoredEvent]:
        if self._last_seq <= self._cursor:
            try:
                await asyncio.wait_for(self._appended.wait(), wait)
            except TimeoutError:
                return []
        events = self.read_events(self._cursor, limit)
        if events:
            self._cursor = events[-1].seq
        return events

    async def record_deliveries(self, deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
        await asyncio.sleep(0)
        now = time.time()
        ids = []
        for new in deliveries:
            ids.append(self._add_delivery(new, now))
        self._position = max([self._position, *(event.seq for event in routed)])
        if self._handoff:
            self._leased.update(ids)
        elif deliveries:
            self._lanes_changed({d.lane for d in deliveries})
        return ids

    def _add_delivery(self, new: NewDelivery, now: float) -> int:
        """Keep *new* pending, due *now*; answer its id."""
        delivery_id = next(self._ids)
        self._deliveries[delivery_id] = StoredDelivery(
            id=delivery_id,
            event_id=new.event_id,
            bus=new.bus,
            rule_name=new.rule_name,
            rule_arn=new.rule_arn,
            target=new.target,
            envelope=new.envelope,
            payload=new.payload,
            trace_header=new.trace_header,
            ingested_at=new.ingested_at,
            hops=new.hops,
            attempts=0,
            due_at=now,
            state="pending",
            error_code=None,
            error_message=None,
            shaping_error=new.shaping_error,
            budget=new.budget,
        )
        return delivery_id

    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        start = bisect.bisect_right([event.seq for event in self._events], after_seq)
        return self._events[start : start + limit]

    async def prune_events(self, ingested_before: float, limit: int = 10_000) -> int:
        kept, pruned = [], 0
        for event in self._events:
            if pruned < limit and event.seq <= self._position and event.ingested_at < ingested_before:
                pruned += 1
            else:
                kept.append(event)
        self._events = kept
        return pruned

    def last_seq(self) -> int:
        return self._last_seq

    def unrouted(self) -> int:
        return max(0, self._last_seq - self._position)

    # -- archives ------------------------------------------------------------------
    async def archive_events(self, archive: str, events: Sequence[NewArchivedEvent]) -> None:
        await asyncio.sleep(0)
        now = time.time()
        kept = self._archives.setdefault(archive, [])
        seen = self._archive_dedup.setdefault(archive, set())
        for event in events:
            if event.dedup_id is not None:
                if event.dedup_id in seen:
                    continue
                seen.add(event.dedup_id)
            kept.append(ArchivedEvent(next(self._positions), event.event_id, event.time, now, event.envelope))

    def _archived(self, archive: str, start: float, end: float) -> list[ArchivedEvent]:
        found = [e for e in self._archives.get(archive, []) if start <= e.time < end]
        return sorted(found, key=lambda e: e.cursor)

    async def read_archive(
        self, archive: str, start: float, end: float, after: tuple[float, int] | None = None, limit: int = 500
    ) -> list[ArchivedEvent]:
        found = self._archived(archive, start, end)
        if after is not None:
            found = [e for e in found if e.cursor > after]
        return found[:limit]

    async def archive_stats(self, archive: str, start: float | None = None, end: float | None = None) -> ArchiveStats:
        found = self._archived(archive, float("-inf") if start is None else start, float("inf") if end is None else end)
        return ArchiveStats(len(found), sum(len(e.envelope) for e in found))

    async def prune_archive(self, archive: str, archived_before: float, limit: int = 10_000) -> int:
        await asyncio.sleep(0)
        kept, pruned = [], 0
        for event in self._archives.get(archive, []):
            if pruned < limit and event.archived_at < archived_before:
                pruned += 1
            else:
                kept.append(event)
        self._archives[archive] = kept
        return pruned

    async def drop_archive(self, archive: str) -> None:
        await asyncio.sleep(0)
        self._archives.pop(archive, None)
        self._archive_dedup.pop(archive, None)

    # -- deliveries ----------------------------------------------------------------
    def lanes_with_work(self) -> set[str]:
        return {d.lane for d in self._deliveries.values() if d.state == "pending"}

    def on_lane_work(self, listener: LaneListener) -> None:
        self._lane_listeners.append(listener)

    def _lanes_changed(self, lanes: AbstractSet[str]) -> None:
        for listener in self._lane_listeners:
            listener(lanes)

    def _unleased(self, lane: str) -> list[StoredDelivery]:
        return sorted(
            (
                d
                for d in self._deliveries.values()
                if d.state == "pending" and d.lane == lane and d.id not in self._leased
            ),
            key=lambda d: (d.due_at, d.id),
        )

    async def take(self, lane: str, limit: int) -> list[StoredDelivery]:
        now = time.time()
        found = [d for d in self._unleased(lane) if d.due_at <= now][: max(limit, 0)]
        self._leased.update(d.id for d in found)
        return found

    def next_due(self, lane: str) -> float | None:
        unleased = self._unleased(lane)
        return unleased[0].due_at if unleased else None

    async def release(self, delivery_ids: Sequence[int]) -> None:
        self._leased.difference_update(delivery_ids)

    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        await asyncio.sleep(0)
        for delivery_id in delivery_ids:
            self._deliveries.pop(delivery_id, None)
        self._leased.difference_update(delivery_ids)

    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        await asyncio.sleep(0)
        stored = self._deliveries.get(delivery_id)
        if stored is not None:
            self._deliveries[delivery_id] = replace(
                stored, attempts=attempts, due_at=due_at, error_code=error_code, error_message=error_message
            )
        self._leased.discard(delivery_id)

    async def dead_letter(
        self,
        delivery_id: int,
        attempts: int,
        error_code: str,
        error_message: str,
        forward: NewEvent | NewDelivery | None,
    ) -> None:
        await asyncio.sleep(0)
        if isinstance(forward, NewDelivery):
            self._deliveries.pop(delivery_id, None)
            self._add_delivery(forward, time.time())
            self._lanes_changed({forward.lane})
        elif forward is not None:
            self._deliveries.pop(delivery_id, None)
            self._append([forward])
        elif delivery_id in self._deliveries:
            self._deliveries[delivery_id] = replace(
                self._deliveries[delivery_id],
                state="dead",
                attempts=attempts,
                error_code=error_code,
                error_message=error_message,
            )
        self._leased.discard(delivery_id)

    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        dead = sorted(d.id for d in self._deliveries.values() if d.state == "dead" and d.id > after_id)
        return [self._deliveries[i] for i in dead[:limit]]

    def pending_count(self) -> int:
        return sum(1 for d in self._deliveries.values() if d.state == "pending")

    def pending_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        pending = sorted(d.id for d in self._deliveries.values() if d.state == "pending" and d.id > after_id)
        return [self._deliveries[i] for i in pending[:limit]]

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for d in list(self._deliveries.values()):
            counts[(d.state, d.lane)] = counts.get((d.state, d.lane), 0) + 1
        return counts

    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[int]:
        await asyncio.sleep(0)
        now = time.time()
        wanted = set(delivery_ids) if delivery_ids is not None else None
        revived = [d for d in self._deliveries.values() if d.state == "dead" and (wanted is None or d.id in wanted)]
        for d in revived:
            self._deliveries[d.id] = replace(d, state="pending", attempts=0, due_at=now, ingested_at=now)
        if revived:
            self._lanes_changed({d.lane for d in revived})
        return sorted(d.id for d in revived)

    # -- log groups ----------------------------------------------------------------
    async def append_log_lines(self, group: str, lines: Sequence[bytes]) -> None:
        await asyncio.sleep(0)
        self._log_groups.setdefault(group, []).extend(lines)

    def read_log_lines(self, group: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        lines = self._log_groups.get(group, [])
        start = max(0, after)
        return [LogLine(n + 1, line) for n, line in enumerate(lines[start : start + limit], start)]
