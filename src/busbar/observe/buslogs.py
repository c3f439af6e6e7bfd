"""Event bus logging, as EventBridge has it since 2025: a bus's ``LogConfig``
(``CreateEventBus``/``UpdateEventBus``) makes busbar write a record for each step of
each event's way through the bus.

``Level`` chooses the steps: ``OFF`` (the default) none; ``ERROR`` failures only;
``INFO`` failures and the outcome of each step; ``TRACE`` every step.
``IncludeDetail``: ``FULL`` adds the event's detail and each target's input;
``NONE`` (the default) leaves them out.

Records follow AWS's event bus log schema (``resource_arn``, ``event_id``,
``invocation_id``, ``message_timestamp_ms``, ``message_type``, ``log_level``,
``details``, ``error``) and go, one JSON object per line, to the local log group
``/aws/vendedlogs/events/event-bus/<bus>`` (AWS's conventional name for a bus's
vended logs): ``<data-dir>/log-groups/%2Faws%2Fvendedlogs%2Fevents%2Fevent-bus%2F<bus>.jsonl``.
``busbar bus-logs BUS`` prints them and the console shows them.  Nothing is
written for a bus whose level is ``OFF``, and that costs the hot path one
dictionary lookup.

Levels of the steps (AWS documents them in a diagram; busbar's reading of it):

* ``ERROR``: EVENT_INGEST_FAILURE, INVOCATION_ATTEMPT_RETRYABLE_FAILURE,
  INVOCATION_ATTEMPT_PERMANENT_FAILURE, INVOCATION_ATTEMPT_THROTTLE, INVOCATION_FAILURE,
  INVOCATION_DLQ;
* ``INFO``: EVENT_INGEST_SUCCESS, NO_STANDARD_RULES_MATCHED, RULE_MATCH, INVOCATION_SUCCESS;
* ``TRACE``: EVENT_RECEIPT, RULE_MATCH_START, INVOCATION_START, INVOCATION_ATTEMPT_START,
  INVOCATION_ATTEMPT_SUCCESS, INVOCATION_THROTTLE_START.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from busbar.resources.kinds import BUS
from busbar.resources.loggroups import log_group_path
from busbar.resources.scope import Scope, name_of_key, scope_of_key
from busbar.store.base import Store

log = logging.getLogger("busbar.buslogs")

LEVELS = {"OFF": 0, "ERROR": 1, "INFO": 2, "TRACE": 3}
STEP_LEVELS = {
    "EVENT_INGEST_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_RETRYABLE_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_PERMANENT_FAILURE": "ERROR",
    "INVOCATION_ATTEMPT_THROTTLE": "ERROR",
    "INVOCATION_FAILURE": "ERROR",
    "INVOCATION_DLQ": "ERROR",
    "EVENT_INGEST_SUCCESS": "INFO",
    "NO_STANDARD_RULES_MATCHED": "INFO",
    "RULE_MATCH": "INFO",
    "INVOCATION_SUCCESS": "INFO",
    "EVENT_RECEIPT": "TRACE",
    "RULE_MATCH_START": "TRACE",
    "INVOCATION_START": "TRACE",
    "INVOCATION_ATTEMPT_START": "TRACE",
    "INVOCATION_ATTEMPT_SUCCESS": "TRACE",
    "INVOCATION_THROTTLE_START": "TRACE",
}
# Detail fields written only with IncludeDetail FULL.
DETAIL_FIELDS = ("event_detail", "target_input", "target_properties", "target_response_body")

# Lines are written in batches, off the event loop, this often.
_FLUSH_EVERY = 0.2


def log_group_name(bus_name: str) -> str:
    """The log group a bus's records go to."""
    return f"/aws/vendedlogs/events/event-bus/{bus_name}"


def bus_log_path(data_dir: Path, bus_key: str, home: Scope | None = None) -> Path:
    """The file of the records of the bus whose store key is *bus_key*."""
    return log_group_path(data_dir, log_group_name(name_of_key(bus_key)), scope_of_key(bus_key), home)


@dataclass(frozen=True, slots=True)
class _Config:
    rank: int
    full: bool
    arn: str
    name: str
    path: Path


class BusLogs:
    """Writes the records of every bus whose ``LogConfig`` asks for them."""

    def __init__(self, data_dir: Path, home: Scope | None = None) -> None:
        self._data_dir = Path(data_dir)
        self._home = home
        self._configs: dict[str, _Config] = {}  # only buses that log
        self._pending: list[tuple[Path, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # -- configuration -------------------------------------------------------------
    def follow(self, store: Store) -> None:
        """Read every bus's LogConfig, then follow their changes."""
        for key, bus in store.list_resources(BUS):
            self._configure(key, bus)
        store.watch(self._changed)

    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind == BUS:
            self._configure(key, value)

    def _configure(self, key: str, bus: dict[str, Any] | None) -> None:
        config = (bus or {}).get("LogConfig") or {}
        rank = LEVELS.get(str(config.get("Level", "OFF")), 0)
        if bus is None or rank == 0:
            self._configs.pop(key, None)
            return
        self._configs[key] = _Config(
            rank,
            config.get("IncludeDetail") == "FULL",
            bus["Arn"],
            bus["Name"],
            bus_log_path(self._data_dir, key, self._home),
        )

    @property
    def active(self) -> bool:
        """Whether any bus writes records."""
        return bool(self._configs)

    def logs(self, bus_key: str) -> bool:
        """Whether the bus writes any record (its level is not OFF)."""
        return bus_key in self._configs

    def wants(self, bus_key: str, step: str) -> bool:
        """Whether the bus writes records of *step*."""
        config = self._configs.get(bus_key)
        return config is not None and config.rank >= LEVELS[STEP_LEVELS[step]]

    # -- records -------------------------------------------------------------------
    def emit(
        self,
        bus_key: str,
        step: str,
        event_id: str,
        details: dict[str, Any],
        *,
        invocation_id: str | None = None,
        error: dict[str, Any] | None = None,
        request_id: str | None = None,
        at: float | None = None,
    ) -> None:
        """Write a record of *step* for the bus, if its level asks for that step."""
        config = self._configs.get(bus_key)
        level = STEP_LEVELS[step]
        if config is None or config.rank < LEVELS[level]:
            return
        if not config.full:
            details = {key: value for key, value in details.items() if key not in DETAIL_FIELDS}
        record: dict[str, Any] = {
            "resource_arn": config.arn,
            "event_bus_name": config.name,
            "request_id": request_id,
            "event_id": event_id,
            "invocation_id": invocation_id,
            "message_timestamp_ms": int((at if at is not None else time.time()) * 1000),
            "message_type": step,
            "log_level": level,
            "details": details,
        }
        if error is not None:
            record["error"] = error
        self._pending.append((config.path, orjson.dumps({k: v for k, v in record.items() if v is not None})))
        if self._wake is not None and len(self._pending) == 1:
            self._wake.set()

    # -- writing -------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="busbar-bus-logs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(_FLUSH_EVERY)  # gather what comes next into the same write
            await self.flush()

    async def flush(self) -> None:
        """Write every record emitted so far."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await asyncio.to_thread(_append, batch)
        except OSError as error:
            log.warning("event bus log records could not be written", extra={"count": len(batch), "error": str(error)})


def _append(batch: list[tuple[Path, bytes]]) -> None:
    by_path: dict[Path, list[bytes]] = {}
    for path, line in batch:
        by_path.setdefault(path, []).append(line)
    for path, lines in by_path.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as file:
            file.write(b"\n".join(lines) + b"\n")


def read_records(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The complete records of a bus log file from byte *offset* on, and the offset after them
    (a line still being written is left for the next read)."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return list(_parse(data[:end])), offset + end


def _parse(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
