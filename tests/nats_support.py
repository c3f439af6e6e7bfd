"""Test support for the NATS store: a store of the test's own on the session's nats-server
(replicas 1) or 3-server cluster (replicas 3), under a prefix of its own, and the
deletion of its streams afterwards."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from busbar.store.nats import NatsOptions

from support import drop_prefix


def nats_options(request: pytest.FixtureRequest, kind: str, **extra: Any) -> NatsOptions:
    """Options for a store of the test's own: *kind* "nats" (the session's server) or
    "nats-cluster" (the session's cluster)."""
    if kind == "nats":
        servers, replicas = [request.getfixturevalue("nats_server").url], 1
    else:
        servers, replicas = request.getfixturevalue("nats_cluster").urls, 3
    prefix = f"t{uuid.uuid4().hex[:12]}"
    return NatsOptions(servers=tuple(servers), replicas=replicas, prefix=prefix, **extra)


def drop_streams(options: NatsOptions) -> None:
    """Delete every stream of *options*' prefix (the test is over)."""
    drop_prefix(list(options.servers), options.prefix)
