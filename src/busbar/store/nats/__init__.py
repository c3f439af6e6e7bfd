"""The cluster store: every busbar node of a deployment on one NATS JetStream cluster.

What lives where (``<prefix>`` is ``--nats-prefix``, default ``busbar``; R is
``--nats-replicas``):

=====================  =============================================================
resources              key-value bucket ``<prefix>-resources`` (:mod:`.resources`)
event log              stream ``<prefix>-events``, consumer ``router`` (:mod:`.log`)
deliveries             work-queue stream ``<prefix>-deliveries``, a consumer per lane,
                       retries as message schedules (:mod:`.deliveries`)
dead letters           stream ``<prefix>-dead`` (:mod:`.deliveries`)
log groups             stream ``<prefix>-logs`` (:mod:`.loggroups`)
archives               stream ``<prefix>-archives`` (:mod:`.archives`)
live nodes             key-value bucket ``<prefix>-nodes`` (:mod:`.nodes`)
=====================  =============================================================

Everything is replicated R times by JetStream; busbar writes nothing of its own on
disk beyond its data directory's lock and secrets key.  Layout and measured facts:
docs/cluster.md and docs/nats-notes.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from nats.aio.client import Client as NATS

from busbar.store.base import (
    ArchivedEvent,
    ArchiveStats,
    Capabilities,
    ChangeListener,
    LaneListener,
    LogLine,
    NewArchivedEvent,
    NewDelivery,
    NewEvent,
    Store,
    StoredDelivery,
    StoredEvent,
    Versioned,
)
from busbar.store.nats import deliveries as delivery_reads
from busbar.store.nats import log as log_reads
from busbar.store.nats import loggroups
from busbar.store.nats.archives import Archives
from busbar.store.nats.codec import Names
from busbar.store.nats.connection import Health, NatsOptions, Publisher, connect
from busbar.store.nats.deliveries import RESYNC_EVERY, Deliveries
from busbar.store.nats.log import EventLog
from busbar.store.nats.nodes import Nodes
from busbar.store.nats.reader import Reader
from busbar.store.nats.resources import Resources
from busbar.store.nats.setup import declare
from busbar.tasks import cancel_and_wait

__all__ = ["NatsOptions", "NatsStore"]

log = logging.getLogger("busbar.store")


class NatsStore(Store):
    """A :class:`Store` on a NATS JetStream cluster, shared by any number of busbar nodes."""

    def __init__(self, options: NatsOptions) -> None:
        self.options = options
        self.names = Names(options.prefix)
        self._health = Health(options)
        self._reader = Reader(options)
        self._nc: NATS | None = None
        self._resources: Resources | None = None
        self._log: EventLog | None = None
        self._deliveries: Deliveries | None = None
        self._nodes: Nodes | None = None
        self._publisher: Publisher | None = None
        self._on_commit: Callable[[float], None] | None = None  # see observe_commits
        self._archives: Archives | None = None
        self._lane_listeners: list[LaneListener] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(handoff=False, nodes=self._live_nodes)

    def _live_nodes(self) -> int:
        """How many busbar nodes share the work now (read when asked: the dispatcher asks the
        capabilities once, before the store starts)."""
        return self._nodes.count() if self._nodes is not None else 1

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        self._nc = nc = await connect(self.options, "busbar", self._health)
        try:
            await declare(nc.jetstream(), self.options)
            self._publisher = publisher = Publisher(nc, self._health)
            publisher.on_commit = self._on_commit
            self._resources = Resources(publisher.js, self.names.resources, self._health)
            await self._resources.start()
            self._log = EventLog(nc, publisher, self.names)
            await self._log.start()
            self._deliveries = Deliveries(nc, publisher, self.names, self.options.replicas, self.options.ack_wait)
            for listener in self._lane_listeners:
                self._deliveries.on_lane_work(listener)
            await self._deliveries.start()
            self._archives = Archives(publisher.js, publisher, self.names)
            self._nodes = Nodes(publisher.js, self.names.nodes, self._deliveries.node)
            await self._nodes.start()
        except BaseException:
            await nc.close()
            raise
        self._tasks = [
            asyncio.create_task(self._resync(), name="busbar-nats-resync"),
            asyncio.create_task(self._renew(), name="busbar-nats-leases"),
        ]
        log.info("store opened", extra={"store": "nats", "servers": self.options.shown, "prefix": self.options.prefix})

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._nodes is not None:
            await self._nodes.stop()
        if self._log is not None:
            await self._log.give_back()
        if self._deliveries is not None:
            await self._deliveries.give_back()
            await self._deliveries.stop()
        if self._resources is not None:
            await self._resources.stop()
        if self._nc is not None:
            self._health.closing = True
            try:
                await self._nc.flush(timeout=2)
            except Exception:  # noqa: BLE001 - what was not given back comes back after the ack wait
                pass
            await self._nc.close()
            self._nc = None
        await asyncio.to_thread(self._reader.close)

    def close_reads(self) -> None:
        """Release the connection of the blocking reads (a reader that never started the store
        is done with it: ``busbar events``, tests)."""
        self._reader.close()

    def health(self) -> str | None:
        return self._health.problem() if self._nc is not None else None

    async def _resync(self) -> None:
        """Every few seconds, tell the dispatcher of lanes holding messages it was not told of."""
        assert self._deliveries is not None
        while True:
            await asyncio.sleep(RESYNC_EVERY)
            try:
                await self._deliveries.resync()
            except Exception as error:  # noqa: BLE001 - again next time
                log.debug("lane resync failed", extra={"error": repr(error)})

    async def _renew(self) -> None:
        """Keep the leases of what this node still works on (slow targets, a busy router)."""
        assert self._deliveries is not None and self._log is not None
        every = self.options.ack_wait / 3
        while True:
            await asyncio.sleep(every)
            older_than = time.monotonic() - every
            try:
                await self._deliveries.renew(older_than)
                for seq, (msg, renewed) in list(self._log.leased.items()):
                    if renewed < older_than and msg.reply and self._nc is not None:
                        await self._nc.publish(msg.reply, b"+WPI")
                        self._log.leased[seq] = (msg, time.monotonic())
            except Exception as error:  # noqa: BLE001 - again next time
                log.debug("renewing leases failed", extra={"error": repr(error)})

    def _parts(self) -> tuple[Resources, EventLog, Deliveries]:
        if self._resources is None or self._log is None or self._deliveries is None:
            raise RuntimeError("the store is not open")
        return self._resources, self._log, self._deliveries

    # -- resources -----------------------------------------------------------------
    def get_versioned(self, kind: str, key: str) -> Versioned | None:
        return self._parts()[0].get(kind, key)

    def list_resources(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        return self._parts()[0].list(kind, prefix)

    async def create_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        return await self._parts()[0].create(kind, key, value)

    async def update_resource(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        return await self._parts()[0].update(kind, key, value, revision)

    async def put_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        return await self._parts()[0].put(kind, key, value)

    async def delete_resource(self, kind: str, key: str, revision: int | None = None) -> bool:
        return await self._parts()[0].delete(kind, key, revision)

    def watch(self, listener: ChangeListener) -> Callable[[], None]:
        return self._parts()[0].watch(listener)

    async def changed(self, kind: str, key: str, revision: int) -> None:
        await self._parts()[0].changed(kind, key)

    async def sync(self) -> None:
        await self._parts()[0].sync()

    # -- event log -----------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> None:
        if events:
            await self._parts()[1].append(events)

    async def next_events(self, limit: int, wait: float) -> list[StoredEvent]:
        resources, events_log, _ = self._parts()
        events = await events_log.next(limit, wait)
        if events:
            # Route with every rule change committed before these events were: a rule put
            # through another node a moment before the event must apply to it.
            try:
                await resources.sync()
            except BaseException:
                # Not routed now: hand them back at once, or this node would hold them (its
                # leases renewed) and nobody would route them.
                await events_log.release(events)
                raise
        return events

    async def record_deliveries(self, deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
        _, events_log, lanes = self._parts()
        ids = await lanes.record(deliveries, routed)
        await events_log.routed(routed)
        await lanes.announce({delivery.lane for delivery in deliveries})
        return ids

    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        return self._reader.call(lambda js: log_reads.read_events(js, self.names, after_seq, limit))

    async def prune_events(self, ingested_before: float, limit: int = 10_000) -> int:
        assert self._publisher is not None, "the store is not open"
        return await log_reads.prune(self._publisher.js, self.names, ingested_before, limit)

    def last_seq(self) -> int:
        return self._reader.call(lambda js: log_reads.last_seq(js, self.names))

    def unrouted(self) -> int:
        return self._reader.call(lambda js: log_reads.unrouted(js, self.names))

    # -- deliveries ----------------------------------------------------------------
    def lanes_with_work(self) -> set[str]:
        known = self._deliveries.lanes if self._deliveries is not None else {}
        return self._reader.call(lambda js: delivery_reads.lanes_with_work(js, self.names, known))

    def on_lane_work(self, listener: LaneListener) -> None:
        self._lane_listeners.append(listener)
        if self._deliveries is not None:
            self._deliveries.on_lane_work(listener)

    async def take(self, lane: str, limit: int) -> list[StoredDelivery]:
        return await self._parts()[2].take(lane, limit)

    def next_due(self, lane: str) -> float | None:
        return self._parts()[2].next_due(lane)

    async def release(self, delivery_ids: Sequence[int]) -> None:
        if self._deliveries is not None:
            await self._deliveries.release(delivery_ids)

    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        await self._parts()[2].finish(delivery_ids)

    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        await self._parts()[2].retry(delivery_id, attempts, due_at, error_code, error_message)

    async def dead_letter(
        self,
        delivery_id: int,
        attempts: int,
        error_code: str,
        error_message: str,
        forward: NewEvent | NewDelivery | None,
    ) -> None:
        _, events_log, lanes = self._parts()
        if forward is None:
            await lanes.bury(delivery_id, attempts, error_code, error_message)
            return
        if isinstance(forward, NewDelivery):
            await lanes.pass_on(delivery_id, forward)
            return
        # The dead letter is an event on the dead-letter bus (its dedup_id makes a repeat
        # after a crash between the two steps one event), then the delivery is forgotten.
        await events_log.append([forward])
        await lanes.forget(delivery_id)

    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        return self._reader.call(lambda js: delivery_reads.dead_deliveries(js, self.names, after_id, limit))

    def pending_count(self) -> int:
        return self._reader.call(lambda js: delivery_reads.pending_count(js, self.names))

    def pending_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        return self._reader.call(lambda js: delivery_reads.pending_deliveries(js, self.names, after_id, limit))

    def observe_commits(self, listener: Callable[[float], None]) -> None:
        # A publish's "commit": JetStream acknowledged every message of a batch (R replicas).
        self._on_commit = listener
        if self._publisher is not None:
            self._publisher.on_commit = listener

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        known = self._deliveries.lanes if self._deliveries is not None else {}
        return self._reader.call(lambda js: delivery_reads.delivery_counts(js, self.names, known))

    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[int]:
        return await self._parts()[2].redrive(delivery_ids)

    # -- log groups ----------------------------------------------------------------
    async def append_log_lines(self, group: str, lines: Sequence[bytes]) -> None:
        if self._publisher is None:
            raise RuntimeError("the store is not open")
        await loggroups.append(self._publisher, self.names, group, lines)

    def read_log_lines(self, group: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        return self._reader.call(lambda js: loggroups.read(js, self.names, group, after, limit))

    # -- archives ------------------------------------------------------------------
    def _archive_part(self) -> Archives:
        if self._archives is None:
            raise RuntimeError("the store is not open")
        return self._archives

    async def archive_events(self, archive: str, events: Sequence[NewArchivedEvent]) -> None:
        if events:
            await self._archive_part().append(archive, events)

    async def read_archive(
        self, archive: str, start: float, end: float, after: tuple[float, int] | None = None, limit: int = 500
    ) -> list[ArchivedEvent]:
        return await self._archive_part().read(archive, start, end, after, limit)

    async def archive_stats(self, archive: str, start: float | None = None, end: float | None = None) -> ArchiveStats:
        return await self._archive_part().stats(archive, start, end)

    async def prune_archive(self, archive: str, archived_before: float, limit: int = 10_000) -> int:
        return await self._archive_part().prune(archive, archived_before, limit)

    async def drop_archive(self, archive: str) -> None:
        await self._archive_part().drop(archive)
