"""The event log: the stream ``<prefix>-events``, routed through one shared consumer.

* **Append**: one message per event on ``<prefix>.events`` (limits retention, replicas R,
  a two-minute duplicate window), ``Nats-Msg-Id`` = the event's ``dedup_id`` or its id,
  so a publish retried after an unknown outcome is stored once.  An event counts as
  stored when JetStream acknowledged it, that is when R servers hold it.
* **Routing**: the durable pull consumer ``router`` (acknowledged explicitly, replicas R)
  is shared by every node: JetStream hands each event to one of them.  An event is
  acknowledged only after the deliveries found for it are stored; an event whose node
  died comes back after the ack wait (``--nats-ack-wait``) and is routed again, and its
  deliveries, published with the same message ids, are stored once (within the window).
* **Retention**: routed events are purged by :func:`prune` up to the router's ack floor
  (every event at or below it is routed), never beyond: an event nobody routed yet is
  never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ServiceUnavailableError

from busbar.store.base import NewEvent, StoredEvent, Unavailable
from busbar.store.nats.codec import Names, decode_event, encode_event
from busbar.store.nats.connection import WRITE_DEADLINE, Outgoing, Publisher, Puller, describe, retrying

ROUTER = "router"
# An event's ingestion time travels in a header too: retention reads headers only.
INGESTED_AT = "Busbar-Ingested-At"
# Messages one fetch of a reader asks for.
_PAGE = 500


class EventLog:
    """The event-log part of :class:`busbar.store.nats.NatsStore`."""

    def __init__(self, nc: NATS, publisher: Publisher, names: Names) -> None:
        self._nc = nc
        self._js = publisher.js
        self._publisher = publisher
        self._names = names
        self._puller: Puller | None = None
        self.leased: dict[int, tuple[Msg, float]] = {}  # handed to this node's router, not yet routed

    async def start(self) -> None:
        self._puller = await Puller(self._nc, self._names.events, ROUTER).start()

    async def append(self, events: Sequence[NewEvent]) -> None:
        messages = [
            Outgoing(
                self._names.event_subject,
                encode_event(event),
                {
                    "Nats-Msg-Id": event.dedup_id if event.dedup_id is not None else event.event_id,
                    INGESTED_AT: repr(event.ingested_at),
                },
            )
            for event in events
        ]
        results = await self._publisher.publish(messages)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            stored = {i for i, r in enumerate(results) if not isinstance(r, Exception)}
            raise Unavailable(f"JetStream did not store {len(failed)} events: {describe(failed[0])}", stored)

    async def next(self, limit: int, wait: float) -> list[StoredEvent]:
        assert self._puller is not None, "the store is not open"
        msgs = await self._puller.pull(max(1, min(limit, 10_000)), wait)
        now = time.monotonic()
        events = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            self.leased[seq] = (msg, now)
            events.append(decode_event(seq, msg.data))
        return events

    async def routed(self, events: Sequence[StoredEvent]) -> None:
        """Acknowledge routed events (their deliveries are stored)."""
        replies = [held[0].reply for event in events if (held := self.leased.pop(event.seq, None)) and held[0].reply]
        # A lost acknowledgement only routes an event again (its deliveries are de-duplicated).
        with contextlib.suppress(Exception):
            await acknowledge(self._nc, replies, b"+ACK")

    async def release(self, events: Sequence[StoredEvent]) -> None:
        """Hand leased events back unrouted: JetStream gives them to a node again at once."""
        for event in events:
            held = self.leased.pop(event.seq, None)
            if held is not None and held[0].reply:
                with contextlib.suppress(Exception):  # a lost answer: they come back after the ack wait
                    await self._nc.publish(held[0].reply, b"-NAK")

    async def give_back(self) -> None:
        """Let the events leased to this node (not routed) be taken at once by another."""
        leased, self.leased = self.leased, {}
        brought = await self._puller.take_queued() if self._puller is not None else []
        for msg in [msg for msg, _ in leased.values()] + brought:
            if msg.reply:
                await self._nc.publish(msg.reply, b"-NAK")


async def acknowledge(nc: NATS, replies: Sequence[str], answer: bytes, timeout: float = 5.0) -> None:
    """Send *answer* to the reply subjects of messages of one consumer, and wait until the
    consumer took them all: every answer but the last goes out on its own, the last as a
    request, answered once the consumer processed it (it processes its acknowledgements in
    the order they came, from one connection)."""
    if not replies:
        return
    for reply in replies[:-1]:
        await nc.publish(reply, answer)
    await nc.request(replies[-1], answer, timeout=timeout)


# -- reads (also on the reader's connection: see busbar.store.nats.reader) -------------


async def read_range(
    js: JetStreamContext,
    stream: str,
    after: int,
    limit: int | None,
    subject: str | None = None,
    headers_only: bool = False,
) -> list[Msg]:
    """Up to *limit* (None: every) messages of *stream* (on *subject*) with sequences above
    *after*, in order: a short-lived consumer starting there.  *headers_only*: without
    their payloads (``Nats-Msg-Size`` says how large each is)."""
    if limit is not None and limit <= 0:
        return []
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=max(1, after + 1),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        mem_storage=True,
        num_replicas=1,
        filter_subject=subject,
        headers_only=headers_only or None,
    )
    deadline = time.monotonic() + WRITE_DEADLINE
    info = await retrying(lambda: js.add_consumer(stream, config), deadline)
    found: list[Msg] = []
    pending = info.num_pending or 0
    wanted = pending if limit is None else min(limit, pending)
    if wanted == 0:
        await _forget_consumer(js, stream, info.name)
        return found
    sub = await js.pull_subscribe_bind(consumer=info.name, stream=stream)
    try:
        while len(found) < wanted:
            try:
                found.extend(await sub.fetch(min(_PAGE, wanted - len(found)), timeout=2.0))
            except TimeoutError:
                break
            except ServiceUnavailableError:
                # A consumer just made in a cluster may not answer its first pull yet ("no responders").
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    finally:
        await sub.unsubscribe()
        await _forget_consumer(js, stream, info.name)
    return found[:wanted]


async def _forget_consumer(js: JetStreamContext, stream: str, name: str) -> None:
    try:
        await js.delete_consumer(stream, name)
    except Exception:  # noqa: BLE001 - it goes away by itself (inactive threshold)
        pass


async def read_events(js: JetStreamContext, names: Names, after: int, limit: int) -> list[StoredEvent]:
    return [
        decode_event(msg.metadata.sequence.stream, msg.data) for msg in await read_range(js, names.events, after, limit)
    ]


async def last_seq(js: JetStreamContext, names: Names) -> int:
    info = await js.stream_info(names.events)
    return int(info.state.last_seq)


async def unrouted(js: JetStreamContext, names: Names) -> int:
    info = await js.consumer_info(names.events, ROUTER)
    return int(info.num_pending) + int(info.num_ack_pending)


async def prune(js: JetStreamContext, names: Names, ingested_before: float, limit: int) -> int:
    """Purge at most *limit* of the oldest routed events ingested before *ingested_before*
    (their headers are read, a page at a time, until one is too young or not routed)."""
    floor = int((await js.consumer_info(names.events, ROUTER)).ack_floor.stream_seq)
    after = int((await js.stream_info(names.events)).state.first_seq) - 1
    upto, count = 0, 0
    while count < limit and after < floor:
        page = await read_range(js, names.events, after, min(_PAGE, limit - count, floor - after), headers_only=True)
        if not page:
            break
        for msg in page:
            seq = msg.metadata.sequence.stream
            if seq > floor or float((msg.headers or {}).get(INGESTED_AT, "inf")) >= ingested_before:
                after = floor  # done: the rest is younger, or not routed yet
                break
            upto, count, after = seq, count + 1, seq
    if upto:
        await js.purge_stream(names.events, seq=upto + 1)  # every message below upto + 1
    return count
