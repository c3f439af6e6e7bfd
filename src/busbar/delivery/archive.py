"""Archive targets: the managed rule of an archive delivers the events it matches here,
and they are kept in the store's archive for replays.

Archiving is a delivery like any other (recorded by the router, retried, leased), so
an event matched by an archive's rule is archived even if busbar dies meanwhile.  A
delivery sent again (a retry after a crash) is kept once: its dedup id is the
delivery's id.  The archive is looked up when the event arrives; an archive deleted
meanwhile keeps nothing (its events are gone with it).
"""

from __future__ import annotations

import orjson

from busbar.delivery.base import Delivery, Outcome
from busbar.model.timestamps import parse_timestamp
from busbar.resources.lookup import find_archive_by_arn
from busbar.store.base import NewArchivedEvent, Store


class ArchiveSender:
    """Keeps events in archives."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def send(self, delivery: Delivery) -> Outcome:
        archive = find_archive_by_arn(self._store, delivery.target["Arn"])
        if archive is None:
            return Outcome.success()  # deleted: nothing is kept for it any more
        event_time = parse_timestamp(orjson.loads(delivery.envelope).get("time"))
        kept = NewArchivedEvent(
            event_id=delivery.event_id,
            time=event_time.timestamp() if event_time is not None else delivery.ingested_at,
            envelope=delivery.envelope,
            dedup_id=f"delivery/{delivery.id}",
        )
        await self._store.archive_events(archive["Storage"], [kept])
        return Outcome.success()

    async def close(self) -> None:
        pass
