"""The embedded default store: one SQLite file in WAL mode under ``--data-dir``.

One writer thread owns the only write connection.  Every write (an event batch, a
resource change, recorded deliveries) is queued to it; the writer takes everything
queued, runs it in one transaction and commits once — group commit — so a thousand
concurrent PutEvents calls cost one fsync, not a thousand.  Each caller's awaitable
resolves only after that commit.  When a batch fails, each of its jobs is run again
alone: one caller's bad write fails only that caller, never its batch-mates.

Resources are few and read constantly, so they are cached in memory; the cache is
changed by the writer thread right after the commit that made the change durable,
and the change listeners hear of it on the event loop before the writer's caller
resumes.

One process routes: the router's position is a row of ``consumers``, moved in the
transaction that records the deliveries.  Leases of deliveries live in memory (a set
of ids that :meth:`take` skips): after a crash every pending delivery is taken
again.  Deliveries just recorded are leased to this node's dispatcher at once (the
``handoff`` capability), so the common path never reads them back.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from busbar.store.base import (
    AlreadyExists,
    ArchivedEvent,
    ArchiveStats,
    Capabilities,
    ChangeListener,
    Conflict,
    LaneListener,
    LogLine,
    NewArchivedEvent,
    NewDelivery,
    NewEvent,
    NotFound,
    Store,
    StoredDelivery,
    StoredEvent,
    Versioned,
)
from busbar.store.datadir import StoreLost, WalScrubber, WriterGuard, sqlite_uri
from busbar.store.logfiles import LogGroupFiles

log = logging.getLogger("busbar.store")

SCHEMA_VERSION = 4
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    bus          TEXT    NOT NULL,
    time         REAL    NOT NULL,
    ingested_at  REAL    NOT NULL,
    trace_header TEXT,
    hops         INTEGER NOT NULL DEFAULT 0,
    envelope     BLOB    NOT NULL,
    budget       INTEGER,
    dedup_id     TEXT,
    rules        TEXT,
    direct       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT    NOT NULL,
    bus           TEXT    NOT NULL,
    rule_name     TEXT    NOT NULL,
    rule_arn      TEXT    NOT NULL,
    target        BLOB    NOT NULL,
    envelope      BLOB    NOT NULL,
    payload       BLOB,
    trace_header  TEXT,
    ingested_at   REAL    NOT NULL,
    hops          INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        REAL    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    error_code    TEXT,
    error_message TEXT,
    shaping_error TEXT,
    lane          TEXT    NOT NULL DEFAULT '',
    budget        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS resources (
    kind     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    value    BLOB    NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archived (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    archive     TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    time        REAL    NOT NULL,
    archived_at REAL    NOT NULL,
    envelope    BLOB    NOT NULL,
    dedup_id    TEXT
);
CREATE INDEX IF NOT EXISTS archived_by_time ON archived (archive, time, position);
CREATE INDEX IF NOT EXISTS archived_by_age ON archived (archive, archived_at);
CREATE UNIQUE INDEX IF NOT EXISTS archived_dedup ON archived (archive, dedup_id) WHERE dedup_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS consumers (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
"""
# Created after the migration has added the columns they index.
_INDEXES = """
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, id);
-- A lane's due deliveries, soonest first (keyset on due_at, id).
CREATE INDEX IF NOT EXISTS deliveries_lane ON deliveries (state, lane, due_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events (dedup_id) WHERE dedup_id IS NOT NULL;
DROP INDEX IF EXISTS deliveries_due;
"""

ROUTER = "router"
# The most operations one transaction takes; bounds the latency of a commit.
_MAX_BATCH = 2000
# Ids bound in one IN (...) list: below SQLite's smallest limit on host parameters (999).
_IDS_PER_QUERY = 500
# Keys read per page while looking for a lane's due deliveries past those held.
_SCAN_PAGE = 2000
_DELIVERY_COLUMNS = (
    "id, event_id, bus, rule_name, rule_arn, target, envelope, payload, trace_header, ingested_at, hops,"
    " attempts, due_at, state, error_code, error_message, shaping_error, budget"
)
_EVENT_COLUMNS = "seq, event_id, bus, envelope, time, ingested_at, trace_header, hops, budget, rules, direct"

_Op = Callable[[sqlite3.Connection], Any]
_Job = tuple[_Op, "Callable[[Any], None] | None", "asyncio.Future[Any] | None", bool]
_Outcome = tuple["asyncio.Future[Any] | None", Any, "BaseException | None"]


class SqliteStore(Store):
    """A :class:`Store` in ``<data_dir>/busbar.db`` (and log groups in files beside it:
    see :mod:`busbar.store.logfiles`; *home* is the server's own account and region)."""

    def __init__(self, data_dir: Path | str, sync: str = "full", home: tuple[str, str] | None = None) -> None:
        self.path = Path(data_dir) / "busbar.db"
        self.log_groups = LogGroupFiles(Path(data_dir), home)
        self._sync = "FULL" if sync == "full" else "NORMAL"
        self._resources: dict[str, dict[str, Versioned]] = {}
        self._listeners: list[ChangeListener] = []
        self._lane_listeners: list[LaneListener] = []
        # Deliveries leased to this node's dispatcher; an id leaves only after the commit
        # that recorded what became of it (so take() never hands out a stale row).
        self._leased: set[int] = set()
        # Changes of the batch being committed (writer thread only), told to the
        # listeners on the loop with the batch's outcomes (see _settle).
        self._changes: list[tuple[str, str, dict[str, Any] | None]] = []
        self._position = 0  # the router's acknowledged position
        self._cursor = 0  # the last event handed to the router (may be ahead of the position)
        self._last_seq = 0
        self._notified_seq = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._appended: asyncio.Event | None = None
        self._local = threading.local()
        self._started = False
        self._guard: WriterGuard | None = None  # busbar.store.datadir hook
        self._scrubber = WalScrubber(self._between_transactions)  # busbar.store.datadir hook
        self._on_commit: Callable[[float], None] | None = None  # busbar.observe hook: commit latency

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(handoff=True)

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._appended = asyncio.Event()
        conn = self._connect()
        with conn:
            conn.executescript(_SCHEMA)
            _migrate(conn)
            conn.executescript(_INDEXES)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for kind, key, value, revision in conn.execute("SELECT kind, key, value, revision FROM resources"):
            self._resources.setdefault(kind, {})[key] = Versioned(orjson.loads(value), revision)
        row = conn.execute("SELECT position FROM consumers WHERE name = ?", (ROUTER,)).fetchone()
        self._position = self._cursor = row[0] if row else 0
        self._last_seq = _max_seq(conn)
        self._notified_seq = self._last_seq
        self._guard = WriterGuard(self.path)  # busbar.store.datadir hook: remember the files the writer has open
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), name="busbar-store-writer", daemon=True)
        self._writer.start()
        self._started = True
        log.debug("store opened", extra={"path": str(self.path), "last_seq": self._last_seq})

    async def close(self) -> None:
        if not self._started:
            return
        await self._scrubber.close()  # busbar.store.datadir hook
        self._started = False
        self._jobs.put(None)
        assert self._writer is not None
        await asyncio.to_thread(self._writer.join)
        reader = getattr(self._local, "conn", None)
        if reader is not None:
            reader.close()
            self._local.conn = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._sync}")
        # busbar.store.datadir hook: deleted rows (old connection secrets) are overwritten with zeros.
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    # -- the writer ----------------------------------------------------------------
    def _write_loop(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < _MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._run_batch(conn, batch)
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        started = time.perf_counter()  # busbar.observe hook: commit latency
        try:
            outcomes, afters = self._transaction(conn, batch)
        except Exception as exc:  # noqa: BLE001 - the batch failed to commit: nothing of it is stored
            if self._guard is not None:  # busbar.store.datadir hook: /health says so until a commit succeeds
                self._guard.failed(exc)
            if isinstance(exc, StoreLost):  # busbar.store.datadir hook: every job fails; the guard logged it
                outcomes, afters = [(job[2], None, exc) for job in batch], []
            elif len(batch) == 1:
                log.error("store commit failed", extra={"error": f"{type(exc).__name__}: {exc}"})
                outcomes, afters = [(batch[0][2], None, exc)], []
            else:
                # Run each job alone, so that the one that failed fails alone.
                for job in batch:
                    self._run_batch(conn, [job])
                return
        if self._on_commit is not None:  # busbar.observe hook: commit latency
            self._on_commit(time.perf_counter() - started)
        # Only what is durable reaches the caches and the callers.
        for after, result in afters:
            after(result)
        changes, self._changes = self._changes, []
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._settle, outcomes, changes)

    def _transaction(
        self, conn: sqlite3.Connection, batch: list[_Job]
    ) -> tuple[list[_Outcome], list[tuple[Callable[[Any], None], Any]]]:
        """Run *batch* in one transaction; raise (after rolling back) when it cannot commit."""
        outcomes: list[_Outcome] = []
        afters: list[tuple[Callable[[Any], None], Any]] = []
        guard = self._guard
        try:
            if guard is not None:  # busbar.store.datadir hook: never commit into a file that is gone
                guard.check()
            conn.execute("BEGIN IMMEDIATE")
            for op, after, future, may_fail in batch:
                if not may_fail:
                    result = op(conn)
                    outcomes.append((future, result, None))
                    if after is not None:
                        afters.append((after, result))
                    continue
                conn.execute("SAVEPOINT op")
                try:
                    result = op(conn)
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((future, None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((future, result, None))
                    if after is not None:
                        afters.append((after, result))
            conn.execute("COMMIT")
            if guard is not None:  # busbar.store.datadir hook: committed to the file at our path?
                guard.check()
                guard.succeeded()
        except BaseException:
            self._changes = []
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return outcomes, afters

    def _settle(self, outcomes: list[_Outcome], changes: list[tuple[str, str, dict[str, Any] | None]]) -> None:
        # Listeners (the rule index) see a change before its writer resumes: read-your-writes.
        for kind, key, value in changes:
            for listener in list(self._listeners):
                try:
                    listener(kind, key, value)
                except Exception:  # noqa: BLE001 - one listener's bug must not hide the change from others
                    log.exception("resource change listener failed", extra={"kind": kind, "key": key})
        for future, result, exc in outcomes:
            if future is None or future.done():
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)
        # Wake the router waiting in next_events() when the log grew.
        if self._appended is not None and self._last_seq != self._notified_seq:
            self._notified_seq = self._last_seq
            appended, self._appended = self._appended, asyncio.Event()
            appended.set()

    def _submit(
        self, op: _Op, after: Callable[[Any], None] | None = None, may_fail: bool = False
    ) -> asyncio.Future[Any]:
        if not self._started or self._loop is None:
            raise RuntimeError("the store is not open")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._jobs.put((op, after, future, may_fail))
        return future

    # -- resources -----------------------------------------------------------------
    def get_versioned(self, kind: str, key: str) -> Versioned | None:
        return self._resources.get(kind, {}).get(key)

    def get_resource(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._resources.get(kind, {}).get(key)  # read on every delivery: no detour
        return found.value if found is not None else None

    def list_resources(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        return sorted(
            (key, found.value) for key, found in self._resources.get(kind, {}).items() if key.startswith(prefix)
        )

    async def create_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        blob = orjson.dumps(value)

        def insert(conn: sqlite3.Connection) -> int:
            try:
                conn.execute(
                    "INSERT INTO resources (kind, key, value, revision) VALUES (?, ?, ?, 1)", (kind, key, blob)
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"{kind} {key}") from None
            return 1

        return int(await self._submit(insert, lambda revision: self._cache(kind, key, value, revision), may_fail=True))

    async def update_resource(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        blob = orjson.dumps(value)

        def update(conn: sqlite3.Connection) -> int:
            changed = conn.execute(
                "UPDATE resources SET value = ?, revision = revision + 1 WHERE kind = ? AND key = ? AND revision = ?",
                (blob, kind, key, revision),
            ).rowcount
            if not changed:
                exists = conn.execute("SELECT 1 FROM resources WHERE kind = ? AND key = ?", (kind, key)).fetchone()
                raise (Conflict if exists else NotFound)(f"{kind} {key}")
            return revision + 1

        return int(await self._submit(update, lambda new: self._cache(kind, key, value, new), may_fail=True))

    async def put_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        blob = orjson.dumps(value)

        def upsert(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO resources (kind, key, value, revision) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, revision = revision + 1"
                " RETURNING revision",
                (kind, key, blob),
            ).fetchone()
            return int(row[0])

        return int(await self._submit(upsert, lambda revision: self._cache(kind, key, value, revision)))

    async def delete_resource(self, kind: str, key: str, revision: int | None = None) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            if revision is None:
                return conn.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (kind, key)).rowcount > 0
            deleted = conn.execute(
                "DELETE FROM resources WHERE kind = ? AND key = ? AND revision = ?", (kind, key, revision)
            ).rowcount
            if not deleted:
                exists = conn.execute("SELECT 1 FROM resources WHERE kind = ? AND key = ?", (kind, key)).fetchone()
                if exists:
                    raise Conflict(f"{kind} {key}")
            return deleted > 0

        def forget(deleted: bool) -> None:
            if self._resources.get(kind, {}).pop(key, None) is not None:
                self._changes.append((kind, key, None))

        return bool(await self._submit(delete, forget, may_fail=revision is not None))

    def watch(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _cache(self, kind: str, key: str, value: dict[str, Any], revision: int) -> None:
        # Runs in the writer thread right after the commit; listeners hear of it on the loop.
        self._resources.setdefault(kind, {})[key] = Versioned(value, revision)
        self._changes.append((kind, key, value))

    # -- event log -----------------------------------------------------------------
    async def append_events(self, events: Sequence[NewEvent]) -> None:
        await self._submit(lambda conn: _insert_events(conn, events), self._advance)

    def _advance(self, last: int) -> None:
        self._last_seq = max(self._last_seq, last)

    async def next_events(self, limit: int, wait: float) -> list[StoredEvent]:
        events = self.read_events(self._cursor, limit)
        if not events and await self._wait_for_events(self._cursor, wait):
            events = self.read_events(self._cursor, limit)
        if events:
            self._cursor = events[-1].seq
        return events

    async def _wait_for_events(self, after_seq: int, timeout: float) -> bool:
        assert self._appended is not None, "the store is not open"
        while self._last_seq <= after_seq:
            try:
                await asyncio.wait_for(self._appended.wait(), timeout)
            except TimeoutError:
                return self._last_seq > after_seq
        return True

    async def record_deliveries(self, deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
        now = time.time()
        rows = [_row(d, now) for d in deliveries]
        seq = max((event.seq for event in routed), default=0)

        def record(conn: sqlite3.Connection) -> int:
            last = 0
            if rows:
                _insert_rows(conn, "deliveries", _DELIVERY_COLUMNS_SET, _DELIVERY_COLUMNS_OPTIONAL, rows)
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            if seq:
                conn.execute(
                    "INSERT INTO consumers (name, position) VALUES (?, ?)"
                    " ON CONFLICT(name) DO UPDATE SET position = MAX(position, excluded.position)",
                    (ROUTER, seq),
                )
            return int(last)

        count = len(rows)

        def after(last: int) -> None:
            # Leased in the writer thread, right after the commit: no take() can see them first.
            self._position = max(self._position, seq)
            self._leased.update(range(last - count + 1, last + 1))

        last = await self._submit(record, after)
        return list(range(last - count + 1, last + 1)) if count else []

    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        rows = (
            self._reader()
            .execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))
            .fetchall()
        )
        # Most events are for every rule: built straight from their first nine columns.
        return [StoredEvent(*row[:9]) if row[9] is None else _event(row) for row in rows]

    async def prune_events(self, ingested_before: float, limit: int = 10_000) -> int:
        up_to = self._position

        def prune(conn: sqlite3.Connection) -> int:
            # AUTOINCREMENT: deleted sequence numbers are never handed out again.
            return int(
                conn.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? AND ingested_at < ?"
                    " ORDER BY seq LIMIT ?)",
                    (up_to, ingested_before, limit),
                ).rowcount
            )

        return int(await self._submit(prune))

    def last_seq(self) -> int:
        if self._started:
            return self._last_seq
        return _max_seq(self._reader())

    def unrouted(self) -> int:
        return max(0, self._last_seq - self._position)

    # -- archives ------------------------------------------------------------------
    async def archive_events(self, archive: str, events: Sequence[NewArchivedEvent]) -> None:
        now = time.time()
        rows = [(archive, e.event_id, e.time, now, e.envelope, e.dedup_id) for e in events]
        await self._submit(
            lambda conn: conn.executemany(
                "INSERT INTO archived (archive, event_id, time, archived_at, envelope, dedup_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (archive, dedup_id) WHERE dedup_id IS NOT NULL DO NOTHING",
                rows,
            )
        )

    async def read_archive(
        self, archive: str, start: float, end: float, after: tuple[float, int] | None = None, limit: int = 500
    ) -> list[ArchivedEvent]:
        after_time, after_position = after if after is not None else (float("-inf"), 0)
        rows = (
            self._reader()
            .execute(
                "SELECT position, event_id, time, archived_at, envelope FROM archived"
                " WHERE archive = ? AND time >= ? AND time < ? AND (time, position) > (?, ?)"
                " ORDER BY time, position LIMIT ?",
                (archive, start, end, after_time, after_position, limit),
            )
            .fetchall()
        )
        return [ArchivedEvent(*row) for row in rows]

    async def archive_stats(self, archive: str, start: float | None = None, end: float | None = None) -> ArchiveStats:
        low = float("-inf") if start is None else start
        high = float("inf") if end is None else end
        count, size = (
            self._reader()
            .execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(envelope)), 0) FROM archived"
                " WHERE archive = ? AND time >= ? AND time < ?",
                (archive, low, high),
            )
            .fetchone()
        )
        return ArchiveStats(int(count), int(size))

    async def prune_archive(self, archive: str, archived_before: float, limit: int = 10_000) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "DELETE FROM archived WHERE position IN (SELECT position FROM archived"
                    " WHERE archive = ? AND archived_at < ? LIMIT ?)",
                    (archive, archived_before, limit),
                ).rowcount
            )

        return int(await self._submit(prune))

    async def drop_archive(self, archive: str) -> None:
        await self._submit(lambda conn: conn.execute("DELETE FROM archived WHERE archive = ?", (archive,)))

    # -- deliveries ----------------------------------------------------------------
    def lanes_with_work(self) -> set[str]:
        rows = self._reader().execute("SELECT DISTINCT lane FROM deliveries WHERE state = 'pending'").fetchall()
        return {row[0] for row in rows}

    def on_lane_work(self, listener: LaneListener) -> None:
        self._lane_listeners.append(listener)

    def _lanes_changed(self, lanes: AbstractSet[str]) -> None:
        for listener in self._lane_listeners:
            listener(lanes)

    async def take(self, lane: str, limit: int) -> list[StoredDelivery]:
        if limit <= 0:
            return []
        now = time.time()
        wanted: list[int] = []
        after: tuple[float, int] = (float("-inf"), 0)
        reader = self._reader()
        while len(wanted) < limit:
            page = reader.execute(
                "SELECT due_at, id FROM deliveries WHERE state = 'pending' AND lane = ? AND due_at <= ?"
                " AND (due_at, id) > (?, ?) ORDER BY due_at, id LIMIT ?",
                (lane, now, *after, _SCAN_PAGE),
            ).fetchall()
            wanted.extend(delivery_id for _, delivery_id in page if delivery_id not in self._leased)
            if len(page) < _SCAN_PAGE:
                break
            after = page[-1]
            await asyncio.sleep(0)  # a long scan must not hold up the loop
        wanted = wanted[:limit]
        found: list[StoredDelivery] = []
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = tuple(wanted[start : start + _IDS_PER_QUERY])
            marks = ",".join("?" * len(chunk))
            found.extend(self._deliveries(f"state = 'pending' AND id IN ({marks})", chunk))
        found.sort(key=lambda d: (d.due_at, d.id))
        self._leased.update(d.id for d in found)
        return found

    def next_due(self, lane: str) -> float | None:
        after: tuple[float, int] = (float("-inf"), 0)
        reader = self._reader()
        while True:
            page = reader.execute(
                "SELECT due_at, id FROM deliveries WHERE state = 'pending' AND lane = ? AND (due_at, id) > (?, ?)"
                " ORDER BY due_at, id LIMIT ?",
                (lane, *after, _SCAN_PAGE),
            ).fetchall()
            for due_at, delivery_id in page:
                if delivery_id not in self._leased:
                    return float(due_at)
            if len(page) < _SCAN_PAGE:
                return None
            after = page[-1]

    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        return self._deliveries("state = 'dead' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))

    def pending_count(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").fetchone()[0])

    def pending_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        return self._deliveries("state = 'pending' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        rows = self._reader().execute("SELECT state, lane, COUNT(*) FROM deliveries GROUP BY state, lane")
        return {(str(state), str(lane)): int(count) for state, lane, count in rows}

    def observe_commits(self, listener: Callable[[float], None]) -> None:
        self._on_commit = listener

    def _deliveries(self, where: str, args: tuple[Any, ...]) -> list[StoredDelivery]:
        rows = self._reader().execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {where}", args).fetchall()
        return [_delivery(row) for row in rows]

    async def release(self, delivery_ids: Sequence[int]) -> None:
        self._leased.difference_update(delivery_ids)

    def _unlease(self, delivery_ids: Sequence[int]) -> Callable[[Any], None]:
        return lambda _: self._leased.difference_update(delivery_ids)

    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        rows = [(i,) for i in delivery_ids]
        await self._submit(
            lambda conn: conn.executemany("DELETE FROM deliveries WHERE id = ?", rows), self._unlease(delivery_ids)
        )

    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        await self._submit(
            lambda conn: conn.execute(
                "UPDATE deliveries SET attempts = ?, due_at = ?, error_code = ?, error_message = ? WHERE id = ?",
                (attempts, due_at, error_code, error_message, delivery_id),
            ),
            self._unlease([delivery_id]),
        )

    async def dead_letter(
        self,
        delivery_id: int,
        attempts: int,
        error_code: str,
        error_message: str,
        forward: NewEvent | NewDelivery | None,
    ) -> None:
        def bury(conn: sqlite3.Connection) -> int:
            if isinstance(forward, NewDelivery):
                conn.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))
                _insert_rows(conn, "deliveries", _DELIVERY_COLUMNS_SET, _DELIVERY_COLUMNS_OPTIONAL, [_row(forward)])
                return 0
            if forward is not None:
                conn.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))
                return _insert_events(conn, [forward])
            conn.execute(
                "UPDATE deliveries SET state = 'dead', attempts = ?, error_code = ?, error_message = ? WHERE id = ?",
                (attempts, error_code, error_message, delivery_id),
            )
            return 0

        def after(last: int) -> None:
            self._advance(last)
            self._leased.discard(delivery_id)

        await self._submit(bury, after)
        if isinstance(forward, NewDelivery):
            self._lanes_changed({forward.lane})

    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[int]:
        now = time.time()

        def revive(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            if delivery_ids is None:
                found = conn.execute("SELECT id, lane FROM deliveries WHERE state = 'dead'").fetchall()
            else:
                found = []
                for start in range(0, len(delivery_ids), _IDS_PER_QUERY):
                    chunk = tuple(delivery_ids[start : start + _IDS_PER_QUERY])
                    marks = ",".join("?" * len(chunk))
                    found.extend(
                        conn.execute(f"SELECT id, lane FROM deliveries WHERE state = 'dead' AND id IN ({marks})", chunk)
                    )
            conn.executemany(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?, ingested_at = ? WHERE id = ?",
                [(now, now, row[0]) for row in found],
            )
            return [(int(row[0]), str(row[1])) for row in found]

        revived: list[tuple[int, str]] = await self._submit(revive)
        if revived:
            self._lanes_changed({lane for _, lane in revived})
        return sorted(delivery_id for delivery_id, _ in revived)

    # -- log groups ----------------------------------------------------------------
    async def append_log_lines(self, group: str, lines: Sequence[bytes]) -> None:
        await asyncio.to_thread(self.log_groups.append, group, lines)

    def read_log_lines(self, group: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        return self.log_groups.read(group, after, limit)

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                sqlite_uri(self.path, read_only=True),
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            self._local.conn = conn
        return conn

    # -- health and erasure (busbar.store.datadir hooks) -----------------------------
    def health(self) -> str | None:
        return self._guard.problem() if self._guard is not None and self._started else None

    async def scrub(self) -> None:
        await self._scrubber.scrub()

    async def _between_transactions(self, run: Callable[[sqlite3.Connection], bool]) -> bool:
        """*run* on the writer's connection right after a commit (an "after" runs outside the transaction)."""
        outcome: list[bool] = []
        await self._submit(lambda conn: conn, lambda conn: outcome.append(run(conn)))
        return outcome == [True]


def _delivery(row: tuple[Any, ...]) -> StoredDelivery:
    return StoredDelivery(
        id=row[0],
        event_id=row[1],
        bus=row[2],
        rule_name=row[3],
        rule_arn=row[4],
        target=orjson.loads(row[5]),
        envelope=row[6],
        payload=row[7],
        trace_header=row[8],
        ingested_at=row[9],
        hops=row[10],
        attempts=row[11],
        due_at=row[12],
        state=row[13],
        error_code=row[14],
        error_message=row[15],
        shaping_error=row[16],
        budget=row[17],
    )


def _event(row: tuple[Any, ...]) -> StoredEvent:
    rules = row[9]
    return StoredEvent(
        seq=row[0],
        event_id=row[1],
        bus=row[2],
        envelope=row[3],
        time=row[4],
        ingested_at=row[5],
        trace_header=row[6],
        hops=row[7],
        budget=row[8],
        rules=tuple(orjson.loads(rules)) if rules is not None else None,
        direct=bool(row[10]),
    )


def _max_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older busbar up to this schema."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(resources)")}
    if "revision" not in columns:
        conn.execute("ALTER TABLE resources ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    for column, kind in (
        ("budget", "INTEGER"),
        ("dedup_id", "TEXT"),
        ("rules", "TEXT"),
        ("direct", "INTEGER NOT NULL DEFAULT 0"),
    ):
        if column not in columns:
            conn.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(deliveries)")}
    if "budget" not in columns:
        conn.execute("ALTER TABLE deliveries ADD COLUMN budget INTEGER NOT NULL DEFAULT 0")
    if "lane" not in columns:
        conn.execute("ALTER TABLE deliveries ADD COLUMN lane TEXT NOT NULL DEFAULT ''")
        conn.execute("UPDATE deliveries SET lane = json_extract(CAST(target AS TEXT), '$.Arn')")


# Columns of an insert that every row has, and those that are often NULL.
_EVENT_COLUMNS_SET = ("event_id", "bus", "time", "ingested_at", "hops", "envelope", "direct")
_EVENT_COLUMNS_OPTIONAL = ("trace_header", "budget", "dedup_id", "rules")
_DELIVERY_COLUMNS_SET = (
    "event_id",
    "bus",
    "rule_name",
    "rule_arn",
    "target",
    "envelope",
    "ingested_at",
    "hops",
    "due_at",
    "lane",
    "budget",
)
_DELIVERY_COLUMNS_OPTIONAL = ("payload", "trace_header", "shaping_error")

_Row = tuple[tuple[Any, ...], tuple[Any, ...]]  # (values of the set columns, values of the optional ones)


def _insert_events(conn: sqlite3.Connection, events: Sequence[NewEvent]) -> int:
    """Insert *events* (an event whose dedup_id is stored already is left out); answer the
    sequence number of the newest event."""
    _insert_rows(
        conn,
        "events",
        _EVENT_COLUMNS_SET,
        _EVENT_COLUMNS_OPTIONAL,
        [
            (
                (e.event_id, e.bus, e.time, e.ingested_at, e.hops, e.envelope, int(e.direct)),
                (e.trace_header, e.budget, e.dedup_id, orjson.dumps(e.rules).decode() if e.rules is not None else None),
            )
            for e in events
        ],
    )
    return _max_seq(conn)


def _row(d: NewDelivery, now: float | None = None) -> _Row:
    """A new delivery's row for :func:`_insert_rows`, pending and due *now* (None: the clock's now)."""
    return (
        (
            d.event_id,
            d.bus,
            d.rule_name,
            d.rule_arn,
            orjson.dumps(d.target),
            d.envelope,
            d.ingested_at,
            d.hops,
            time.time() if now is None else now,
            d.lane,
            d.budget,
        ),
        (d.payload, d.trace_header, d.shaping_error),
    )


def _insert_rows(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...], optional: tuple[str, ...], rows: Sequence[_Row]
) -> None:
    """INSERT *rows* in order, each without those of the *optional* columns whose value is
    None (they default to NULL).  Binding None costs more than the insert: Python's sqlite3
    module looks for an adapter for it, fails, and builds an exception message each time.
    Rows of the same shape (nearly all: no optional value) go in one executemany."""
    absent = (None,) * len(optional)
    run: list[tuple[Any, ...]] = []
    shape: tuple[bool, ...] = ()
    for values, extra in rows:
        if extra == absent:  # compared in C: the common case costs no Python loop
            present, row = (False,) * len(optional), values
        else:
            present = tuple(value is not None for value in extra)
            row = values + tuple(value for value in extra if value is not None)
        if present != shape and run:
            conn.executemany(_insert_sql(table, columns, optional, shape), run)
            run = []
        shape = present
        run.append(row)
    if run:
        conn.executemany(_insert_sql(table, columns, optional, shape), run)


@lru_cache(maxsize=128)
def _insert_sql(table: str, columns: tuple[str, ...], optional: tuple[str, ...], present: tuple[bool, ...]) -> str:
    names = [*columns, *(name for name, given in zip(optional, present, strict=True) if given)]
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    if "dedup_id" in names:
        sql += " ON CONFLICT (dedup_id) WHERE dedup_id IS NOT NULL DO NOTHING"
    return sql
