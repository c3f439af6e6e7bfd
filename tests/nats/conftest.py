"""The nats-server fixtures for the tests of the harness and of the JetStream facts."""

from natsserver import nats_cluster, nats_cluster_factory, nats_server  # noqa: F401 - fixtures
