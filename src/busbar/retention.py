"""Retention: routed events are deleted from the log once they are older than
``--event-retention-seconds``, and archived events once they are older than their
archive's ``RetentionDays`` (0: kept forever).  Only events the router has
acknowledged are ever deleted from the log, so retention can never lose an event
that was not yet routed."""

from __future__ import annotations

import asyncio
import logging
import time

from busbar.resources.kinds import ARCHIVE
from busbar.store.base import Store
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.retention")

DAY = 86400.0
# How often archives are pruned: a day's retention is kept to within a minute.
_ARCHIVES_EVERY = 60.0


class Retention:
    """Prunes the event log and the archives every *every* seconds."""

    def __init__(self, store: Store, seconds: int, every: float | None = None) -> None:
        self._store = store
        # Prune often enough that nothing outlives the retention by more than half of it.
        self._seconds = seconds
        if every is None:
            every = min(_ARCHIVES_EVERY, max(0.5, seconds / 2)) if seconds > 0 else _ARCHIVES_EVERY
        self._every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="busbar-retention")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def prune(self) -> int:
        """Delete the log's events that are due now; return how many."""
        if self._seconds <= 0:
            return 0
        total = 0
        while True:
            deleted = await self._store.prune_events(time.time() - self._seconds)
            total += deleted
            if deleted == 0:
                return total

    async def prune_archives(self) -> int:
        """Delete the archived events older than their archive's retention; return how many."""
        total = 0
        now = time.time()
        for _, archive in self._store.list_resources(ARCHIVE):
            days = archive.get("RetentionDays") or 0
            if days <= 0:
                continue
            while True:
                deleted = await self._store.prune_archive(archive["Storage"], now - days * DAY)
                total += deleted
                if deleted == 0:
                    break
        return total

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                deleted = await self.prune() + await self.prune_archives()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("event retention failed")
                continue
            if deleted:
                log.debug("events pruned", extra={"count": deleted})
