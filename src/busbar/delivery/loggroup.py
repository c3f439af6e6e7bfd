"""Log-group targets: each delivered payload is appended as one JSON line to
``<data-dir>/log-groups/<log group name, URL-quoted>.jsonl`` (log groups of the
server's own ``--account-id`` and ``--region``) or
``<data-dir>/log-groups/<account>/<region>/<name, URL-quoted>.jsonl`` (others),
for debugging and for keeping a plain record of what a rule matched."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from urllib.parse import quote

import orjson

from busbar.delivery.base import Delivery, Outcome
from busbar.resources.scope import Scope

log = logging.getLogger("busbar.delivery")


def log_group_path(data_dir: Path, name: str, scope: Scope | None = None, home: Scope | None = None) -> Path:
    """Where a log group's lines go (the name is quoted: it may contain '/'); log groups of
    a *scope* other than the server's *home* one live in a directory of their scope's."""
    folder = Path(data_dir) / "log-groups"
    if scope is not None and scope != home:
        folder = folder / scope.account / scope.region
    return folder / f"{quote(name, safe='')}.jsonl"


class LogGroupSender:
    """Appends payloads to JSON-lines files, one per log group."""

    def __init__(self, data_dir: Path, home: Scope | None = None) -> None:
        self._data_dir = Path(data_dir)
        self._home = home
        self._lock = threading.Lock()

    async def send(self, delivery: Delivery) -> Outcome:
        assert delivery.to is not None
        name = delivery.to.name
        payload = delivery.payload
        try:
            line = orjson.dumps(orjson.loads(payload))  # one line, whatever the template's layout
        except orjson.JSONDecodeError:
            line = orjson.dumps(payload.decode("utf-8", "replace"))  # plain text becomes a JSON string
        path = log_group_path(self._data_dir, name, Scope(delivery.to.account, delivery.to.region), self._home)
        try:
            await asyncio.to_thread(self._append, path, line + b"\n")
        except OSError as error:
            # The message names the log group, never a path of the server's machine.
            log.warning("log group write failed", extra={"log_group": name, "path": str(path), "error": str(error)})
            return Outcome.retry("LogGroupWriteFailed", f"Could not write to log group {name}: {error.strerror}")
        return Outcome.success()

    def _append(self, path: Path, line: bytes) -> None:
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as file:
                file.write(line)

    async def close(self) -> None:
        pass
