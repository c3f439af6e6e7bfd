"""Durable pull consumer facts: sharing, fetch, ack/nak/in_progress/term, redelivery limits,
and the crucial one: a message nak'd with a delay still holds a max_ack_pending slot."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.client import JetStreamContext

from natsserver import NatsServer


async def stream_with_messages(
    server: NatsServer, name: str, count: int, **stream: object
) -> tuple[Client, JetStreamContext]:
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"], **stream))  # type: ignore[arg-type]
    for i in range(count):
        await js.publish(f"{name.lower()}.x", str(i).encode())
    return nc, js


async def fetch_or_nothing(sub: JetStreamContext.PullSubscription, batch: int, timeout: float) -> list[Msg]:
    try:
        return await sub.fetch(batch, timeout=timeout)
    except nats.errors.TimeoutError:
        return []


def test_a_durable_shared_by_two_clients_gives_each_message_to_one(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "SHARED", 200)
        other = await nats.connect(nats_server.url)
        subs = [
            await js.pull_subscribe("shared.>", durable="workers"),
            await other.jetstream().pull_subscribe("shared.>", durable="workers"),
        ]
        got: list[list[bytes]] = [[], []]

        async def work(index: int) -> None:
            while msgs := await fetch_or_nothing(subs[index], 7, 1.0):
                for msg in msgs:
                    got[index].append(msg.data)
                    await msg.ack()

        await asyncio.gather(work(0), work(1))
        assert got[0] and got[1], "both clients got work"
        assert sorted(got[0] + got[1], key=int) == [str(i).encode() for i in range(200)]
        assert not set(got[0]) & set(got[1])
        await other.close()
        await nc.close()

    asyncio.run(scenario())


def test_fetch_returns_what_is_there_and_times_out_when_nothing_is(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "FETCH", 3)
        sub = await js.pull_subscribe("fetch.>", durable="f")
        # Fewer than asked: returns the 3 available without waiting for the batch to fill.
        msgs = await sub.fetch(10, timeout=5)
        assert [m.data for m in msgs] == [b"0", b"1", b"2"]
        for msg in msgs:
            await msg.ack()
        # Nothing available: nats.errors.TimeoutError (for batch>1 and batch=1 alike) after `timeout`.
        for batch in (1, 10):
            with pytest.raises(nats.errors.TimeoutError):
                await sub.fetch(batch, timeout=0.5)
        # A waiting fetch gets a message published while it waits.
        waiting = asyncio.create_task(sub.fetch(5, timeout=5))
        await asyncio.sleep(0.3)
        await js.publish("fetch.x", b"late")
        assert [m.data for m in await waiting] == [b"late"]
        await nc.close()

    asyncio.run(scenario())


def test_nak_with_delay_redelivers_later_with_num_delivered_2(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "NAK", 1)
        sub = await js.pull_subscribe("nak.>", durable="n", config=ConsumerConfig(ack_wait=30))
        (first,) = await sub.fetch(1, timeout=5)
        assert first.metadata.num_delivered == 1
        await first.nak(delay=1.5)
        # Not before the delay ...
        assert await fetch_or_nothing(sub, 1, 0.7) == []
        # ... but after it, same stream sequence, delivered count 2, consumer sequence advanced.
        (again,) = await sub.fetch(1, timeout=5)
        assert again.metadata.sequence.stream == first.metadata.sequence.stream
        assert again.metadata.num_delivered == 2
        assert again.metadata.sequence.consumer > first.metadata.sequence.consumer
        # A plain nak (no delay) redelivers at once.
        await again.nak()
        (third,) = await sub.fetch(1, timeout=5)
        assert third.metadata.num_delivered == 3
        await third.ack()
        await nc.close()

    asyncio.run(scenario())


def test_in_progress_holds_a_message_past_ack_wait_and_term_drops_it(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "WPI", 2)
        sub = await js.pull_subscribe("wpi.>", durable="w", config=ConsumerConfig(ack_wait=2.0))
        slow, doomed = await sub.fetch(2, timeout=5)
        await doomed.term()
        # 4.8 s = more than two ack_waits, kept alive by +WPI every 0.4 s: no redelivery meanwhile.
        for _ in range(12):
            await slow.in_progress()
            assert await fetch_or_nothing(sub, 1, 0.4) == []
        # Stop signalling progress: redelivered after ack_wait; the terminated one never comes back.
        (redelivered,) = await sub.fetch(1, timeout=5)
        assert redelivered.data == slow.data and redelivered.metadata.num_delivered == 2
        await redelivered.ack_sync()
        assert await fetch_or_nothing(sub, 1, 2.5) == []
        info = await sub.consumer_info()
        assert (info.num_ack_pending, info.num_pending, info.num_redelivered) == (0, 0, 0)
        await nc.close()

    asyncio.run(scenario())


def test_max_deliver_stops_redelivery_and_publishes_an_advisory(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "MAXD", 1)
        advisories = await nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MAXD.m")
        sub = await js.pull_subscribe("maxd.>", durable="m", config=ConsumerConfig(max_deliver=3, ack_wait=30))
        counts = []
        while msgs := await fetch_or_nothing(sub, 1, 1.0):
            counts.append(msgs[0].metadata.num_delivered)
            await msgs[0].nak()
        assert counts == [1, 2, 3]
        advisory = json.loads((await advisories.next_msg(timeout=5)).data)
        assert advisory["type"] == "io.nats.jetstream.advisory.v1.max_deliver"
        assert (advisory["stream_seq"], advisory["deliveries"]) == (1, 3)
        # The message stays in the stream (limits retention) and is no longer pending for the consumer.
        info = await sub.consumer_info()
        assert (info.num_ack_pending, info.num_pending) == (0, 0)
        await nc.close()

    asyncio.run(scenario())


def test_backoff_list_spaces_redeliveries_of_unacked_messages(nats_server: NatsServer) -> None:
    """backoff replaces ack_wait for redeliveries after a missed ack (not after a nak)."""

    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "BACKOFF", 1)
        config = ConsumerConfig(max_deliver=4, backoff=[0.5, 1.5, 3.0])
        sub = await js.pull_subscribe("backoff.>", durable="b", config=config)
        deliveries = []
        loop = asyncio.get_running_loop()
        while msgs := await fetch_or_nothing(sub, 1, 5.0):
            deliveries.append((msgs[0].metadata.num_delivered, loop.time()))  # never acked
        assert [n for n, _ in deliveries] == [1, 2, 3, 4]
        gaps = [b - a for (_, a), (_, b) in zip(deliveries, deliveries[1:], strict=False)]
        # Order only (no thresholds): each gap is longer than the one before.
        assert gaps == sorted(gaps)
        await nc.close()

    asyncio.run(scenario())


def test_backoff_needs_max_deliver_longer_than_the_list(nats_server: NatsServer) -> None:
    async def scenario() -> str:
        nc, js = await stream_with_messages(nats_server, "BADBACKOFF", 0)
        with pytest.raises(nats.js.errors.BadRequestError) as raised:
            await js.add_consumer("BADBACKOFF", ConsumerConfig(durable_name="x", backoff=[1, 2, 3], max_deliver=2))
        # max_deliver == len(backoff) is accepted, so is -1 (unlimited).
        await js.add_consumer("BADBACKOFF", ConsumerConfig(durable_name="y", backoff=[1, 2], max_deliver=2))
        await nc.close()
        return str(raised.value.description)

    # The text says ">", the check is ">=" (see above).
    assert asyncio.run(scenario()) == "max deliver is required to be > length of backoff values"


def test_a_nak_with_delay_keeps_its_max_ack_pending_slot(nats_server: NatsServer) -> None:
    """CRUCIAL for the delivery design: with max_ack_pending=10 and 10 messages nak'd with a 60 s
    delay, the consumer delivers NOTHING else until a delay ends or a slot is acked/termed.
    A backoff schedule kept in nak delays therefore blocks the whole consumer once
    max_ack_pending messages are waiting."""

    async def scenario() -> None:
        nc, js = await stream_with_messages(nats_server, "MAP", 20)
        config = ConsumerConfig(max_ack_pending=10, ack_wait=120, ack_policy=AckPolicy.EXPLICIT)
        sub = await js.pull_subscribe("map.>", durable="p", config=config)
        first = await sub.fetch(20, timeout=5)
        assert len(first) == 10  # max_ack_pending caps the first fetch
        for msg in first:
            await msg.nak(delay=60)
        await asyncio.sleep(0.2)
        info = await sub.consumer_info()
        assert (info.num_ack_pending, info.num_pending) == (10, 10)
        # The 11th message is NOT delivered although 10 are only waiting for their redelivery.
        assert await fetch_or_nothing(sub, 1, 2.0) == []
        # Terminating (or acking) one frees one slot: exactly one new message comes.  nats-py marks
        # a nak'd Msg as answered (term() would raise MsgAlreadyAckdError), but the server still
        # takes +TERM/+ACK on the reply subject of a message waiting out its nak delay.
        await nc.publish(first[0].reply, b"+TERM")
        freed = await fetch_or_nothing(sub, 5, 2.0)
        assert [m.data for m in freed] == [b"10"]
        await nc.close()

    asyncio.run(scenario())
