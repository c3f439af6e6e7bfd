"""The embedded default store: one SQLite file in WAL mode under ``--data-dir``.

One writer thread owns the only write connection.  Every write (an event batch, a
resource change, an acknowledgement) is queued to it; the writer takes everything
queued, runs it in one transaction and commits once — group commit — so a
thousand concurrent PutEvents calls cost one fsync, not a thousand.  Each caller's
awaitable resolves only after that commit.  Operations that can fail (creating a
resource whose key is taken) run inside a savepoint so they fail alone.

Resources are few and read constantly, so they are cached in memory; the cache is
changed by the writer thread right after the commit that made the change durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from busbar.store.base import (
    AlreadyExists,
    ChangeListener,
    Conflict,
    NewDelivery,
    NewEvent,
    NotFound,
    Store,
    StoredDelivery,
    StoredEvent,
    Versioned,
)

log = logging.getLogger("busbar.store")

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    bus          TEXT    NOT NULL,
    time         REAL    NOT NULL,
    ingested_at  REAL    NOT NULL,
    trace_header TEXT,
    hops         INTEGER NOT NULL DEFAULT 0,
    envelope     BLOB    NOT NULL
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
    shaping_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, id);
-- The dispatcher pages through pending deliveries soonest-due first (keyset on due_at, id).
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at, id);
CREATE TABLE IF NOT EXISTS resources (
    kind     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    value    BLOB    NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumers (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
"""

# The most operations one transaction takes; bounds the latency of a commit.
_MAX_BATCH = 2000
# Ids bound in one IN (...) list: below SQLite's smallest limit on host parameters (999).
_IDS_PER_QUERY = 500

_Op = Callable[[sqlite3.Connection], Any]
_Job = tuple[_Op, "Callable[[Any], None] | None", "asyncio.Future[Any] | None", bool]


class SqliteStore(Store):
    """A :class:`Store` in ``<data_dir>/busbar.db``."""

    def __init__(self, data_dir: Path | str, sync: str = "full") -> None:
        self.path = Path(data_dir) / "busbar.db"
        self._sync = "FULL" if sync == "full" else "NORMAL"
        self._resources: dict[str, dict[str, Versioned]] = {}
        self._listeners: list[ChangeListener] = []
        # Changes of the batch being committed (writer thread only), told to the
        # listeners on the loop with the batch's outcomes (see _settle).
        self._changes: list[tuple[str, str, dict[str, Any] | None]] = []
        self._consumers: dict[str, int] = {}
        self._last_seq = 0
        self._notified_seq = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._appended: asyncio.Event | None = None
        self._local = threading.local()
        self._started = False

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._appended = asyncio.Event()
        conn = self._connect()
        with conn:
            conn.executescript(_SCHEMA)
            _migrate(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for kind, key, value, revision in conn.execute("SELECT kind, key, value, revision FROM resources"):
            self._resources.setdefault(kind, {})[key] = Versioned(orjson.loads(value), revision)
        self._consumers = dict(conn.execute("SELECT name, position FROM consumers"))
        self._last_seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        self._notified_seq = self._last_seq
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), name="busbar-store-writer", daemon=True)
        self._writer.start()
        self._started = True
        log.debug("store opened", extra={"path": str(self.path), "last_seq": self._last_seq})

    async def close(self) -> None:
        if not self._started:
            return
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
        outcomes: list[tuple[asyncio.Future[Any] | None, Any, BaseException | None]] = []
        afters: list[tuple[Callable[[Any], None], Any]] = []
        try:
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
        except Exception as exc:  # noqa: BLE001 - the whole batch failed to commit
            log.exception("store commit failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            outcomes = [(job[2], None, exc) for job in batch]
            afters = []
        # Only what is durable reaches the caches and the callers.
        for after, result in afters:
            after(result)
        changes, self._changes = self._changes, []
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._settle, outcomes, changes)

    def _settle(
        self,
        outcomes: list[tuple[asyncio.Future[Any] | None, Any, BaseException | None]],
        changes: list[tuple[str, str, dict[str, Any] | None]],
    ) -> None:
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
        # Wake the consumers waiting in wait_for_events() when the log grew.
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
    async def append_events(self, events: Sequence[NewEvent]) -> list[int]:
        count = len(events)
        last = await self._submit(lambda conn: _insert_events(conn, events), self._advance)
        return list(range(last - count + 1, last + 1))

    def _advance(self, last: int) -> None:
        self._last_seq = max(self._last_seq, last)

    async def prune_events(self, up_to_seq: int, ingested_before: float, limit: int = 10_000) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            # AUTOINCREMENT: deleted sequence numbers are never handed out again.
            return conn.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? AND ingested_at < ?"
                " ORDER BY seq LIMIT ?)",
                (up_to_seq, ingested_before, limit),
            ).rowcount

        return int(await self._submit(prune))

    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        rows = (
            self._reader()
            .execute(
                "SELECT seq, event_id, bus, envelope, time, ingested_at, trace_header, hops FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            .fetchall()
        )
        return [StoredEvent(*row) for row in rows]

    # -- deliveries ----------------------------------------------------------------
    async def record_deliveries(self, deliveries: Sequence[NewDelivery], consumer: str, seq: int) -> list[int]:
        now = time.time()
        rows = [
            (
                d.event_id,
                d.bus,
                d.rule_name,
                d.rule_arn,
                orjson.dumps(d.target),
                d.envelope,
                d.payload,
                d.trace_header,
                d.ingested_at,
                d.hops,
                now,
                d.shaping_error,
            )
            for d in deliveries
        ]

        def record(conn: sqlite3.Connection) -> int:
            last = 0
            if rows:
                conn.executemany(
                    "INSERT INTO deliveries (event_id, bus, rule_name, rule_arn, target, envelope, payload,"
                    " trace_header, ingested_at, hops, due_at, shaping_error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            _record_position(conn, consumer, seq)
            return last

        last = await self._submit(record, lambda _: self._remember_position(consumer, seq))
        return list(range(last - len(rows) + 1, last + 1)) if rows else []

    def pending_deliveries(self) -> list[StoredDelivery]:
        return self._deliveries("state = 'pending' ORDER BY id", ())

    def pending_schedule(self, after: tuple[float, int] | None = None, limit: int = 1000) -> list[tuple[float, int]]:
        if after is None:
            rows = (
                self._reader()
                .execute(
                    "SELECT due_at, id FROM deliveries WHERE state = 'pending' ORDER BY due_at, id LIMIT ?", (limit,)
                )
                .fetchall()
            )
        else:
            # A row value compared in the index's order: SQLite seeks to it instead of scanning.
            rows = (
                self._reader()
                .execute(
                    "SELECT due_at, id FROM deliveries WHERE state = 'pending' AND (due_at, id) > (?, ?)"
                    " ORDER BY due_at, id LIMIT ?",
                    (*after, limit),
                )
                .fetchall()
            )
        return [(due_at, delivery_id) for due_at, delivery_id in rows]

    def pending_by_id(self, delivery_ids: Sequence[int]) -> list[StoredDelivery]:
        found: list[StoredDelivery] = []
        for start in range(0, len(delivery_ids), _IDS_PER_QUERY):
            chunk = tuple(delivery_ids[start : start + _IDS_PER_QUERY])
            marks = ",".join("?" * len(chunk))
            found.extend(self._deliveries(f"state = 'pending' AND id IN ({marks})", chunk))
        return found

    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        return self._deliveries("state = 'dead' AND id > ? ORDER BY id LIMIT ?", (after_id, limit))

    def _deliveries(self, where: str, args: tuple[Any, ...]) -> list[StoredDelivery]:
        rows = (
            self._reader()
            .execute(
                "SELECT id, event_id, bus, rule_name, rule_arn, target, envelope, payload, trace_header, ingested_at,"
                f" hops, attempts, due_at, state, error_code, error_message, shaping_error FROM deliveries"
                f" WHERE {where}",
                args,
            )
            .fetchall()
        )
        return [StoredDelivery(*row[:5], orjson.loads(row[5]), *row[6:]) for row in rows]  # type: ignore[call-arg]

    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        rows = [(i,) for i in delivery_ids]
        await self._submit(lambda conn: conn.executemany("DELETE FROM deliveries WHERE id = ?", rows))

    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        await self._submit(
            lambda conn: conn.execute(
                "UPDATE deliveries SET attempts = ?, due_at = ?, error_code = ?, error_message = ? WHERE id = ?",
                (attempts, due_at, error_code, error_message, delivery_id),
            )
        )

    async def dead_letter(
        self, delivery_id: int, attempts: int, error_code: str, error_message: str, forward: NewEvent | None
    ) -> None:
        def bury(conn: sqlite3.Connection) -> int:
            if forward is not None:
                conn.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))
                return _insert_events(conn, [forward])
            conn.execute(
                "UPDATE deliveries SET state = 'dead', attempts = ?, error_code = ?, error_message = ? WHERE id = ?",
                (attempts, error_code, error_message, delivery_id),
            )
            return 0

        await self._submit(bury, self._advance)

    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[StoredDelivery]:
        now = time.time()

        def revive(conn: sqlite3.Connection) -> list[int]:
            if delivery_ids is None:
                ids = [row[0] for row in conn.execute("SELECT id FROM deliveries WHERE state = 'dead'")]
            else:
                marks = ",".join("?" * len(delivery_ids))
                ids = [
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM deliveries WHERE state = 'dead' AND id IN ({marks})", tuple(delivery_ids)
                    )
                ]
            conn.executemany(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?, ingested_at = ? WHERE id = ?",
                [(now, now, i) for i in ids],
            )
            return ids

        ids = await self._submit(revive)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self._deliveries(f"id IN ({marks}) ORDER BY id", tuple(ids))

    def last_seq(self) -> int:
        if self._started:
            return self._last_seq
        return int(self._reader().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._local.conn = conn
        return conn

    # -- consumers -----------------------------------------------------------------
    def position(self, consumer: str) -> int:
        return self._consumers.get(consumer, 0)

    async def ack(self, consumer: str, seq: int) -> None:
        await self._submit(
            lambda conn: _record_position(conn, consumer, seq), lambda _: self._remember_position(consumer, seq)
        )

    def _remember_position(self, consumer: str, seq: int) -> None:
        self._consumers[consumer] = max(self._consumers.get(consumer, 0), seq)

    async def wait_for_events(self, after_seq: int, timeout: float | None = None) -> bool:
        assert self._appended is not None, "the store is not open"
        while self._last_seq <= after_seq:
            try:
                await asyncio.wait_for(self._appended.wait(), timeout)
            except TimeoutError:
                return self._last_seq > after_seq
        return True


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older busbar up to this schema."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(resources)")}
    if "revision" not in columns:
        conn.execute("ALTER TABLE resources ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")


def _insert_events(conn: sqlite3.Connection, events: Sequence[NewEvent]) -> int:
    """Insert *events*; return the sequence number of the last one."""
    conn.executemany(
        "INSERT INTO events (event_id, bus, time, ingested_at, trace_header, hops, envelope)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(e.event_id, e.bus, e.time, e.ingested_at, e.trace_header, e.hops, e.envelope) for e in events],
    )
    # One writer: the rows of one executemany get consecutive numbers.
    return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])


def _record_position(conn: sqlite3.Connection, consumer: str, seq: int) -> None:
    conn.execute(
        "INSERT INTO consumers (name, position) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET position = MAX(position, excluded.position)",
        (consumer, seq),
    )
