"""Log-group targets: each delivered payload is appended as one JSON line to
``<data-dir>/log-groups/<log group name, URL-quoted>.jsonl``, for debugging and
for keeping a plain record of what a rule matched."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from urllib.parse import quote

import orjson

from busbar.delivery.base import Delivery, Outcome
from busbar.delivery.kinds import target_kind


def log_group_path(data_dir: Path, name: str) -> Path:
    """Where a log group's lines go (the name is quoted: it may contain '/')."""
    return Path(data_dir) / "log-groups" / f"{quote(name, safe='')}.jsonl"


class LogGroupSender:
    """Appends payloads to JSON-lines files, one per log group."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = Path(data_dir)
        self._lock = threading.Lock()

    async def send(self, delivery: Delivery) -> Outcome:
        kind = target_kind(delivery.target["Arn"])
        assert kind is not None
        payload = delivery.payload
        try:
            line = orjson.dumps(orjson.loads(payload))  # one line, whatever the template's layout
        except orjson.JSONDecodeError:
            line = orjson.dumps(payload.decode("utf-8", "replace"))  # plain text becomes a JSON string
        path = log_group_path(self._data_dir, kind[3])
        try:
            await asyncio.to_thread(self._append, path, line + b"\n")
        except OSError as error:
            return Outcome.retry("LogGroupWriteFailed", f"Could not write to {path}: {error.strerror}")
        return Outcome.success()

    def _append(self, path: Path, line: bytes) -> None:
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as file:
                file.write(line)

    async def close(self) -> None:
        pass
