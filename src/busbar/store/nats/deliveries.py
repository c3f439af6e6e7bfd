"""Deliveries in a work-queue stream, one durable consumer per lane.

* **Recording**: each delivery is a message on ``<prefix>.deliveries.<lane hash>`` of the
  work-queue stream ``<prefix>-deliveries`` (replicas R), ``Nats-Msg-Id`` =
  ``<event seq>:<rule ARN>:<target id>``, so an event routed twice (its node died before
  acknowledging it) stores its deliveries once.  A delivery's id is the stream sequence
  of its first message; retries and redrives carry it on in the message.
* **Taking**: every lane (target ARN) has its own durable pull consumer, ``lane-<hash>``
  (acknowledged explicitly, replicas R as a work-queue stream requires, at most
  ``LANE_WINDOW`` deliveries leased at once), created on demand by whichever node needs it
  and shared by all nodes: each delivery is leased to one node at a time.  A lease lasts
  ``--nats-ack-wait``; this node renews the leases it holds longer (``in progress``), so a
  slow target keeps its deliveries, and a dead node's come back after the ack wait.
* **Outcomes**: success acknowledges the message (the work queue forgets it).  A retry is
  published as a *message schedule* on ``<prefix>.retries.<id>`` aimed at the lane's
  subject and due at the next attempt, then the message is acknowledged: the lease slot
  is free at once, unlike ``nak`` with a delay (docs/nats-notes.md §3, §5).  A dead
  letter goes to the bus of its ``DeadLetterConfig`` as an event, or to the stream
  ``<prefix>-dead`` (one message per delivery id), whence ``redrive`` republishes it.
* **Knowing where work is**: a node that records or redrives deliveries tells every node
  of the lanes on the core subject ``<prefix>.work``; every few seconds each node also
  reads which lane subjects hold messages (scheduled retries that fired, leases of a dead
  node that expired).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from busbar.store.base import LaneListener, NewDelivery, StoredDelivery, StoredEvent, Unavailable
from busbar.store.nats.codec import Names, consumer_of, decode_delivery, encode_delivery, lane_token, rfc3339
from busbar.store.nats.connection import WRITE_DEADLINE, Outgoing, Publisher, Puller, describe, retrying, transient
from busbar.store.nats.log import acknowledge

log = logging.getLogger("busbar.store")

# The most deliveries of one lane leased at once, over every node.
LANE_WINDOW = 10_000
# The most deliveries one take() asks for.
FETCH_MAX = 1000
# How long take() waits when nothing is there, and how often it asks a consumer that does
# not answer yet.
FETCH_WAIT = 0.1
FETCH_TRIES = 20
# Schedules fire 0-250 ms late (docs/nats-notes.md §5): a retry this node scheduled is
# waited for this long past its due time before the lane is left to the resync.
SCHEDULE_LATENESS = 0.6
# How often each node looks for lanes with messages nobody told it of.
RESYNC_EVERY = 2.0
# A lane consumer nobody pulled from for this long is deleted by JetStream (a target
# gone); what its lane still holds waits in the stream and is found by the resync.
LANE_IDLE = 3600.0
# Acknowledgements sent at once (requests in flight).
_ACK_CHUNK = 1000


@dataclass
class Lease:
    """A delivery this node took: its message (to acknowledge) and its lane."""

    msg: Msg
    lane: str
    renewed: float  # monotonic


class Deliveries:
    """The deliveries part of :class:`busbar.store.nats.NatsStore`."""

    def __init__(self, nc: NATS, publisher: Publisher, names: Names, replicas: int, ack_wait: float) -> None:
        self._nc = nc
        self._js: JetStreamContext = publisher.js
        self._publisher = publisher
        self._names = names
        self._replicas = replicas
        self._ack_wait = ack_wait
        self.node = uuid.uuid4().hex
        self.leased: dict[int, Lease] = {}
        self.lanes: dict[str, str] = {}  # lane token -> lane (target ARN)
        self._consumers: dict[str, Puller] = {}
        self._opening: dict[str, asyncio.Task[Puller]] = {}
        self._pending: dict[str, int] = {}  # lane -> messages left for its consumer after the last take
        self._spare: dict[str, deque[Msg]] = {}  # lane -> fetched beyond what a take asked for (leased)
        self._retries: dict[str, dict[int, float]] = {}  # lane -> delivery id -> due, scheduled here
        self._listeners: list[LaneListener] = []
        self._work_sub: object | None = None

    async def start(self) -> None:
        self._work_sub = await self._nc.subscribe(self._names.work, cb=self._on_work)

    # -- lanes with work ---------------------------------------------------------
    def on_lane_work(self, listener: LaneListener) -> None:
        self._listeners.append(listener)

    def tell(self, lanes: AbstractSet[str]) -> None:
        for listener in list(self._listeners):
            try:
                listener(lanes)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the others
                log.exception("lane listener failed")

    async def announce(self, lanes: AbstractSet[str]) -> None:
        """Tell this node's listeners, and every other node, of lanes with new work."""
        if not lanes:
            return
        self.tell(lanes)
        try:
            await self._nc.publish(self._names.work, orjson.dumps({"n": self.node, "l": sorted(lanes)}))
        except Exception:  # noqa: BLE001 - the other nodes' resync finds the work anyway
            log.debug("announcing lanes failed", exc_info=True)

    async def _on_work(self, msg: Msg) -> None:
        try:
            told = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return
        if told.get("n") != self.node:
            self.tell(set(told.get("l", [])))

    async def resync(self) -> None:
        """Tell the listeners of every lane whose subject holds messages."""
        lanes = await lanes_with_work(self._js, self._names, self.lanes)
        if lanes:
            self.tell(lanes)

    # -- recording -----------------------------------------------------------------
    async def record(self, deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
        if not deliveries:
            return []
        now = time.time()
        messages = []
        seqs = _event_seqs(deliveries, routed)
        for delivery, seq in zip(deliveries, seqs, strict=True):
            subject = self._names.lane_subject(delivery.lane)
            self.lanes[lane_token(delivery.lane)] = delivery.lane
            msg_id = f"{seq}:{delivery.rule_arn}:{delivery.target.get('Id')}" if seq else uuid.uuid4().hex
            messages.append(Outgoing(subject, encode_delivery(delivery, due_at=now), {"Nats-Msg-Id": msg_id}))
        results = await self._publisher.publish(messages)
        ids = []
        for result in results:
            if isinstance(result, Exception):
                raise Unavailable(f"JetStream did not store the deliveries: {describe(result)}")
            ids.append(int(result.seq))
        return ids

    # -- taking --------------------------------------------------------------------
    async def take(self, lane: str, limit: int) -> list[StoredDelivery]:
        if limit <= 0:
            return []
        spare = self._spare.setdefault(lane, deque())
        msgs = [spare.popleft() for _ in range(min(limit, len(spare)))]
        if len(msgs) < limit:
            sub = await self._consumer(lane)
            fetched = []
            for _ in range(FETCH_TRIES):
                try:
                    fetched = await sub.pull(min(limit - len(msgs), FETCH_MAX), self._fetch_wait(lane))
                    break
                except ServiceUnavailableError:
                    # A consumer just made in a cluster may not answer its first pull yet ("no responders").
                    await asyncio.sleep(FETCH_WAIT)
            else:
                # Still nobody answers: the consumer is gone (JetStream deletes one nobody pulled
                # from for LANE_IDLE).  The next take makes it again.
                self._consumers.pop(lane, None)
                await sub.unsubscribe()
            # A fetch hands over what earlier fetches' requests brought too, which may be more
            # than asked for: those are leased to this node already; the next take has them.
            room = limit - len(msgs)
            msgs.extend(fetched[:room])
            spare.extend(fetched[room:])
            # What is left: not yet delivered, held here, or brought late by a pull.
            left = len(spare) + sub.queued
            self._pending[lane] = left + (fetched[-1].metadata.num_pending if fetched else 0)
        now = time.monotonic()
        retries = self._retries.get(lane)
        taken = []
        for msg in msgs:
            delivery = decode_delivery(msg.metadata.sequence.stream, msg.data)
            self.leased[delivery.id] = Lease(msg, lane, now)
            if retries:
                retries.pop(delivery.id, None)
            taken.append(delivery)
        return taken

    def _fetch_wait(self, lane: str) -> float:
        """How long a take waits: briefly, or until a retry this node scheduled fires."""
        retries = self._retries.get(lane)
        if retries:
            now = time.time()
            soonest = min(retries.values())
            if soonest <= now < soonest + SCHEDULE_LATENESS:
                return max(FETCH_WAIT, soonest + SCHEDULE_LATENESS - now)
        return FETCH_WAIT

    def next_due(self, lane: str) -> float | None:
        if self._pending.get(lane, 0) > 0:
            return time.time()
        retries = self._retries.get(lane)
        if not retries:
            return None
        now = time.time()
        for delivery_id, due in list(retries.items()):
            if due + SCHEDULE_LATENESS < now:
                del retries[delivery_id]  # it fired and another node took it, or the resync will find it
        return min(retries.values()) if retries else None

    async def _consumer(self, lane: str) -> Puller:
        sub = self._consumers.get(lane)
        if sub is not None:
            return sub
        opening = self._opening.get(lane)
        if opening is None:
            opening = self._opening[lane] = asyncio.ensure_future(self._open(lane))
        try:
            sub = await asyncio.shield(opening)
        finally:
            if opening.done():
                self._opening.pop(lane, None)
        self._consumers[lane] = sub
        return sub

    async def _open(self, lane: str) -> Puller:
        name = consumer_of(lane)
        self.lanes[lane_token(lane)] = lane
        config = ConsumerConfig(
            durable_name=name,
            filter_subject=self._names.lane_subject(lane),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_ack_pending=LANE_WINDOW,
            max_deliver=-1,
            num_replicas=self._replicas,
            inactive_threshold=LANE_IDLE,
        )
        await retrying(lambda: self._js.add_consumer(self._names.deliveries, config), time.monotonic() + WRITE_DEADLINE)
        return await Puller(self._nc, self._names.deliveries, name).start()

    # -- outcomes ------------------------------------------------------------------
    async def release(self, delivery_ids: Sequence[int]) -> None:
        leases = [lease for i in delivery_ids if (lease := self.leased.pop(i, None)) is not None]
        await self._answer(leases, b"-NAK", strict=False)

    async def finish(self, delivery_ids: Sequence[int]) -> None:
        leases = []
        for delivery_id in delivery_ids:
            lease = self.leased.get(delivery_id)
            if lease is not None:
                leases.append(lease)
            else:
                await self._delete(delivery_id)  # never taken here (a delivery's id is its first sequence)
        await self._answer(leases, b"+ACK")
        for delivery_id in delivery_ids:
            self.leased.pop(delivery_id, None)

    async def _delete(self, delivery_id: int) -> None:
        try:
            await self._js.delete_msg(self._names.deliveries, delivery_id)
        except NotFoundError:
            pass

    async def _answer(self, leases: Sequence[Lease], answer: bytes, strict: bool = True) -> None:
        """Send *answer* (an acknowledgement) for every lease and wait until the server took
        them (retrying through elections); with *strict*, raise Unavailable when it did not."""
        by_lane: dict[str, list[str]] = {}
        for lease in leases:
            if lease.msg.reply:
                by_lane.setdefault(lease.lane, []).append(lease.msg.reply)
        deadline = time.monotonic() + WRITE_DEADLINE
        for replies in by_lane.values():
            for start in range(0, len(replies), _ACK_CHUNK):
                chunk = replies[start : start + _ACK_CHUNK]
                while True:
                    try:
                        await acknowledge(self._nc, chunk, answer, timeout=2.0)
                        break
                    except Exception as error:  # noqa: BLE001 - judged here: transient or not
                        if transient(error) and time.monotonic() < deadline:
                            await asyncio.sleep(0.1)  # acknowledgements may be repeated
                            continue
                        if strict:
                            raise Unavailable(f"JetStream did not take {len(chunk)} acknowledgements") from None
                        return

    async def retry(self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str) -> None:
        lease = self.leased.get(delivery_id)
        if lease is None:
            log.warning("a retry of a delivery not leased here was dropped", extra={"delivery": delivery_id})
            return
        delivery = decode_delivery(delivery_id, lease.msg.data)
        message = Outgoing(
            self._names.retry_subject(lease.lane, delivery_id),
            encode_delivery(
                delivery,
                delivery_id=delivery_id,
                attempts=attempts,
                due_at=due_at,
                error_code=error_code,
                error_message=error_message,
            ),
            {
                "Nats-Msg-Id": f"retry/{delivery_id}/{attempts}",
                "Nats-Schedule": f"@at {rfc3339(due_at)}",
                "Nats-Schedule-Target": self._names.lane_subject(lease.lane),
            },
        )
        await self._publish_one(message)
        self._retries.setdefault(lease.lane, {})[delivery_id] = due_at
        await self._answer([lease], b"+ACK")
        self.leased.pop(delivery_id, None)

    async def bury(self, delivery_id: int, attempts: int, error_code: str, error_message: str) -> None:
        """Keep a leased delivery as dead (in ``<prefix>-dead``) and forget its lease."""
        lease = self.leased.get(delivery_id)
        if lease is None:
            log.warning("a dead letter of a delivery not leased here was dropped", extra={"delivery": delivery_id})
            return
        delivery = decode_delivery(delivery_id, lease.msg.data)
        await self._publish_one(
            Outgoing(
                self._names.dead_subject(delivery_id),
                encode_delivery(
                    delivery,
                    delivery_id=delivery_id,
                    attempts=attempts,
                    due_at=delivery.due_at,
                    error_code=error_code,
                    error_message=error_message,
                ),
                {"Nats-Msg-Id": f"dead/{delivery_id}/{attempts}"},
            )
        )
        await self.forget(delivery_id)

    async def pass_on(self, delivery_id: int, new: NewDelivery) -> None:
        """Record *new* (a dead letter on its way to a queue) in place of the leased delivery
        *delivery_id*, then forget that one.  The message id (the leased message's sequence)
        makes a repeat after a crash between the two steps one delivery."""
        lease = self.leased.get(delivery_id)
        taken = lease.msg.metadata.sequence.stream if lease is not None else uuid.uuid4().hex
        self.lanes[lane_token(new.lane)] = new.lane
        message = Outgoing(
            self._names.lane_subject(new.lane),
            encode_delivery(new, due_at=time.time()),
            {"Nats-Msg-Id": f"passed/{delivery_id}/{taken}"},
        )
        await self._publish_one(message)
        await self.forget(delivery_id)
        await self.announce({new.lane})

    async def forget(self, delivery_id: int) -> None:
        """Acknowledge a leased delivery (what became of it is stored elsewhere)."""
        lease = self.leased.get(delivery_id)
        if lease is not None:
            await self._answer([lease], b"+ACK")
            self.leased.pop(delivery_id, None)

    async def redrive(self, delivery_ids: Sequence[int] | None) -> list[int]:
        if delivery_ids is None:
            delivery_ids = await dead_ids(self._js, self._names)
        revived: list[int] = []
        lanes: set[str] = set()
        for delivery_id in dict.fromkeys(delivery_ids):
            try:
                found = await self._js.get_last_msg(
                    self._names.dead, self._names.dead_subject(delivery_id), direct=True
                )
            except NotFoundError:
                continue
            now = time.time()
            dead = decode_delivery(delivery_id, found.data or b"", state="dead")
            await self._publish_one(
                Outgoing(
                    self._names.lane_subject(dead.lane),
                    encode_delivery(replace(dead, ingested_at=now), delivery_id=delivery_id, due_at=now),
                    # Two nodes redriving it at once store it once.
                    {"Nats-Msg-Id": f"redrive/{delivery_id}/{found.seq}"},
                )
            )
            try:
                await self._js.delete_msg(self._names.dead, found.seq or 0)
            except NotFoundError:
                pass
            self.lanes[lane_token(dead.lane)] = dead.lane
            revived.append(delivery_id)
            lanes.add(dead.lane)
        await self.announce(lanes)
        return sorted(revived)

    async def _publish_one(self, message: Outgoing) -> None:
        [result] = await self._publisher.publish([message])
        if isinstance(result, Exception):
            raise Unavailable(f"JetStream did not store the delivery: {describe(result)}")

    # -- leases --------------------------------------------------------------------
    async def renew(self, older_than: float) -> None:
        """Tell JetStream this node still works on the deliveries it took before *older_than*."""
        now = time.monotonic()
        for lease in list(self.leased.values()):
            if lease.renewed < older_than and lease.msg.reply:
                await self._nc.publish(lease.msg.reply, b"+WPI")
                lease.renewed = now
        for spare in self._spare.values():
            for msg in spare:
                if msg.reply:
                    await self._nc.publish(msg.reply, b"+WPI")

    async def give_back(self) -> None:
        """Let every delivery leased here be taken at once by another node (shutting down)."""
        leased, self.leased = self.leased, {}
        spares, self._spare = self._spare, {}
        brought = [msg for puller in list(self._consumers.values()) for msg in await puller.take_queued()]
        held = [lease.msg for lease in leased.values()] + [msg for spare in spares.values() for msg in spare]
        for msg in held + brought:
            if msg.reply:
                await self._nc.publish(msg.reply, b"-NAK")

    async def stop(self) -> None:
        for sub in self._consumers.values():
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
        self._consumers = {}


def _event_seqs(deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
    """The sequence of the routed event each delivery is for (0: not among *routed*).  The
    router finds deliveries event by event, in the order of *routed*."""
    seqs = []
    index = 0
    for delivery in deliveries:
        while index < len(routed) and routed[index].event_id != delivery.event_id:
            index += 1
        if index < len(routed):
            seqs.append(routed[index].seq)
        else:
            seqs.append(0)
            index = 0
    return seqs


# -- reads (also on the reader's connection: see busbar.store.nats.reader) -------------


async def lanes_with_work(js: JetStreamContext, names: Names, known: dict[str, str]) -> set[str]:
    """Lanes whose subjects hold messages (pending or leased).  *known* maps lane tokens to
    lanes; a token it lacks is looked up in the newest message of its subject."""
    info = await js.stream_info(names.deliveries, subjects_filter=names.lane_subjects)
    lanes = set()
    for subject, count in (info.state.subjects or {}).items():
        if not count:
            continue
        token = subject.rsplit(".", 1)[1]
        lane = known.get(token) or await _lane_of(js, names.deliveries, subject, known, token)
        if lane is not None:
            lanes.add(lane)
    return lanes


async def pending_count(js: JetStreamContext, names: Names) -> int:
    info = await js.stream_info(names.deliveries)
    return int(info.state.messages)


async def delivery_counts(js: JetStreamContext, names: Names, known: dict[str, str]) -> dict[tuple[str, str], int]:
    """Pending deliveries per lane (due, leased, or waiting for their next attempt) and dead
    ones per lane, from the subjects' message counts (a lane's token is looked up once)."""
    counts: dict[tuple[str, str], int] = {}
    pending = await js.stream_info(names.deliveries, subjects_filter=names.pending_subjects)
    for subject, count in (pending.state.subjects or {}).items():
        parts = subject.split(".")
        token = parts[-1] if parts[-2] == "deliveries" else parts[-2]  # ...deliveries.<lane> / ...retries.<lane>.<id>
        lane = known.get(token) or await _lane_of(js, names.deliveries, subject, known, token)
        if count and lane is not None:
            counts["pending", lane] = counts.get(("pending", lane), 0) + count
    # A dead letter's lane is read once and remembered with its id (dead letters do not change).
    dead_lanes = _DEAD_LANES.setdefault(names.dead, {})
    ids = await dead_ids(js, names)
    for gone in dead_lanes.keys() - set(ids):
        del dead_lanes[gone]
    for delivery_id in ids:
        lane = dead_lanes.get(delivery_id)
        if lane is None:
            try:
                msg = await js.get_last_msg(names.dead, names.dead_subject(delivery_id), direct=True)
            except NotFoundError:
                continue  # redriven meanwhile
            lane = dead_lanes[delivery_id] = decode_delivery(delivery_id, msg.data or b"").lane
        counts["dead", lane] = counts.get(("dead", lane), 0) + 1
    return counts


# The lanes of the dead letters counted so far, by stream: delivery id -> lane.
_DEAD_LANES: dict[str, dict[int, str]] = {}


async def _lane_of(js: JetStreamContext, stream: str, subject: str, known: dict[str, str], token: str) -> str | None:
    """The lane whose messages *subject* holds, read from its newest message and remembered
    in *known* under *token* (None: the subject emptied meanwhile)."""
    try:
        last = await js.get_last_msg(stream, subject, direct=True)
    except NotFoundError:
        return None  # taken and acknowledged meanwhile
    lane = known[token] = decode_delivery(last.seq or 0, last.data or b"").lane
    return lane


async def pending_deliveries(js: JetStreamContext, names: Names, after_id: int, limit: int) -> list[StoredDelivery]:
    """Pending deliveries with ids above *after_id*, oldest (smallest id) first.  A delivery's
    id is the sequence of its first message, so none is found before sequence *after_id*;
    past it, a retry of an old delivery may come anywhere: the rest is read to its end."""
    found = await _scan(js, names.deliveries, names.pending_subjects, after_id + 1, "pending")
    # A retry is stored (a schedule, then the message it fires) before its predecessor is
    # gone: a delivery may be read twice, and its newest message (the latest sequence) is
    # its state.
    newest = {delivery.id: delivery for delivery in found}
    return heapq.nsmallest(limit, (d for d in newest.values() if d.id > after_id), key=lambda d: d.id)


async def _scan(js: JetStreamContext, stream: str, subjects: str, start: int, state: str) -> list[StoredDelivery]:
    """Every delivery (in *state*) of *subjects* in *stream* from sequence *start* on, one
    message at a time."""
    found: list[StoredDelivery] = []
    seq = max(1, start)
    while True:
        try:
            msg = await js.get_msg(stream, seq, subject=subjects, next=True, direct=True)
        except NotFoundError:
            return found
        found.append(decode_delivery(msg.seq or seq, msg.data or b"", state=state))
        seq = (msg.seq or seq) + 1


async def dead_ids(js: JetStreamContext, names: Names) -> list[int]:
    info = await js.stream_info(names.dead, subjects_filter=names.dead_subjects)
    return sorted(int(subject.rsplit(".", 1)[1]) for subject, count in (info.state.subjects or {}).items() if count)


async def dead_deliveries(js: JetStreamContext, names: Names, after_id: int, limit: int) -> list[StoredDelivery]:
    found = []
    for delivery_id in [i for i in await dead_ids(js, names) if i > after_id][:limit]:
        try:
            msg = await js.get_last_msg(names.dead, names.dead_subject(delivery_id), direct=True)
        except NotFoundError:
            continue  # redriven meanwhile
        found.append(decode_delivery(delivery_id, msg.data or b"", state="dead"))
    return found
