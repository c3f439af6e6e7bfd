"""Event retention: routed events are deleted from the log once they are older
than ``--event-retention-seconds``.  Only events the router has acknowledged are
ever deleted, so retention can never lose an event that was not yet routed."""

from __future__ import annotations

import asyncio
import logging
import time

from busbar.store.base import Store

log = logging.getLogger("busbar.retention")


class Retention:
    """Prunes the event log every *every* seconds."""

    def __init__(self, store: Store, seconds: int, every: float | None = None) -> None:
        self._store = store
        # Prune often enough that nothing outlives the retention by more than half of it.
        self._seconds = seconds
        self._every = every if every is not None else min(60.0, max(0.5, seconds / 2))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._seconds > 0:
            self._task = asyncio.create_task(self._run(), name="busbar-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def prune(self) -> int:
        """Delete what is due now; return how many events."""
        total = 0
        while True:
            deleted = await self._store.prune_events(time.time() - self._seconds)
            total += deleted
            if deleted == 0:
                return total

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                deleted = await self.prune()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("event retention failed")
                continue
            if deleted:
                log.debug("events pruned", extra={"count": deleted})
