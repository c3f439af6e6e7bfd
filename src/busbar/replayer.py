"""The replayer: runs the replays StartReplay records, on one node each.

A replay's progress lives in its resource document, never only in memory::

    Owner      the node running it (None: nobody yet, or finished)
    Heartbeat  when its owner last said it is alive (epoch seconds)
    Cursor     (event time, archive position) of the last event put back on the bus
    Replayed   how many events were put back;  Total  how many its range held at its start

A node *claims* a replay by compare-and-set on that document (so two nodes never run
one replay), taking over a replay whose owner's heartbeat is older than
``stale_after`` seconds — or, on a store used by one node only, any replay another
process owned (that process is gone: a ``kill -9`` resumes at the next start).  It
then reads the archive in order of event time from the cursor, appends each batch to
the log and moves the cursor.  Each replayed event's ``dedup_id`` is
``replay/<replay>/<archive position>``: after a crash between an append and the
cursor's move, the batch appended again is stored once, so every event of the range
is replayed at least once and stored once.

Replayed events keep their id and time, carry ``"replay-name"`` (so archives, whose
rules refuse it, do not keep them again) and, with ``FilterArns``, go only to those
rules.  Replays are paced so that live traffic keeps its latency: at most
``events_per_second``, and not while the router has more than ``backlog`` events
waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from busbar.ratelimit import TokenBucket
from busbar.resources.kinds import ARCHIVE, REPLAY, bus_key
from busbar.resources.scope import scope_of_key
from busbar.store.base import ArchivedEvent, NewEvent, Store
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.replay")

UNFINISHED = ("STARTING", "RUNNING", "CANCELLING")
BATCH = 100


class _Lost(Exception):
    """The replay is no longer ours to run (another node took it, or it finished)."""


class Replayer:
    """Claims and runs replays."""

    def __init__(
        self,
        store: Store,
        events_per_second: float = 1000.0,
        backlog: int = 1000,
        stale_after: float = 30.0,
        node: str | None = None,
    ) -> None:
        self._store = store
        self._rate = events_per_second
        # Batches no larger than a second's worth: pacing stays smooth at low rates.
        self._batch = max(1, min(BATCH, int(events_per_second)))
        self._backlog = backlog
        self._stale_after = stale_after
        self.node = node or uuid.uuid4().hex
        self._running: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._stop_watching: Callable[[], None] | None = None

    async def start(self) -> None:
        self._stop_watching = self._store.watch(self._changed)
        self._sweeper = asyncio.create_task(self._sweep(), name="busbar-replays")

    async def stop(self) -> None:
        """Stop running replays; they stay ours in the store until a node takes them over."""
        if self._stop_watching is not None:
            self._stop_watching()
        await cancel_and_wait(task for task in [self._sweeper, *self._running.values()] if task is not None)

    # -- finding work --------------------------------------------------------------
    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind == REPLAY and value is not None:
            self._consider(key, value, time.time())

    async def _sweep(self) -> None:
        while True:
            now = time.time()
            for key, replay in self._store.list_resources(REPLAY):
                self._consider(key, replay, now)
            await asyncio.sleep(max(0.1, self._stale_after / 3))

    def _consider(self, key: str, replay: dict[str, Any], now: float) -> None:
        if replay["State"] not in UNFINISHED or not self._claimable(replay, now):
            return
        task = self._running.get(key)
        if task is None or task.done():
            self._running[key] = asyncio.create_task(self._run(key), name=f"busbar-replay-{key}")

    def _claimable(self, replay: dict[str, Any], now: float) -> bool:
        owner = replay.get("Owner")
        if owner is None or owner == self.node:
            return True
        if self._store.capabilities.nodes() == 1:
            return True  # one node on this store: the owner was an earlier process, now gone
        return now - float(replay.get("Heartbeat", 0)) > self._stale_after

    # -- running one replay --------------------------------------------------------
    async def _change(self, key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Change our replay; raise _Lost when it is not ours (or not running) any more."""

        def apply(replay: dict[str, Any] | None) -> dict[str, Any] | None:
            if replay is None or replay.get("Owner") != self.node or replay["State"] not in UNFINISHED:
                raise _Lost(key)
            return change(dict(replay))

        changed = await self._store.modify(REPLAY, key, apply)
        assert changed is not None
        return changed

    async def _claim(self, key: str) -> dict[str, Any] | None:
        now = time.time()

        def claim(replay: dict[str, Any] | None) -> dict[str, Any] | None:
            if replay is None or replay["State"] not in UNFINISHED or not self._claimable(replay, now):
                raise _Lost(key)
            state = "RUNNING" if replay["State"] == "STARTING" else replay["State"]
            return {**replay, "Owner": self.node, "Heartbeat": now, "State": state}

        try:
            return await self._store.modify(REPLAY, key, claim)
        except _Lost:
            return None

    async def _run(self, key: str) -> None:
        try:
            replay = await self._claim(key)
            if replay is None:
                return
            log.info("replay running", extra={"replay": replay["ReplayArn"], "cursor": replay.get("Cursor")})
            if replay.get("Total") is None:
                stats = await self._store.archive_stats(
                    replay["Storage"], replay["EventStartTime"], replay["EventEndTime"]
                )
                replay = await self._change(key, lambda r: {**r, "Total": stats.count})
            bucket = TokenBucket(self._rate, burst=max(self._rate, self._batch))
            while await self._step(key, bucket):
                pass
        except _Lost:
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the replay stays ours; the sweep runs it again from its cursor
            log.exception("replay failed; it will resume", extra={"replay": key})
            await asyncio.sleep(1.0)

    async def _step(self, key: str, bucket: TokenBucket) -> bool:
        """Replay one batch; answer whether there is more to do."""
        replay = self._store.get_resource(REPLAY, key)
        if replay is None or replay.get("Owner") != self.node:
            raise _Lost(key)
        scope = scope_of_key(key)
        if replay["State"] == "CANCELLING":
            await self._finish(key, "CANCELLED")
            return False
        archive = self._store.get_resource(ARCHIVE, scope.key(replay["Archive"]))
        if archive is None or archive["Storage"] != replay["Storage"]:
            await self._finish(key, "FAILED", f"Archive {replay['Archive']} was deleted during the replay.")
            return False
        if not await self._pace(key, bucket):
            return True  # cancelled while waiting: the next step says so
        stored = replay.get("Cursor")
        cursor = (float(stored[0]), int(stored[1])) if stored else None
        batch = await self._store.read_archive(
            replay["Storage"], replay["EventStartTime"], replay["EventEndTime"], after=cursor, limit=self._batch
        )
        if not batch:
            await self._finish(key, "COMPLETED")
            return False
        bus = bus_key(scope, replay["Bus"])
        filters = replay["Destination"].get("FilterArns")
        now = time.time()
        await self._store.append_events([_replayed(key, replay["ReplayName"], bus, filters, e, now) for e in batch])
        last = batch[-1]
        await self._change(
            key,
            lambda r: {
                **r,
                "Cursor": list(last.cursor),
                "Replayed": r.get("Replayed", 0) + len(batch),
                "EventLastReplayedTime": last.time,
                "Heartbeat": time.time(),
            },
        )
        return True

    async def _pace(self, key: str, bucket: TokenBucket) -> bool:
        """Wait until the next batch may go: live events first, then the replay's rate.
        Answer False when the replay was cancelled meanwhile."""
        beat = time.time()
        while self._store.unrouted() > self._backlog or bucket.delay(self._batch) > 0:
            await asyncio.sleep(min(0.05, max(0.001, bucket.delay(self._batch))))
            replay = self._store.get_resource(REPLAY, key)
            if replay is None or replay["State"] == "CANCELLING":
                return False
            if time.time() - beat > self._stale_after / 3:  # a long wait must not look like a dead node
                await self._change(key, lambda r: {**r, "Heartbeat": time.time()})
                beat = time.time()
        bucket.take(self._batch)
        return True

    async def _finish(self, key: str, state: str, reason: str | None = None) -> None:
        def finish(replay: dict[str, Any]) -> dict[str, Any]:
            replay.update(State=state, ReplayEndTime=time.time(), Owner=None)
            if reason is not None:
                replay["StateReason"] = reason
            return replay

        replay = await self._change(key, finish)
        log.info("replay finished", extra={"replay": replay["ReplayArn"], "state": state, "events": replay["Replayed"]})


def _replayed(
    key: str, name: str, bus: str, filters: list[str] | None, archived: ArchivedEvent, now: float
) -> NewEvent:
    """The event *archived* put back on *bus* by the replay *name*."""
    original = orjson.loads(archived.envelope)
    envelope: dict[str, Any] = {}
    for field, value in original.items():
        if field == "resources":
            envelope["replay-name"] = name  # where AWS places it: after "region"
        envelope[field] = value
    envelope.setdefault("replay-name", name)
    return NewEvent(
        event_id=archived.event_id,
        bus=bus,
        envelope=orjson.dumps(envelope),
        time=archived.time,
        ingested_at=now,
        dedup_id=f"replay/{key}/{archived.position}",
        rules=tuple(filters) if filters else None,
    )


def replay_progress(store: Store) -> list[dict[str, Any]]:
    """Every replay's progress, oldest first (for ``busbar replays``)."""
    found = []
    for key, replay in store.list_resources(REPLAY):
        scope = scope_of_key(key)
        found.append(
            {
                "name": replay["ReplayName"],
                "account": scope.account,
                "region": scope.region,
                "archive": replay["Archive"],
                "state": replay["State"],
                "replayed": replay.get("Replayed", 0),
                "total": replay.get("Total"),
                "started": replay["ReplayStartTime"],
                "event_last_replayed_time": replay.get("EventLastReplayedTime"),
            }
        )
    return sorted(found, key=lambda r: r["started"])
