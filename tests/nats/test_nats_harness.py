"""The harness itself: a real nats-server (single and 3-server cluster) that nats-py can use,
and that survives SIGKILL and restart of a member."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from natsserver import NatsCluster, NatsServer, PortTaken, nats_server_binary, until_available


def test_binary_comes_from_the_wheel_or_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Path(nats_server_binary()).name == "nats-server"
    monkeypatch.setenv("NATS_SERVER_BIN", str(tmp_path / "no-such-binary"))
    with pytest.raises(RuntimeError, match="NATS_SERVER_BIN"):
        nats_server_binary()


def test_single_server_serves_jetstream(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="HARNESS", subjects=["harness.>"]))
        ack = await js.publish("harness.one", b"hello")
        msg = await js.get_msg("HARNESS", ack.seq)
        assert msg.data == b"hello"
        await nc.close()

    asyncio.run(scenario())
    assert nats_server.monitor("jsz")["streams"] >= 1


def test_restart_recovers_the_store(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "store").start()
    port = server.port

    async def publish() -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="KEEP", subjects=["keep"]))
        await js.publish("keep", b"before the kill")
        await nc.close()

    async def read() -> bytes:
        nc = await nats.connect(server.url)
        msg = await nc.jetstream().get_msg("KEEP", 1)
        await nc.close()
        return msg.data

    try:
        asyncio.run(publish())
        server.kill()
        assert not server.alive()
        server.restart()
        assert server.port == port
        assert asyncio.run(read()) == b"before the kill"
    finally:
        server.kill()


def test_cluster_keeps_serving_an_r3_stream_with_one_member_killed(nats_cluster_factory) -> None:  # noqa: ANN001
    cluster: NatsCluster = nats_cluster_factory()
    victim = cluster[0]

    async def scenario() -> None:
        nc = await nats.connect(cluster.urls)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="R3", subjects=["r3.>"], num_replicas=3))
        assert (await js.publish("r3.a", b"1")).seq == 1
        victim.kill()
        # Two of three still form a quorum: the publish is acknowledged (after a leader
        # election if the victim led the stream; nats-py retries nothing, so allow a few tries).
        ack = await until_available(lambda: js.publish("r3.a", b"2", timeout=2))
        assert ack.seq == 2
        info = await js.stream_info("R3")
        assert info.state.messages == 2
        await nc.close()

    asyncio.run(scenario())
    victim.restart()
    cluster.wait_ready()
    # The restarted member catches up: its own view of the stream holds both messages.
    for _ in range(100):
        details = victim.monitor("jsz", streams="true")["account_details"]
        states = [s["state"]["messages"] for a in details for s in a.get("stream_detail", [])]
        if states == [2]:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert states == [2]


def test_a_server_whose_port_was_taken_moves_to_another(tmp_path: Path) -> None:
    """Ports are chosen free but not reserved; another process may bind one first.  The harness
    then picks new ports (first start only) instead of failing the test."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = NatsServer(tmp_path / "store")
        server.port = taken
        try:
            server.start()
            assert server.port != taken and server.healthy()
        finally:
            server.kill()
    fixed = NatsServer(tmp_path / "fixed", port=server.port)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", server.port))
        squatter.listen()
        with pytest.raises(PortTaken):
            fixed.start()  # a port the caller chose is not moved


def test_a_cluster_whose_port_was_taken_starts_on_new_ports(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        cluster = NatsCluster(tmp_path / "cluster")
        cluster[1].port = taken
        try:
            cluster.start()
            assert taken not in [server.port for server in cluster.servers]
            assert cluster.meta_leader() is not None
        finally:
            cluster.kill()
