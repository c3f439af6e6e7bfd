"""Work-queue retention with one consumer per target (non-overlapping filter subjects), and
multi-filter / ephemeral consumers."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from natsserver import NatsCluster, NatsServer


def test_one_consumer_per_target_on_a_work_queue(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name="DELIV", subjects=["busbar.deliveries.>"], retention=RetentionPolicy.WORK_QUEUE)
        )
        # A message for a target with no consumer yet waits in the stream ...
        await js.publish("busbar.deliveries.t3", b"early")
        subs = {}
        for target in ("t1", "t2", "t3"):
            subs[target] = await js.pull_subscribe(f"busbar.deliveries.{target}", durable=f"target-{target}")
        for i in range(5):
            for target in ("t1", "t2"):
                await js.publish(f"busbar.deliveries.{target}", f"{target}-{i}".encode())
        for target, expected in (("t1", 5), ("t2", 5), ("t3", 1)):
            msgs = await subs[target].fetch(10, timeout=2)
            assert len(msgs) == expected and all(m.subject.endswith(target) for m in msgs)
            for msg in msgs:
                await msg.ack_sync()
        # ... and acked messages leave a work-queue stream.
        assert (await js.stream_info("DELIV")).state.messages == 0

        # Overlapping filters are refused (code 400, err_code 10100).
        with pytest.raises(BadRequestError) as overlap:
            await js.add_consumer("DELIV", ConsumerConfig(durable_name="all", filter_subject="busbar.deliveries.>"))
        assert overlap.value.err_code == 10100
        assert overlap.value.description == "filtered consumer not unique on workqueue stream"
        # The same durable shared by several workers is of course fine (that is one consumer).
        again = await js.pull_subscribe("busbar.deliveries.t1", durable="target-t1")
        assert (await again.consumer_info()).name == "target-t1"
        await nc.close()

    asyncio.run(scenario())


def test_unfiltered_consumers_on_a_work_queue(nats_server: NatsServer) -> None:
    async def scenario() -> str:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="WQALL", subjects=["wqall.>"], retention=RetentionPolicy.WORK_QUEUE))
        await js.add_consumer("WQALL", ConsumerConfig(durable_name="one"))
        with pytest.raises(BadRequestError) as second:
            await js.add_consumer("WQALL", ConsumerConfig(durable_name="two"))
        await nc.close()
        return str(second.value.description)

    assert asyncio.run(scenario()) == "multiple non-filtered consumers not allowed on workqueue stream"


def test_one_consumer_with_several_filter_subjects(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="MULTI", subjects=["multi.>"], retention=RetentionPolicy.WORK_QUEUE))
        await js.add_consumer("MULTI", ConsumerConfig(durable_name="ab", filter_subjects=["multi.a", "multi.b"]))
        for subject in ("multi.a", "multi.b", "multi.c", "multi.a"):
            await js.publish(subject, subject.encode())
        sub = await js.pull_subscribe_bind("ab", "MULTI")
        msgs = await sub.fetch(10, timeout=2)
        # Both filters, in stream order; multi.c is not this consumer's.
        assert [m.subject for m in msgs] == ["multi.a", "multi.b", "multi.a"]
        # The uniqueness rule applies to each filter of the list.
        with pytest.raises(BadRequestError):
            await js.add_consumer("MULTI", ConsumerConfig(durable_name="bc", filter_subjects=["multi.b", "multi.c"]))
        await js.add_consumer("MULTI", ConsumerConfig(durable_name="c", filter_subjects=["multi.c"]))
        await nc.close()

    asyncio.run(scenario())


def test_an_ephemeral_consumer_disappears_after_its_inactive_threshold(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="EPH", subjects=["eph"]))
        durable = await js.add_consumer("EPH", ConsumerConfig(durable_name="stays", inactive_threshold=1.0))
        ephemeral = await js.add_consumer("EPH", ConsumerConfig(inactive_threshold=1.0))
        assert ephemeral.name and ephemeral.config.durable_name is None
        await asyncio.sleep(4)
        with pytest.raises(NotFoundError):
            await js.consumer_info("EPH", ephemeral.name)
        # inactive_threshold applies to durables too (since 2.9): an unused durable goes as well.
        with pytest.raises(NotFoundError):
            await js.consumer_info("EPH", durable.name)
        await nc.close()

    asyncio.run(scenario())


def test_consumer_replicas_must_match_a_work_queue_streams(nats_cluster: NatsCluster) -> None:
    """R1 consumers (cheap: no raft group each) are allowed on an R3 limits stream, refused on an
    R3 work-queue (interest) stream."""

    async def scenario() -> tuple[int | None, str | None]:
        nc = await nats.connect(nats_cluster.urls)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="R3LIMITS", subjects=["r3limits.>"], num_replicas=3))
        cheap = await js.add_consumer("R3LIMITS", ConsumerConfig(durable_name="r1", num_replicas=1))
        assert cheap.config.num_replicas == 1
        await js.add_stream(
            StreamConfig(name="R3WQ", subjects=["r3wq.>"], num_replicas=3, retention=RetentionPolicy.WORK_QUEUE)
        )
        with pytest.raises(BadRequestError) as refused:
            await js.add_consumer("R3WQ", ConsumerConfig(durable_name="r1", num_replicas=1))
        await nc.close()
        return refused.value.err_code, refused.value.description

    assert asyncio.run(scenario()) == (
        10134,
        "consumer config replicas must match interest retention stream's replicas",
    )


def test_a_stream_takes_1000_consumers_unless_told_otherwise(nats_server: NatsServer) -> None:
    """nats-server 2.15 reports limits.default_max_consumers = 1000 (jsz) and applies it to a stream
    whose max_consumers is unset (-1): the 1,001st consumer is refused.  Setting the stream's
    max_consumers lifts it.  One consumer per target needs this."""
    assert nats_server.monitor("jsz")["limits"] == {"default_max_consumers": 1000}

    async def create(js: JetStreamContext, stream: str, count: int) -> None:
        for offset in range(0, count, 100):
            await asyncio.gather(
                *(
                    js.add_consumer(stream, ConsumerConfig(durable_name=f"t{i}", filter_subject=f"{stream}.t.{i}"))
                    for i in range(offset, min(count, offset + 100))
                )
            )

    async def scenario() -> tuple[int | None, str | None]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="CAP", subjects=["CAP.>"], retention=RetentionPolicy.WORK_QUEUE))
        await create(js, "CAP", 1000)
        with pytest.raises(BadRequestError) as refused:
            await js.add_consumer("CAP", ConsumerConfig(durable_name="one_more", filter_subject="CAP.t.more"))
        await js.add_stream(StreamConfig(name="UNCAPPED", subjects=["UNCAPPED.>"], max_consumers=1100))
        await create(js, "UNCAPPED", 1001)
        assert (await js.stream_info("UNCAPPED")).state.consumer_count == 1001
        await js.delete_stream("CAP")
        await js.delete_stream("UNCAPPED")
        await nc.close()
        return refused.value.err_code, refused.value.description

    assert asyncio.run(scenario()) == (10026, "maximum consumers limit reached")
