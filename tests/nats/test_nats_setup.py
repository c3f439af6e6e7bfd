"""Idempotent setup (several busbar nodes start at once and all declare the same streams,
buckets and consumers) and the errors busbar must turn into a clear refusal to start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy, KeyValueConfig, StreamConfig
from nats.js.errors import APIError, BadRequestError, ServerError, ServiceUnavailableError

from natsserver import NatsCluster, NatsServer, until_available


async def declare_everything(nc: nats.aio.client.Client, tag: str, replicas: int) -> tuple[int, int, str]:
    js = nc.jetstream()
    info = await js.add_stream(StreamConfig(name=f"EV{tag}", subjects=[f"ev{tag}.>"], num_replicas=replicas))
    kv = await js.create_key_value(KeyValueConfig(bucket=f"res{tag}", history=5, replicas=replicas))
    consumer = await js.add_consumer(
        f"EV{tag}", ConsumerConfig(durable_name="router", ack_wait=30, max_ack_pending=1000)
    )
    # In a cluster, a create answered "already exists" can come back before the stream has a
    # leader that the client's server knows of: the first publish then fails with "no responders"
    # (NoStreamResponseError) for a moment.  Retry (bounded).
    await until_available(lambda: kv.put("marker", b"x"))
    return info.config.num_replicas or 1, (await kv.status()).history, consumer.name


@pytest.mark.parametrize("where", ["single", "cluster"])
def test_concurrent_identical_declarations_all_succeed(
    where: str, nats_server: NatsServer, nats_cluster: NatsCluster
) -> None:
    urls = nats_server.url if where == "single" else nats_cluster.urls
    replicas = 1 if where == "single" else 3

    async def scenario() -> list[tuple[int, int, str]]:
        clients = [await nats.connect(urls) for _ in range(4)]
        results = []
        for round_ in range(5):
            tag = f"{where}{round_}"
            results += await asyncio.gather(*(declare_everything(nc, tag, replicas) for nc in clients))
        for nc in clients:
            await nc.close()
        return results

    assert set(asyncio.run(scenario())) == {(replicas, 5, "router")}


def test_a_different_configuration_is_refused_and_update_stream_changes_it(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="CHANGE", subjects=["change.a"]))
        with pytest.raises(BadRequestError) as different:
            await js.add_stream(StreamConfig(name="CHANGE", subjects=["change.a", "change.b"]))
        assert (different.value.err_code, different.value.description) == (
            10058,
            "stream name already in use with a different configuration",
        )
        updated = await js.update_stream(StreamConfig(name="CHANGE", subjects=["change.a", "change.b"]))
        assert updated.config.subjects == ["change.a", "change.b"]
        await js.publish("change.b", b"now accepted")
        # A consumer is different: nats-py's add_consumer is create-or-update.  An editable field
        # (ack_wait, max_ack_pending, backoff, ...) is silently updated ...
        await js.add_consumer("CHANGE", ConsumerConfig(durable_name="c", ack_wait=30))
        updated_consumer = await js.add_consumer("CHANGE", ConsumerConfig(durable_name="c", ack_wait=60))
        assert updated_consumer.config.ack_wait == 60
        # ... a fixed one is refused (a 500, ServerError, not a 400).
        with pytest.raises(ServerError) as consumer:
            await js.add_consumer(
                "CHANGE", ConsumerConfig(durable_name="c", ack_wait=60, deliver_policy=DeliverPolicy.NEW)
            )
        assert (consumer.value.err_code, consumer.value.description) == (
            10012,
            "deliver policy can not be updated",
        )
        await nc.close()

    asyncio.run(scenario())


def test_jetstream_disabled_on_the_server(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "plain", jetstream=False).start()

    async def scenario() -> list[tuple[type, str]]:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        seen = []
        for call in (js.account_info(), js.add_stream(StreamConfig(name="X", subjects=["x"]))):
            with pytest.raises(Exception) as raised:  # noqa: PT011 - the point is which type comes
                await call
            seen.append((type(raised.value), str(raised.value)))
        await nc.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        server.stop()
    # Both the account info and any JetStream API call: ServiceUnavailableError with NO text at all
    # (the server has no responder on $JS.API.>; nats-py maps "no responders" to a bare 503 error).
    # busbar must say itself: "JetStream is not enabled on the NATS server (start it with -js)".
    assert (
        seen
        == [(ServiceUnavailableError, "nats: ServiceUnavailableError: code=None err_code=None description='None'")] * 2
    )


def test_replicas_3_on_a_single_server(nats_server: NatsServer) -> None:
    async def scenario() -> list[tuple[int | None, int | None, str | None]]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        seen = []
        with pytest.raises(APIError) as stream:
            await js.add_stream(StreamConfig(name="R3ALONE", subjects=["r3alone"], num_replicas=3))
        seen.append((stream.value.code, stream.value.err_code, stream.value.description))
        with pytest.raises(APIError) as bucket:
            await js.create_key_value(KeyValueConfig(bucket="r3alone", replicas=3))
        seen.append((bucket.value.code, bucket.value.err_code, bucket.value.description))
        await nc.close()
        return seen

    # A 500 (ServerError), for a stream and for a KV bucket alike.
    assert asyncio.run(scenario()) == [(500, 10074, "replicas > 1 not supported in non-clustered mode")] * 2


def test_more_replicas_than_cluster_members(nats_cluster: NatsCluster) -> None:
    async def scenario() -> tuple[int | None, int | None, str | None]:
        nc = await nats.connect(nats_cluster.urls)
        with pytest.raises(APIError) as raised:
            await nc.jetstream().add_stream(StreamConfig(name="R5", subjects=["r5"], num_replicas=5))
        await nc.close()
        return raised.value.code, raised.value.err_code, raised.value.description

    assert asyncio.run(scenario()) == (400, 10005, "no suitable peers for placement")
