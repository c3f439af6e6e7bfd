"""KV facts (nats-py 2.16 against nats-server 2.15.1): compare-and-set, deletes, watchers, history.

busbar keeps its resources (buses, rules, targets, ...) in KV buckets with revisions and change
notices; these tests pin down what the client raises and what a watcher sees."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    BadRequestError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KeyValue

from natsserver import NatsCluster, NatsServer, until_available


def bucket_name(request: pytest.FixtureRequest) -> str:
    return request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:60]


def test_create_update_delete_compare_and_set(nats_server: NatsServer, request: pytest.FixtureRequest) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        kv = await js.create_key_value(KeyValueConfig(bucket=bucket_name(request), history=5))

        first = await kv.create("rule.a", b"v1")
        # create() of an existing key: KeyWrongLastSequenceError (a BadRequestError, an APIError),
        # but nats-py keeps only the description: no code/err_code attributes on it.
        with pytest.raises(KeyWrongLastSequenceError) as exists:
            await kv.create("rule.a", b"again")
        assert isinstance(exists.value, BadRequestError)
        assert not hasattr(exists.value, "err_code")
        assert exists.value.description == "wrong last sequence: 1"

        second = await kv.update("rule.a", b"v2", last=first)
        assert second > first
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.update("rule.a", b"stale", last=first)
        assert (await kv.get("rule.a")).value == b"v2"

        # delete(last=stale) is refused by the server but nats-py does NOT translate it:
        # it surfaces as a plain BadRequestError with the same code 10071.
        with pytest.raises(BadRequestError) as stale_delete:
            await kv.delete("rule.a", last=first)
        assert not isinstance(stale_delete.value, KeyWrongLastSequenceError)
        assert stale_delete.value.err_code == 10071
        assert await kv.delete("rule.a", last=second)
        with pytest.raises(KeyNotFoundError):
            await kv.get("rule.a")
        # create() after a delete succeeds (nats-py sees the tombstone and retries on its revision).
        assert await kv.create("rule.a", b"reborn") > second

        # An update with last=0 or None means "must not exist": same error as create().
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.update("rule.a", b"x", last=None)

        history = await kv.history("rule.a")
        assert [(e.value, e.operation) for e in history] == [
            (b"v1", None),
            (b"v2", None),
            (b"", "DEL"),
            (b"reborn", None),
        ]
        await nc.close()

    asyncio.run(scenario())


def test_keys_of_an_empty_bucket_raise(nats_server: NatsServer, request: pytest.FixtureRequest) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().create_key_value(KeyValueConfig(bucket=bucket_name(request)))
        with pytest.raises(NoKeysError):
            await kv.keys()
        await kv.put("a", b"1")
        await kv.put("b", b"1")
        await kv.delete("b")
        assert await kv.keys() == ["a"]
        await nc.close()

    asyncio.run(scenario())


async def drain(watcher: KeyValue.KeyWatcher, count: int) -> list[KeyValue.Entry]:
    entries = []
    while len(entries) < count:
        entry = await watcher.updates(timeout=10)
        if entry is not None:
            entries.append(entry)
    return entries


def test_watch_delivers_current_values_then_every_change_in_order(
    nats_server: NatsServer, request: pytest.FixtureRequest
) -> None:
    async def scenario() -> None:
        mine = await nats.connect(nats_server.url)
        other = await nats.connect(nats_server.url)
        kv = await mine.jetstream().create_key_value(KeyValueConfig(bucket=bucket_name(request), history=10))
        kv_other = await other.jetstream().key_value(bucket_name(request))
        await kv.put("a", b"a1")
        await kv.put("a", b"a2")
        await kv.put("b", b"b1")

        watcher = await kv.watchall()
        # Initial values: the LAST value of each key (not the history), then a None marker.
        initial = []
        while (entry := await watcher.updates(timeout=10)) is not None:
            initial.append((entry.key, entry.value))
        assert initial == [("a", b"a2"), ("b", b"b1")]

        # Then every change, from this connection and from another, in revision order, deletes included.
        for i in range(50):
            await (kv if i % 2 else kv_other).put(f"k{i % 5}", str(i).encode())
        await kv_other.delete("a")
        changes = await drain(watcher, 51)
        assert [e.value for e in changes[:50]] == [str(i).encode() for i in range(50)]
        assert changes[50].key == "a" and changes[50].operation == "DEL"
        revisions = [e.revision for e in changes]
        assert revisions == sorted(revisions)
        await watcher.stop()

        # An empty watch gets the None marker at once.
        empty = await kv.watch("nothing.here")
        assert await empty.updates(timeout=10) is None
        await mine.close()
        await other.close()

    asyncio.run(scenario())


def test_watcher_resumes_after_the_server_holding_its_consumer_is_killed(nats_cluster_factory) -> None:  # noqa: ANN001
    """A watch is an ordered push consumer (R1, in memory) on ONE server.  When that server dies,
    nats-py notices two missed idle heartbeats (5 s each, not configurable through watch()) and
    re-creates the consumer from the last stream sequence it saw: nothing is lost that the bucket
    still holds.  With history=1 only the newest value per key is still there; this bucket keeps
    64, so every intermediate update must arrive, in order."""
    cluster: NatsCluster = nats_cluster_factory()

    async def scenario() -> list[bytes]:
        watch_nc = await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        writer = await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        kv = await writer.jetstream().create_key_value(KeyValueConfig(bucket="RESUME", replicas=3, history=64))
        watcher = await (await watch_nc.jetstream().key_value("RESUME")).watchall()
        assert await watcher.updates(timeout=10) is None
        for i in range(5):
            await kv.put("k", f"before{i}".encode())
        seen = [e.value for e in await drain(watcher, 5)]

        host = (await watcher._sub.consumer_info()).cluster.leader  # type: ignore[attr-defined]
        next(server for server in cluster.servers if server.name == host).kill()
        for i in range(20):
            # While the bucket's stream elects a new leader (if it was on the dead server),
            # puts fail fast with NoStreamResponseError: retry.
            await until_available(lambda i=i: kv.put("k", f"after{i}".encode()))  # type: ignore[misc]
        while len(seen) < 25:
            entry = await watcher.updates(timeout=60)
            if entry is not None:
                seen.append(entry.value)
        await watch_nc.close()
        await writer.close()
        return seen

    seen = asyncio.run(scenario())
    assert seen == [f"before{i}".encode() for i in range(5)] + [f"after{i}".encode() for i in range(20)]
