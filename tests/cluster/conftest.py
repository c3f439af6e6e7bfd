"""Busbar nodes on a NATS JetStream cluster: a deployment of the test's own (its own
prefix on the session's 3-server cluster, or on a cluster the test may kill members of),
whatever BUSBAR_TEST_STORE says.  Delays worth seeing (a change reaching the other node)
are recorded with ``record_delay`` and printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster_support import Deployment
from natsserver import NatsCluster

_DELAYS: list[tuple[str, float]] = []


@pytest.fixture
def deployment(nats_cluster: NatsCluster, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """``deployment(nodes=2, env=..., args=...)``: nodes on the session's cluster (started)."""
    made: list[Deployment] = []

    def make(**options: Any) -> Deployment:
        made.append(Deployment(nats_cluster, tmp_path / f"d{len(made)}", **options).start())
        return made[-1]

    yield make
    for each in made:
        each.stop()


@pytest.fixture
def record_delay() -> Callable[[str, float], None]:
    """Note a measured delay (seconds) to print in the run's summary."""
    return lambda what, seconds: _DELAYS.append((what, seconds))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _DELAYS:
        terminalreporter.section("cluster delays measured")
        for what, seconds in _DELAYS:
            terminalreporter.write_line(f"{what}: {seconds * 1000:.1f} ms")
