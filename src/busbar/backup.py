"""``busbar backup DEST``: a consistent copy of a data directory's store, taken while
the server runs.

The copy is SQLite's online backup, read inside one read transaction: in WAL mode
the server keeps committing meanwhile and the copy is the store as it was when the
backup started — every event acknowledged before then, nothing half-written.  It
is copied a slice of pages at a time, so a long backup can say how far it is, and
checked with ``quick_check`` once written.

DEST is a new (or empty) directory and comes out as a data directory of its own:
0700, holding ``busbar.db`` (0600) — ``busbar serve --data-dir DEST`` starts from
it.  The secrets key is not copied unless asked (``with_key``): a backup kept apart
from the key does not give away the connection secrets sealed in it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from busbar.resources.secretbox import KEY_FILE_NAME
from busbar.store.datadir import DB_NAME, sqlite_uri

# Pages copied per step (4 MiB with SQLite's default 4 KiB pages).
PAGES_PER_STEP = 1024

Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class BackupError(Exception):
    """The backup could not be made; the message says why."""


def backup(data_dir: Path, dest: Path, *, with_key: Path | None = None, progress: Progress | None = None) -> int:
    """Copy the store of *data_dir* into the new directory *dest* (and the key file
    *with_key*, when given); answer the number of pages copied."""
    source_db = Path(data_dir) / DB_NAME
    if not source_db.is_file():
        raise BackupError(f"no store at {source_db}")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not empty; a backup goes to a new directory")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    copy_db = dest / DB_NAME
    os.close(os.open(copy_db, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    source = sqlite3.connect(sqlite_uri(source_db, read_only=True), uri=True, isolation_level=None, timeout=30)
    copy = sqlite3.connect(sqlite_uri(copy_db), uri=True, isolation_level=None)
    try:
        # One read transaction for the whole copy: the steps see one snapshot, and the
        # server's commits meanwhile neither restart the backup nor leak into it.
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        copied = 0

        def step(status: int, remaining: int, total: int) -> None:
            nonlocal copied
            copied = total - remaining
            if progress is not None:
                progress(copied, total)

        source.backup(copy, pages=PAGES_PER_STEP, progress=step)
        source.execute("COMMIT")
        problems = [row[0] for row in copy.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy at {copy_db} failed SQLite's quick_check: {'; '.join(problems[:3])}")
    except sqlite3.Error as error:
        raise BackupError(f"the backup of {source_db} failed: {error}") from None
    finally:
        source.close()
        copy.close()
    if with_key is not None:
        if not with_key.is_file():
            raise BackupError(f"no secrets key file at {with_key}")
        key_copy = dest / KEY_FILE_NAME  # where a server started on DEST looks for it
        os.close(os.open(key_copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        shutil.copyfile(with_key, key_copy)
    return copied
