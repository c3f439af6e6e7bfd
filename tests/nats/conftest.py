"""The nats-server fixtures for the tests of the harness and of the JetStream facts."""

import pytest

from natsserver import nats_cluster, nats_cluster_factory, nats_server  # noqa: F401 - fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The checks of JetStream's own behaviour (docs/nats-notes.md) are facts about the
    engine, not tests of busbar: `make test-facts` runs them, `make test` does not.
    The harness's own tests stay in every run."""
    for item in items:
        if "tests/nats/" in item.nodeid and "test_nats_harness" not in item.nodeid:
            item.add_marker(pytest.mark.facts)
