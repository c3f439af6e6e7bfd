"""Fixtures shared by the whole suite: a real busbar server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from httptarget import HttpTarget
from natsserver import nats_cluster, nats_cluster_factory, nats_server  # noqa: F401 - fixtures
from support import BusbarProcess

# No timing thresholds in tests: hypothesis's per-example deadline is one, and it fails
# on a loaded machine; examples are bounded by their count instead.
settings.register_profile("busbar", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("busbar")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    """One busbar server shared by the tests that do not restart or reconfigure it."""
    process = BusbarProcess(tmp_path_factory.mktemp("shared") / "data").start()
    yield process
    process.stop()


@pytest.fixture
def events(server: BusbarProcess):  # noqa: ANN201 - a boto3 client
    """A boto3 EventBridge client pointed at the shared server."""
    return server.client()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[BusbarProcess]:
    """A server of the test's own, on its own data directory (started by the test)."""
    process = BusbarProcess(tmp_path / "data")
    yield process
    if process.alive():
        process.kill()


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """A real local HTTP server to deliver to (records requests, answers as scripted)."""
    server = HttpTarget().start()
    yield server
    server.stop()
