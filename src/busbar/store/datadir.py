"""The data directory and its safety: one server owns it, only its user can read it,
its database is sound when busbar starts and stays the file busbar writes.

* **One owner.**  ``busbar serve`` holds an exclusive lock (``flock``) on
  ``<data-dir>/busbar.lock`` for as long as it runs; a second server on the same
  directory stops at once, naming the directory and the process that holds it.
  Readers (``busbar events``, ``busbar dead-letters list``, ``busbar backup``) take
  no lock: SQLite in WAL mode lets them read beside the writer.
* **Private.**  The directory is made 0700 and what is in it 0600 (tightened when an
  older busbar left them wider), so no other local user reads events or secrets.
* **Sound at start.**  ``busbar.db`` must pass SQLite's ``quick_check`` before the
  store opens it; a damaged file is refused with a message saying what to do.
* **Still ours while running.**  :class:`WriterGuard` notices when the database file
  (or its ``-wal``) is deleted or replaced under the running writer: commits to the
  orphaned file would be lost at the next start, so from then on every commit fails
  (PutEvents answers the retryable ``InternalFailure``), ``/health`` says why, and
  the log says it once.  It also remembers a commit that failed for any other reason
  (a corrupt page, a full disk) until one succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import sqlite3
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from busbar.store.base import Unavailable

log = logging.getLogger("busbar.store")

LOCK_NAME = "busbar.lock"
DB_NAME = "busbar.db"
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


class DataDirError(Exception):
    """The data directory cannot be used; the message says why and what to do."""


class DataDirInUse(DataDirError):
    """Another process holds the data directory's lock."""


class DatabaseDamaged(DataDirError):
    """``busbar.db`` failed SQLite's integrity check."""


class StoreLost(Unavailable):
    """The database file busbar writes is no longer the file at its path."""


def sqlite_uri(path: Path, *, read_only: bool = False) -> str:
    """*path* as an SQLite ``file:`` URI.  Characters that mean something in a URI
    (``#``, ``?``, ``%``) are percent-encoded, so any directory name works."""
    uri = "file:" + quote(str(Path(path).absolute()), safe="/")
    return uri + "?mode=ro" if read_only else uri


class DataDir:
    """A data directory this process owns: opened with :meth:`open`, given back with :meth:`close`."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def open(cls, path: Path) -> DataDir:
        """Create or take over *path*: lock it, make it private, check its database.
        Raises :class:`DataDirError` (with the reason and the remedy) when it cannot be used."""
        path = Path(path)
        try:
            path.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        except OSError as error:
            raise DataDirError(f"cannot create the data directory {path}: {error.strerror}") from None
        lock_fd = _lock(path)
        try:
            _make_private(path)
            db = path / DB_NAME
            check_database(db)
            # Created private here so that SQLite gives its -wal and -shm the same mode.
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, _PRIVATE_FILE))
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, lock_fd)

    def close(self) -> None:
        """Release the lock (the process exiting releases it too)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path) -> int:
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _PRIVATE_FILE)
    except OSError as error:
        raise DataDirError(f"cannot open {lock_path}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "a process that did not say which"
        os.close(fd)
        raise DataDirInUse(
            f"the data directory {path} is in use by another busbar server ({holder}); "
            "stop that server first, or give this one another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode(), 0)
    return fd


def _make_private(path: Path) -> None:
    """0700 for the directory and the directories in it, 0600 for its files: what an older
    busbar (or a umask of 022) left readable by other users is tightened."""
    tightened = 0
    for directory, subdirs, files in os.walk(path):
        for name, mode in [(directory, _PRIVATE_DIR)] + [(os.path.join(directory, f), _PRIVATE_FILE) for f in files]:
            info = os.lstat(name)
            if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
                continue
            try:
                os.chmod(name, stat.S_IMODE(info.st_mode) & mode)
            except OSError as error:
                raise DataDirError(f"cannot make {name} private (chmod): {error.strerror}") from None
            tightened += 1
        subdirs[:] = [d for d in subdirs if not os.path.islink(os.path.join(directory, d))]
    if tightened:
        log.warning("made the data directory private", extra={"data_dir": str(path), "files": tightened})


def check_database(db: Path) -> None:
    """Refuse a database that fails SQLite's ``quick_check`` (it reads every page,
    so a damaged file is found at start, not by the first PutEvents that touches it)."""
    if not db.exists() or db.stat().st_size == 0:
        return
    remedy = (
        "restore it from a backup (see 'busbar backup'), or move it (with its -wal and -shm files) "
        "out of the data directory to start with an empty store"
    )
    try:
        conn = sqlite3.connect(sqlite_uri(db), uri=True, isolation_level=None, timeout=30)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise DatabaseDamaged(f"the database {db} is damaged (SQLite: {error}); {remedy}") from None
    if problems != ["ok"]:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        raise DatabaseDamaged(f"the database {db} is damaged (SQLite quick_check: {shown}); {remedy}")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


class WriterGuard:
    """Whether the store's writer can still commit, and why not.

    Made once the writer has opened the database; :meth:`check` (before and after each
    commit) raises :class:`StoreLost` once the files at the database's paths are not the
    ones the writer has open — from then on, for good: what the writer commits goes to a
    file nobody will read again.  :meth:`failed` and :meth:`check` also keep the last
    commit's failure for :meth:`problem` (what ``/health`` reports).
    """

    def __init__(self, db: Path) -> None:
        self._db = Path(db)
        paths = [self._db, Path(f"{db}-wal")]
        self._watched = {path: identity for path in paths if (identity := _identity(path)) is not None}
        self._lost: str | None = None
        self._failure: str | None = None

    def check(self) -> None:
        """Raise :class:`StoreLost` when the database was deleted or replaced."""
        if self._lost is None:
            for path, identity in self._watched.items():
                now = _identity(path)
                if now != identity:
                    how = "deleted" if now is None else "replaced by another file"
                    self._lost = (
                        f"the database file {path} was {how} while busbar was running; nothing more is "
                        "accepted (PutEvents answers InternalFailure). Restart busbar (restore the data "
                        "directory from a backup first if the file was not moved on purpose)"
                    )
                    log.error("store lost", extra={"path": str(path), "reason": self._lost})
                    break
        if self._lost is not None:
            raise StoreLost(self._lost)

    def failed(self, error: BaseException) -> None:
        """A commit failed: say so until one succeeds."""
        if not isinstance(error, StoreLost):
            self._failure = f"the last commit to {self._db} failed: {error}"

    def succeeded(self) -> None:
        self._failure = None

    def problem(self) -> str | None:
        """Why the store cannot write, or None when it can."""
        try:
            self.check()
        except StoreLost as lost:
            return str(lost)
        return self._failure


def truncate_wal(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database and empty it (``wal_checkpoint(TRUNCATE)``), so that
    pages overwritten or deleted since (old secrets, zeroed by ``secure_delete``) are no
    longer in the ``-wal`` file.  Run it on the writer's connection between transactions:
    it then never waits for a writer, and it does not wait for readers either (a reader on
    an old snapshot, say a long ``busbar backup``, would hold up every commit) — it answers
    False instead, to be tried again."""
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:  # "database is locked": the same as busy
        busy = 1
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return not busy


class WalScrubber:
    """Empties the WAL (:func:`truncate_wal`) when secrets were replaced or removed.

    *between_transactions* runs a function on the writer's connection between two
    transactions and answers its result.  :meth:`scrub` tries for about a second; while a
    reader holds an old snapshot (a long ``busbar backup``) it goes on trying in the
    background, so that neither the API call nor the commits wait for that reader.
    """

    def __init__(self, between_transactions: Callable[[Callable[[sqlite3.Connection], bool]], Awaitable[bool]]) -> None:
        self._run = between_transactions
        self._retrying: asyncio.Task[None] | None = None

    async def scrub(self) -> None:
        for _ in range(10):
            if await self._run(truncate_wal):
                return
            await asyncio.sleep(0.1)
        if self._retrying is None or self._retrying.done():
            log.warning("the WAL file cannot be emptied yet: a reader holds an old snapshot; trying again")
            self._retrying = asyncio.create_task(self._keep_trying(), name="busbar-wal-scrubber")

    async def _keep_trying(self) -> None:
        while not await self._run(truncate_wal):
            await asyncio.sleep(1.0)
        log.info("the WAL file is emptied")

    async def close(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
