"""Delayed and repeating messages (nats-server 2.12+ message schedules) and per-message TTL
(2.11+), driven from nats-py 2.16, whose StreamConfig has allow_msg_schedules/allow_msg_ttl.

A schedule is a message on a subject of its own (here sched.<id>) carrying
``Nats-Schedule`` and ``Nats-Schedule-Target``; when due, the server writes the payload INTO
THE SAME STREAM on the target subject (a core subscriber on the target sees nothing: read it
with a consumer) with headers Nats-Scheduler=<schedule subject> and Nats-Schedule-Next."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from natsserver import NatsCluster, NatsServer, until_available


def at(seconds: float) -> str:
    """``@at`` with an RFC 3339 UTC time ``seconds`` from now (fractions of a second are kept)."""
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return "@at " + moment.isoformat().replace("+00:00", "Z")


def schedule(when: str, target: str, **extra: str) -> dict[str, str]:
    return {"Nats-Schedule": when, "Nats-Schedule-Target": target, **extra}


async def connect_with_stream(urls: str | list[str], name: str, replicas: int = 1) -> tuple[Client, JetStreamContext]:
    nc = await nats.connect(urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    # Subjects <name>.sched.> (schedules) and <name>.due.> (their targets): streams on the shared
    # server must not overlap.
    await js.add_stream(
        StreamConfig(
            name=name,
            subjects=[f"{name}.sched.>", f"{name}.due.>"],
            allow_msg_schedules=True,
            allow_msg_ttl=True,
            num_replicas=replicas,
        )
    )
    return nc, js


async def due_messages(js: JetStreamContext, stream: str, wait: float) -> list[Msg]:
    """Every message on <stream>.due.> after ``wait`` seconds (an ephemeral consumer reads from the start)."""
    await asyncio.sleep(wait)
    sub = await js.pull_subscribe(f"{stream}.due.>", stream=stream)
    try:
        msgs = await sub.fetch(100, timeout=1)
    except nats.errors.TimeoutError:
        msgs = []
    await sub.unsubscribe()
    return msgs


def test_a_scheduled_message_arrives_on_its_target_when_due(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await connect_with_stream(nats_server.url, "SCHED")
        ack = await js.publish("SCHED.sched.e1", b"deliver me", headers=schedule(at(3), "SCHED.due.e1"))
        assert ack.seq == 1
        assert await due_messages(js, "SCHED", 0.5) == []  # looked at between 0.5 s and 1.5 s
        (fired,) = await due_messages(js, "SCHED", 3.0)
        assert (fired.subject, fired.data) == ("SCHED.due.e1", b"deliver me")
        assert fired.headers == {"Nats-Scheduler": "SCHED.sched.e1", "Nats-Schedule-Next": "purge"}
        # A one-shot schedule is removed once fired.
        with pytest.raises(NotFoundError):
            await js.get_last_msg("SCHED", "SCHED.sched.e1")
        await nc.close()

    asyncio.run(scenario())


def test_schedules_are_replaced_by_a_newer_one_and_cancelled_by_purging(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await connect_with_stream(nats_server.url, "REPLACE")
        await js.publish("REPLACE.sched.r", b"old", headers=schedule(at(1), "REPLACE.due.r"))
        await js.publish("REPLACE.sched.r", b"new", headers=schedule(at(2), "REPLACE.due.r"))
        await js.publish("REPLACE.sched.c", b"cancelled", headers=schedule(at(1), "REPLACE.due.c"))
        await js.purge_stream("REPLACE", subject="REPLACE.sched.c")
        # A schedule in the past fires at once.
        await js.publish("REPLACE.sched.p", b"overdue", headers=schedule(at(-60), "REPLACE.due.p"))
        fired = await due_messages(js, "REPLACE", 3.5)
        assert sorted((m.subject, m.data) for m in fired) == [("REPLACE.due.p", b"overdue"), ("REPLACE.due.r", b"new")]
        await nc.close()

    asyncio.run(scenario())


def test_repeating_schedules_and_ttl_of_the_produced_message(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await connect_with_stream(nats_server.url, "REPEAT")
        await js.publish("REPEAT.sched.every", b"tick", headers=schedule("@every 1s", "REPEAT.due.every"))
        await js.publish(
            "REPEAT.sched.cron", b"cron", headers=schedule("* * * * * *", "REPEAT.due.cron")
        )  # 6 fields: seconds
        await js.publish(
            "REPEAT.sched.t", b"short-lived", headers=schedule(at(0.5), "REPEAT.due.t", **{"Nats-Schedule-TTL": "1s"})
        )
        await asyncio.sleep(3.2)
        await js.purge_stream("REPEAT", subject="REPEAT.sched.every")  # stops the repetition
        await js.purge_stream("REPEAT", subject="REPEAT.sched.cron")
        fired = await due_messages(js, "REPEAT", 0)
        by_subject = {
            s: [m for m in fired if m.subject == s] for s in ("REPEAT.due.every", "REPEAT.due.cron", "REPEAT.due.t")
        }
        assert len(by_subject["REPEAT.due.every"]) >= 2 and len(by_subject["REPEAT.due.cron"]) >= 2
        # Nats-Schedule-Next names the following tick.
        assert by_subject["REPEAT.due.every"][0].headers["Nats-Schedule-Next"].endswith("Z")  # type: ignore[index]
        # The produced message carried Nats-TTL: 1s and has expired already.
        assert by_subject["REPEAT.due.t"] == []
        await nc.close()

    asyncio.run(scenario())


def test_schedule_errors(nats_server: NatsServer) -> None:
    async def scenario() -> list[tuple[int | None, str | None]]:
        nc, js = await connect_with_stream(nats_server.url, "SCHEDERR")
        await js.add_stream(StreamConfig(name="PLAIN", subjects=["plain.>"]))
        await js.add_stream(StreamConfig(name="ELSEWHERE", subjects=["elsewhere.>"]))
        errors = []
        for subject, headers in [
            ("plain.a", schedule(at(1), "plain.b")),  # stream without allow_msg_schedules
            ("SCHEDERR.sched.a", schedule(at(1), "elsewhere.a")),  # target in another stream
            ("SCHEDERR.sched.a", schedule(at(1), "SCHEDERR.sched.a")),  # target = the schedule's own subject
            ("SCHEDERR.sched.a", {"Nats-Schedule": at(1)}),  # no target
            ("plain.a", {"Nats-TTL": "1s"}),  # TTL on a stream without allow_msg_ttl
        ]:
            with pytest.raises(BadRequestError) as raised:
                await js.publish(subject, b"x", headers=headers)
            errors.append((raised.value.err_code, raised.value.description))
        await nc.close()
        return errors

    assert asyncio.run(scenario()) == [
        (10188, "message schedules is disabled"),
        (10190, "message schedules target is invalid"),
        (10190, "message schedules target is invalid"),
        (10190, "message schedules target is invalid"),
        (10166, "per-message TTL is disabled"),
    ]


def test_per_message_ttl(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc, js = await connect_with_stream(nats_server.url, "TTL")
        await js.publish("TTL.due.lease", b"held", msg_ttl=1)  # nats-py sends Nats-TTL: 1
        assert (await js.get_last_msg("TTL", "TTL.due.lease")).data == b"held"
        await asyncio.sleep(2.5)
        with pytest.raises(NotFoundError):
            await js.get_last_msg("TTL", "TTL.due.lease")
        await nc.close()

    asyncio.run(scenario())


def test_the_raw_api_creates_a_scheduling_stream_too(nats_server: NatsServer) -> None:
    """For a client whose StreamConfig lacks the fields: $JS.API.STREAM.CREATE.<name> with JSON."""

    async def scenario() -> dict[str, object]:
        nc = await nats.connect(nats_server.url)
        config = {"name": "RAW", "subjects": ["raw.>"], "allow_msg_schedules": True, "storage": "file"}
        reply = await nc.request("$JS.API.STREAM.CREATE.RAW", json.dumps(config).encode(), timeout=5)
        await nc.close()
        answer: dict[str, object] = json.loads(reply.data)
        return answer

    answer = asyncio.run(scenario())
    assert answer["config"]["allow_msg_schedules"] is True  # type: ignore[index]


def test_a_pending_schedule_survives_a_server_restart(tmp_path) -> None:  # noqa: ANN001
    server = NatsServer(tmp_path / "store").start()
    try:

        async def plant() -> None:
            nc, js = await connect_with_stream(server.url, "DURABLE")
            await js.publish("DURABLE.sched.d", b"after restart", headers=schedule(at(1.5), "DURABLE.due.d"))
            await nc.close()

        async def harvest() -> list[tuple[str, bytes]]:
            nc = await nats.connect(server.url)
            fired = await due_messages(nc.jetstream(), "DURABLE", 1.5)
            await nc.close()
            return [(m.subject, m.data) for m in fired]

        asyncio.run(plant())
        server.kill()
        time.sleep(2.5)  # the schedule falls due while the server is down: it fires after the restart
        server.restart()
        assert asyncio.run(harvest()) == [("DURABLE.due.d", b"after restart")]
    finally:
        server.kill()


def test_a_pending_schedule_survives_killing_the_r3_stream_leader(nats_cluster_factory) -> None:  # noqa: ANN001
    cluster: NatsCluster = nats_cluster_factory()

    async def scenario() -> list[tuple[str, bytes]]:
        nc, js = await connect_with_stream(cluster.urls, "R3SCHED", replicas=3)
        await js.publish("R3SCHED.sched.d", b"after failover", headers=schedule(at(3), "R3SCHED.due.d"))
        leader = (await js.stream_info("R3SCHED")).cluster.leader  # type: ignore[union-attr]
        next(s for s in cluster.servers if s.name == leader).kill()
        await until_available(lambda: js.stream_info("R3SCHED"))  # a new stream leader
        fired = await due_messages(js, "R3SCHED", 5)
        await nc.close()
        return [(m.subject, m.data) for m in fired]

    assert asyncio.run(scenario()) == [("R3SCHED.due.d", b"after failover")]


def test_a_retry_scheduled_on_a_work_queue_frees_the_consumer_at_once(nats_server: NatsServer) -> None:
    """The alternative to nak(delay) for backoff: publish the next attempt as a schedule (@at due
    time, target = the target's delivery subject, Nats-Msg-Id = delivery+attempt) and ack the
    current one.  Works on a work-queue stream; the max_ack_pending slot is free meanwhile, so
    other deliveries of the same target flow, and the retry arrives when due."""

    async def scenario() -> list[bytes]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name="RETRY",
                subjects=["RETRY.deliveries.>", "RETRY.retries.>"],
                retention=RetentionPolicy.WORK_QUEUE,
                allow_msg_schedules=True,
            )
        )
        sub = await js.pull_subscribe("RETRY.deliveries.t1", durable="t1", config=ConsumerConfig(max_ack_pending=1))
        await js.publish("RETRY.deliveries.t1", b"attempt 1")
        (failed,) = await sub.fetch(1, timeout=5)
        retry = schedule(at(1.5), "RETRY.deliveries.t1", **{"Nats-Msg-Id": "evt1/t1/2"})
        await js.publish("RETRY.retries.evt1.t1", b"attempt 2", headers=retry)
        await failed.ack_sync()
        await js.publish("RETRY.deliveries.t1", b"another event")
        order = []
        while len(order) < 2:
            (msg,) = await sub.fetch(1, timeout=5)
            order.append(msg.data)
            await msg.ack_sync()
        assert (await js.stream_info("RETRY")).state.messages == 0
        await nc.close()
        return order

    assert asyncio.run(scenario()) == [b"another event", b"attempt 2"]
