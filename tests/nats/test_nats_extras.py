"""Other engine features an at-least-once event bus leans on: optimistic concurrency per subject,
per-subject limits with discard-new, leases with KV TTLs, direct get."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import DiscardPolicy, KeyValueConfig, StreamConfig
from nats.js.errors import (
    APIError,
    BadRequestError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    ServiceUnavailableError,
)

from natsserver import NatsServer


def test_expected_last_subject_sequence_is_compare_and_set_on_a_subject(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="OCC", subjects=["occ.>"]))
        expect = "Nats-Expected-Last-Subject-Sequence"
        first = await js.publish("occ.rule1", b"v1", headers={expect: "0"})  # 0: subject must be empty
        await js.publish("occ.rule2", b"other subject", headers={expect: "0"})
        second = await js.publish("occ.rule1", b"v2", headers={expect: str(first.seq)})
        with pytest.raises(BadRequestError) as stale:
            await js.publish("occ.rule1", b"lost update", headers={expect: str(first.seq)})
        assert (stale.value.err_code, stale.value.description) == (10071, f"wrong last sequence: {second.seq}")
        # Stream-wide variant: Nats-Expected-Last-Sequence (whole stream's last seq).
        with pytest.raises(BadRequestError) as stream_wide:
            await js.publish("occ.rule3", b"x", headers={"Nats-Expected-Last-Sequence": "1"})
        assert stream_wide.value.err_code == 10071
        await nc.close()

    asyncio.run(scenario())


def test_discard_new_per_subject_refuses_a_second_message(nats_server: NatsServer) -> None:
    async def scenario() -> tuple[type, int | None, int | None, str | None]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name="ONEPER",
                subjects=["oneper.>"],
                max_msgs_per_subject=1,
                discard=DiscardPolicy.NEW,
                discard_new_per_subject=True,
            )
        )
        await js.publish("oneper.a", b"first")
        await js.publish("oneper.b", b"another subject is fine")
        with pytest.raises(APIError) as refused:
            await js.publish("oneper.a", b"second")
        assert (await js.get_last_msg("ONEPER", "oneper.a")).data == b"first"
        await nc.close()
        error = refused.value
        return type(error), error.code, error.err_code, error.description

    # A 503 (ServiceUnavailableError), like "JetStream is off": tell them apart by err_code.
    assert asyncio.run(scenario()) == (
        ServiceUnavailableError,
        503,
        10077,
        "maximum messages per subject exceeded",
    )


def test_kv_lease_with_per_key_ttl(nats_server: NatsServer) -> None:
    """A lease ("node n1 runs the router") = kv.create(key, msg_ttl=T); renewed by compare-and-set
    on its revision.  Without limit markers an expiry is SILENT: watchers are not told."""

    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().create_key_value(KeyValueConfig(bucket="leases"))
        watcher = await kv.watchall()
        assert await watcher.updates(timeout=5) is None
        revision = await kv.create("router", b"n1", msg_ttl=3)
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.create("router", b"n2", msg_ttl=3)  # held by n1
        # Renewal: nats-py's update() takes no msg_ttl; _update() (the same compare-and-set) does.
        for _ in range(3):
            await asyncio.sleep(1)
            revision = await kv._update("router", b"n1", last=revision, msg_ttl=3)
        assert (await kv.get("router")).value == b"n1"  # 3 s after the create: renewed
        await asyncio.sleep(4.5)  # not renewed: gone
        with pytest.raises(KeyNotFoundError):
            await kv.get("router")
        assert await kv.create("router", b"n2", msg_ttl=3) > revision  # free for another node
        seen = []
        while (entry := await watcher.updates(timeout=2)) is not None:
            seen.append(entry.value)
            if len(seen) == 5:
                break
        # create + 3 renewals + the new owner's create: no entry for the expiry in between.
        assert seen == [b"n1", b"n1", b"n1", b"n1", b"n2"]
        await nc.close()

    asyncio.run(scenario())


def test_kv_ttl_expiry_markers_are_seen_by_watchers_but_confuse_get_and_create(nats_server: NatsServer) -> None:
    """With limit_marker_ttl the server writes a marker (Nats-Marker-Reason: MaxAge) when a key's TTL
    ends: watchers get a PURGE entry.  But nats-py 2.16's get() returns the marker as an entry with
    value None, and create() is refused until the marker itself expires; update(last=marker) works."""

    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().create_key_value(KeyValueConfig(bucket="marked", limit_marker_ttl=30))
        watcher = await kv.watchall()
        assert await watcher.updates(timeout=5) is None
        await kv.create("router", b"n1", msg_ttl=1)
        await asyncio.sleep(2.5)
        created, expired = await watcher.updates(timeout=5), await watcher.updates(timeout=5)
        assert (created.value, created.operation) == (b"n1", None)
        assert expired.operation == "PURGE"
        marker = await kv.get("router")
        assert (marker.value, marker.revision) == (None, expired.revision)
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.create("router", b"n2", msg_ttl=1)
        assert await kv.update("router", b"n2", last=expired.revision) > expired.revision
        await nc.close()

    asyncio.run(scenario())


def test_bucket_ttl_expires_every_key(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().create_key_value(KeyValueConfig(bucket="heartbeats", ttl=1.0))
        await kv.put("node.n1", b"alive")
        await asyncio.sleep(2.5)
        with pytest.raises(KeyNotFoundError):
            await kv.get("node.n1")
        await nc.close()

    asyncio.run(scenario())


def test_direct_get(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="DIRECT", subjects=["direct.>"], allow_direct=True))
        await js.publish("direct.a", b"1")
        await js.publish("direct.a", b"2")
        assert (await js.get_msg("DIRECT", seq=1, direct=True)).data == b"1"
        assert (await js.get_last_msg("DIRECT", "direct.a", direct=True)).data == b"2"
        # KV buckets use it when created with direct=True (nats-py's default leaves it off).
        kv = await js.create_key_value(KeyValueConfig(bucket="direct_kv", direct=True))
        assert (await kv.status()).stream_info.config.allow_direct is True
        default = await js.create_key_value(KeyValueConfig(bucket="plain_kv"))
        assert (await default.status()).stream_info.config.allow_direct is False
        await nc.close()

    asyncio.run(scenario())
