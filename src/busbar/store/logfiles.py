"""Log groups as files: one JSON-lines file per log group under ``<data-dir>/log-groups/``.

The embedded store keeps log-group lines where a person looks for them first:
``<data-dir>/log-groups/<name, URL-quoted>.jsonl`` for the log groups of the server's
own account and region, ``<data-dir>/log-groups/<account>/<region>/<name>.jsonl`` for
the others.  A line's position is the byte offset just past it, so a reader resumes
where it stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from busbar.store.base import LogLine

FOLDER = "log-groups"
# Bytes read from a file per call (a reader asking for more calls again).
_READ_CHUNK = 1 << 20


def log_group_file(data_dir: Path, group: str, home: tuple[str, str] | None = None) -> Path:
    """Where the lines of *group* (``account/region/name``) go; log groups of a scope
    other than *home* (account, region) live in a directory of their scope's.  The
    name is quoted: it may contain '/'."""
    account, region, name = group.split("/", 2)
    if (account, region) == home:
        return home_log_group_file(data_dir, name)
    return Path(data_dir) / FOLDER / account / region / f"{quote(name, safe='')}.jsonl"


def home_log_group_file(data_dir: Path, name: str) -> Path:
    """Where the lines of the log group *name* of the server's own account and region go."""
    return Path(data_dir) / FOLDER / f"{quote(name, safe='')}.jsonl"


class LogGroupFiles:
    """Appends to and reads log-group files of one data directory."""

    def __init__(self, data_dir: Path, home: tuple[str, str] | None = None) -> None:
        self._data_dir = Path(data_dir)
        self._home = home
        self._lock = threading.Lock()

    def path(self, group: str) -> Path:
        return log_group_file(self._data_dir, group, self._home)

    def append(self, group: str, lines: Sequence[bytes]) -> None:
        """Append *lines* (blocking: call it in a thread)."""
        path = self.path(group)
        data = b"".join(line + b"\n" for line in lines)
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as file:
                file.write(data)

    def read(self, group: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """Up to *limit* whole lines past the byte offset *after*."""
        try:
            with open(self.path(group), "rb") as file:
                file.seek(max(0, after))
                chunk = file.read(_READ_CHUNK)
        except FileNotFoundError:
            return []
        found: list[LogLine] = []
        start = 0
        while len(found) < limit:
            end = chunk.find(b"\n", start)
            if end < 0:
                break  # a line still being written, or past the chunk: the next call reads it
            found.append(LogLine(max(0, after) + end + 1, chunk[start:end]))
            start = end + 1
        return found
