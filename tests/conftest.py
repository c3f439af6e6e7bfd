"""Fixtures shared by the whole suite: a real busbar server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import support
from httptarget import HttpTarget
from natsserver import NatsCluster, NatsServer, nats_cluster, nats_cluster_factory, nats_server  # noqa: F401
from support import TEST_STORE, BusbarProcess

# No timing thresholds in tests: hypothesis's per-example deadline is one, and it fails
# on a loaded machine; examples are bounded by their count instead.
settings.register_profile("busbar", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("busbar")


@pytest.fixture(scope="session", autouse=True)
def test_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """With BUSBAR_TEST_STORE=nats or cluster, the NATS servers every busbar of the session
    stores in (see tests/support.py)."""
    if TEST_STORE == "sqlite":
        yield
        return
    if TEST_STORE == "nats":
        single = NatsServer(tmp_path_factory.mktemp("test-store") / "nats").start()
        support.NATS = support.NatsDeployment([single.url], 1)
        yield
        single.stop()
    else:
        cluster = NatsCluster(tmp_path_factory.mktemp("test-store")).start()
        support.NATS = support.NatsDeployment(cluster.urls, 3)
        yield
        cluster.stop()
    support.NATS = None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    """One busbar server shared by the tests that do not restart or reconfigure it."""
    process = BusbarProcess(tmp_path_factory.mktemp("shared") / "data").start()
    yield process
    process.stop()
    process.discard()


@pytest.fixture
def events(server: BusbarProcess):  # noqa: ANN201 - a boto3 client
    """A boto3 EventBridge client pointed at the shared server."""
    return server.client()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[BusbarProcess]:
    """A server of the test's own, on its own data directory (started by the test)."""
    process = BusbarProcess(tmp_path / "data")
    yield process
    process.discard()


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """A real local HTTP server to deliver to (records requests, answers as scripted)."""
    server = HttpTarget().start()
    yield server
    server.stop()
