"""Archives in the stream ``<prefix>-archives``: one subject per archive and hour of event time.

An archived event is a message on ``<prefix>.archive.<archive, base64url>.<hour>``, where
*hour* is its event time in hours since the epoch; its position is its stream sequence.
Replays read by event time, in the order of (time, position), and events are archived in
the order they arrive, whatever their time: so a read lists the hours an archive holds
(the stream's per-subject counts), reads the headers of each hour of the range it needs
(event time and size travel in headers, so the bodies stay on the server), sorts them,
and fetches the bodies of the events it answers with, by sequence.  The index of an hour
is kept while the hour does not change, so a replay reading batch after batch through
one hour reads its headers once.

An event with a ``dedup_id`` is published with ``Nats-Msg-Id`` = ``<archive>/<dedup_id>``:
JetStream keeps one copy of a retried archive delivery (within its two-minute window).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from busbar.store.base import ArchivedEvent, ArchiveStats, NewArchivedEvent, Unavailable
from busbar.store.nats.codec import Names
from busbar.store.nats.connection import Outgoing, Publisher, describe
from busbar.store.nats.log import read_range

HOUR = 3600.0
TIME = "Busbar-Time"
SIZE = "Busbar-Size"
ARCHIVED_AT = "Busbar-Archived-At"
# How long an hour's index is read again while it comes out shorter than the count the
# stream's leader gave: the consumer reading it may sit on a replica still catching up.
CATCH_UP = 2.0


def hour_of(epoch: float) -> int:
    return math.floor(epoch / HOUR)


@dataclass(frozen=True, slots=True)
class _Entry:
    time: float
    seq: int
    size: int
    archived_at: float


def _entry(msg: Msg) -> _Entry:
    headers = msg.headers or {}
    return _Entry(float(headers[TIME]), msg.metadata.sequence.stream, int(headers[SIZE]), float(headers[ARCHIVED_AT]))


class Archives:
    """The archives part of :class:`busbar.store.nats.NatsStore`."""

    def __init__(self, js: JetStreamContext, publisher: Publisher, names: Names) -> None:
        self._js = js
        self._publisher = publisher
        self._names = names
        # subject -> (the count the index was made at, the hour's entries by (time, seq))
        self._indexes: dict[str, tuple[int, list[_Entry]]] = {}

    async def append(self, archive: str, events: Sequence[NewArchivedEvent]) -> None:
        now = time.time()
        messages = [
            Outgoing(
                self._names.archive_subject(archive, hour_of(event.time)),
                orjson.dumps({"i": event.event_id}) + b"\n" + event.envelope,
                {
                    "Nats-Msg-Id": f"archive/{archive}/{event.dedup_id}" if event.dedup_id else uuid.uuid4().hex,
                    TIME: repr(event.time),
                    SIZE: str(len(event.envelope)),
                    ARCHIVED_AT: repr(now),
                },
            )
            for event in events
        ]
        failed = [r for r in await self._publisher.publish(messages) if isinstance(r, Exception)]
        if failed:
            raise Unavailable(f"JetStream did not archive {len(failed)} events: {describe(failed[0])}")

    async def _hours(self, archive: str) -> dict[int, tuple[str, int]]:
        """The hours *archive* holds events of: hour -> (subject, count)."""
        info = await self._js.stream_info(self._names.archives, subjects_filter=self._names.archive_subjects(archive))
        return {
            int(subject.rsplit(".", 1)[1]): (subject, count)
            for subject, count in (info.state.subjects or {}).items()
            if count
        }

    async def _index(self, subject: str, count: int) -> list[_Entry]:
        """The entries of one hour, by (time, seq); kept while the hour holds *count*."""
        cached = self._indexes.get(subject)
        if cached is not None and cached[0] == count:
            return cached[1]
        deadline = time.monotonic() + CATCH_UP
        while True:
            entries = [
                _entry(msg)
                for msg in await read_range(self._js, self._names.archives, 0, None, subject=subject, headers_only=True)
            ]
            if len(entries) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        entries.sort(key=lambda entry: (entry.time, entry.seq))
        if len(entries) == count:  # an index short of what the leader counted is not kept
            self._indexes[subject] = (count, entries)
        return entries

    async def _entries(
        self, archive: str, start: float, end: float, limit: float = math.inf, after: tuple[float, int] | None = None
    ) -> list[_Entry]:
        """The first *limit* entries of *archive* with start <= time < end (and past the
        cursor *after*), by (time, position).  Hours partition time: once *limit* are
        found, later hours cannot come before them."""
        if after is not None:
            start = max(start, after[0])
        found: list[_Entry] = []
        for hour, (subject, count) in sorted((await self._hours(archive)).items()):
            if len(found) >= limit:
                break
            if (start != -math.inf and hour < hour_of(start)) or (end != math.inf and hour > hour_of(end)):
                continue
            found.extend(
                entry
                for entry in await self._index(subject, count)
                if start <= entry.time < end and (after is None or (entry.time, entry.seq) > after)
            )
        return found

    async def read(
        self, archive: str, start: float, end: float, after: tuple[float, int] | None, limit: int
    ) -> list[ArchivedEvent]:
        entries = await self._entries(archive, start, end, limit, after)
        events = []
        for entry in entries[:limit]:
            try:
                msg = await self._js.get_msg(self._names.archives, seq=entry.seq, direct=True)
            except NotFoundError:
                continue  # pruned meanwhile
            head, _, envelope = (msg.data or b"").partition(b"\n")
            event_id = orjson.loads(head)["i"]
            events.append(ArchivedEvent(entry.seq, event_id, entry.time, entry.archived_at, envelope))
        return events

    async def stats(self, archive: str, start: float | None, end: float | None) -> ArchiveStats:
        entries = await self._entries(archive, -math.inf if start is None else start, math.inf if end is None else end)
        return ArchiveStats(len(entries), sum(entry.size for entry in entries))

    async def prune(self, archive: str, archived_before: float, limit: int) -> int:
        """Purge at most *limit* of the events of *archive* archived before *archived_before*
        (the oldest first)."""
        subjects = self._names.archive_subjects(archive)
        oldest = await read_range(self._js, self._names.archives, 0, limit, subject=subjects, headers_only=True)
        doomed = []
        for msg in oldest:  # archived in order: the old ones come first
            if float((msg.headers or {})[ARCHIVED_AT]) >= archived_before:
                break
            doomed.append(msg)
        if doomed:
            await self._purge(subjects, doomed[-1].metadata.sequence.stream + 1)
        return len(doomed)

    async def drop(self, archive: str) -> None:
        await self._purge(self._names.archive_subjects(archive), None)

    async def _purge(self, subjects: str, below: int | None) -> None:
        await self._js.purge_stream(self._names.archives, seq=below, subject=subjects)
        self._indexes = {
            subject: index for subject, index in self._indexes.items() if not subject.startswith(subjects[:-1])
        }
