"""Starting busbar on NATS: nodes starting together both succeed; busbar refuses to start,
saying what to change, when JetStream is off or the replicas cannot be placed; /health
says when the connection to NATS is lost, and recovers with it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from cluster_support import Deployment
from natsserver import NatsCluster, NatsServer
from support import BusbarProcess


def refusal(tmp_path: Path, *args: str) -> str:
    """The log of a busbar that was started with *args* and exited."""
    process = BusbarProcess(tmp_path / "data", args=list(args), partner=False)
    with pytest.raises(RuntimeError, match="busbar exited"):
        process.start(timeout=60)
    assert process.proc is not None and process.proc.returncode != 0
    return process.log()


def test_busbar_refuses_to_start_when_jetstream_is_off(tmp_path: Path):
    plain = NatsServer(tmp_path / "plain", jetstream=False).start()
    try:
        log = refusal(tmp_path, "--store", plain.url, "--nats-replicas", "1")
    finally:
        plain.stop()
    assert f"JetStream is not enabled on the NATS server at {plain.url}" in log
    assert "-js" in log and "Traceback" not in log


def test_busbar_refuses_replicas_a_single_server_cannot_keep(tmp_path: Path, nats_server: NatsServer):
    log = refusal(tmp_path, "--store", nats_server.url, "--nats-replicas", "3", "--nats-prefix", "refused1")
    assert "cannot keep 3 replicas" in log and "--nats-replicas" in log and "Traceback" not in log


def test_busbar_refuses_more_replicas_than_the_cluster_has(tmp_path: Path, nats_cluster: NatsCluster):
    log = refusal(tmp_path, "--store", ",".join(nats_cluster.urls), "--nats-replicas", "5", "--nats-prefix", "refused5")
    assert "cannot keep 5 replicas" in log and "--nats-replicas" in log and "Traceback" not in log


def test_credentials_in_the_url_never_reach_the_log(tmp_path: Path):
    plain = NatsServer(tmp_path / "plain", jetstream=False).start()
    try:
        url = plain.url.replace("nats://", "nats://someone:hunter2@")
        log = refusal(tmp_path, "--store", url, "--nats-replicas", "1")
    finally:
        plain.stop()
    assert "hunter2" not in log and "JetStream is not enabled" in log


def test_two_nodes_starting_together_both_start(tmp_path: Path, nats_cluster: NatsCluster):
    nodes = Deployment(nats_cluster, tmp_path, nodes=2)
    key = nodes.key_file
    key.parent.mkdir(parents=True, exist_ok=True)
    first = BusbarProcess(tmp_path / "first-key", partner=False).start()  # a secrets key for both to share
    first.stop()
    key.write_bytes((tmp_path / "first-key" / "secrets.key").read_bytes())
    key.chmod(0o600)
    try:
        procs = [_spawn(node) for node in nodes.nodes]  # both at once: their declarations race
        for node in procs:
            _wait_healthy(node)
        assert nodes.client(0).put_rule(Name="together", EventPattern='{"source": ["x"]}')["RuleArn"]
        assert nodes.client(1).describe_rule(Name="together")["Name"] == "together"
    finally:
        nodes.stop()


def _spawn(node: BusbarProcess) -> BusbarProcess:
    """Start *node* without waiting for it."""
    import os
    import subprocess
    import sys

    log = open(node.log_path, "ab")
    node.proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "busbar",
            "serve",
            "--port",
            str(node.port),
            "--data-dir",
            str(node.data_dir),
            *node.args,
        ],
        env={**os.environ, **node.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return node


def _wait_healthy(node: BusbarProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert node.alive(), node.log()
        try:
            if httpx.get(f"{node.endpoint_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"node did not start: {node.log()}")


def health(node: BusbarProcess) -> httpx.Response:
    return httpx.get(f"{node.endpoint_url}/health", timeout=5)


def test_health_says_when_the_connection_to_nats_is_lost(tmp_path: Path):
    server = NatsServer(tmp_path / "nats").start()
    node = BusbarProcess(tmp_path / "data", args=["--store", server.url, "--nats-replicas", "1"], partner=False)
    node.start()
    try:
        assert health(node).status_code == 200
        server.stop()
        deadline = time.monotonic() + 30
        while (answer := health(node)).status_code == 200:
            assert time.monotonic() < deadline, "health stayed ok without NATS"
            time.sleep(0.1)
        assert answer.status_code == 503 and "lost the connection to NATS" in answer.json()["reason"]
        server.restart()
        deadline = time.monotonic() + 30
        while health(node).status_code != 200:
            assert time.monotonic() < deadline, "health did not recover with NATS"
            time.sleep(0.1)
    finally:
        node.kill()
        server.stop()
