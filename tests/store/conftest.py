"""Every store backend behind one fixture: the conformance tests run against each.

``backend`` is a factory: ``async with backend() as store`` opens a store; calling it
again after the first closed reopens the same data (for backends that keep it), so
tests can check what survives a restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from busbar.store.base import Store
from busbar.store.memory import MemoryStore
from busbar.store.sqlite import SqliteStore

BACKENDS = ["sqlite", "memory", "memory-take-only"]
DURABLE = {"sqlite"}

Opener = Callable[[], contextlib.AbstractAsyncContextManager[Store]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    kind: str = request.param
    memory: list[MemoryStore] = []

    @contextlib.asynccontextmanager
    async def open_store() -> AsyncIterator[Store]:
        store: Any
        if kind == "sqlite":
            store = SqliteStore(tmp_path / "data", sync="normal")
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
    return open_store
