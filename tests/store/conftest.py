"""Every store backend behind one fixture: the conformance tests run against each.

``backend`` is a factory: ``async with backend() as store`` opens a store; calling it
again after the first closed reopens the same data (for backends that keep it), so
tests can check what survives a restart.  The NATS backends run on the session's
nats-server (one server, replicas 1) and 3-server cluster (replicas 3), each test
under a prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from busbar.store.base import Store
from busbar.store.memory import MemoryStore
from busbar.store.nats import NatsStore
from busbar.store.sqlite import SqliteStore

from nats_support import drop_streams, nats_options

BACKENDS = ["sqlite", "memory", "memory-take-only", "nats", "nats-cluster"]
DURABLE = {"sqlite", "nats", "nats-cluster"}

Opener = Callable[[], contextlib.AbstractAsyncContextManager[Store]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    kind: str = request.param
    memory: list[MemoryStore] = []
    options = nats_options(request, kind) if kind.startswith("nats") else None

    @contextlib.asynccontextmanager
    async def open_store() -> AsyncIterator[Store]:
        store: Any
        if kind == "sqlite":
            store = SqliteStore(tmp_path / "data", sync="normal")
        elif options is not None:
            store = NatsStore(options)
        else:
            if not memory:  # one memory store: "reopening" it keeps what it holds, leases aside
                memory.append(MemoryStore(handoff=kind == "memory"))
            store = memory[0]
        await store.start()
        try:
            yield store
        finally:
            await store.close()

    open_store.kind = kind  # type: ignore[attr-defined]
    open_store.durable = kind in DURABLE  # type: ignore[attr-defined]
    yield open_store
    if options is not None:
        drop_streams(options)
