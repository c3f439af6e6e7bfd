"""Archive retention: events older than their archive's RetentionDays are deleted, those of
archives kept forever (0) never are."""

from __future__ import annotations

import asyncio
import time

import pytest

import busbar.retention
from busbar.resources.kinds import ARCHIVE
from busbar.retention import DAY, Retention
from busbar.store.base import NewArchivedEvent
from busbar.store.memory import MemoryStore


def test_archives_keep_events_for_their_retention_days(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.start()
        await store.put_resource(ARCHIVE, "a/r/day", {"ArchiveName": "day", "RetentionDays": 1, "Storage": "s1"})
        await store.put_resource(ARCHIVE, "a/r/ever", {"ArchiveName": "ever", "RetentionDays": 0, "Storage": "s2"})
        for storage in ("s1", "s2"):
            await store.archive_events(storage, [NewArchivedEvent(f"e{n}", 1.0, b"{}") for n in range(3)])
        retention = Retention(store, 0)
        assert await retention.prune_archives() == 0  # a day has not passed
        later = time.time() + DAY + 1
        monkeypatch.setattr(busbar.retention.time, "time", lambda: later)  # the clock, a day on
        assert await retention.prune_archives() == 3
        assert (await store.archive_stats("s1")).count == 0
        assert (await store.archive_stats("s2")).count == 3  # RetentionDays 0: kept forever
        assert await retention.prune() == 0  # --event-retention-seconds 0 keeps the log

    asyncio.run(main())
