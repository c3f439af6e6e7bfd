"""PutEvents entries: the per-entry checks EventBridge makes, and the envelope
that an accepted entry becomes.

Everything here is pure (no I/O): PutEvents (:mod:`busbar.api.events`) runs these
checks on each entry (:func:`parse_detail`, :func:`event_time`, the
:class:`EntryError` constants) and stores the envelope :func:`envelope` builds.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from busbar.model.timestamps import parse_timestamp

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Integers of 19 digits or more may fall outside int64; orjson silently turns
# those into floats, so such details are re-read with the exact stdlib parser.
_LONG_INTEGER = re.compile(r"\d{19,}")


@dataclass(frozen=True, slots=True)
class EntryError:
    """Why one entry failed: ``ErrorCode`` and ``ErrorMessage`` of the PutEvents answer."""

    code: str
    message: str


def _required(name: str) -> EntryError:
    return EntryError("InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument.")


MISSING_SOURCE = _required("Source")
MISSING_DETAIL_TYPE = _required("DetailType")
MISSING_DETAIL = _required("Detail")
MALFORMED_DETAIL = EntryError("MalformedDetail", "Detail is malformed.")
AWS_SOURCE = EntryError("NotAuthorizedForSourceException", "Not authorized for the source.")


def detail_type_too_long(limit: int) -> EntryError:
    return EntryError(
        "InvalidArgument", f"Parameter DetailType is not valid. Reason: DetailType must be at most {limit} characters."
    )


def parse_detail(text: str, max_depth: int) -> dict[str, Any] | None:
    """The Detail as a dict, or None when it is not a JSON object, nests deeper
    than *max_depth*, or holds an integer outside the signed 64-bit range."""
    try:
        detail = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(detail, dict):
        return None
    # Depth can only exceed the limit when there are more openers than the limit.
    if text.count("{") + text.count("[") > max_depth and _depth(detail, max_depth) > max_depth:
        return None
    if _LONG_INTEGER.search(text) and not _integers_fit(text):
        return None
    return detail


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping once past *limit*."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


def _integers_fit(text: str) -> bool:
    def parse_int(literal: str) -> int:
        number = int(literal)
        if not INT64_MIN <= number <= INT64_MAX:
            raise ValueError("integer out of range")
        return number

    try:
        json.loads(text, parse_int=parse_int)
    except (ValueError, RecursionError):
        return False
    return True


class Clock:
    """The envelope ``time`` for "now", formatted once per second rather than per event."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> tuple[float, str]:
        """(epoch seconds, ``YYYY-MM-DDThh:mm:ssZ``)."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return now, self._text


def format_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch // 1)))


def event_time(value: Any) -> tuple[float, str] | None:
    """(epoch, envelope text) for an entry's ``Time``, or None if it cannot be read."""
    parsed = parse_timestamp(value)
    if parsed is None:
        return None
    epoch = parsed.timestamp()
    return epoch, format_time(epoch)


class _RandomPool:
    """Bytes from ``os.urandom``, fetched 64 KiB at a time: the system call, not
    the formatting, dominates ``uuid.uuid4()``, and on some machines it is slow."""

    def __init__(self, size: int = 65536) -> None:
        self._size = size
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._offset + count > len(self._buffer):
                self._buffer = os.urandom(max(self._size, count))
                self._offset = 0
            start = self._offset
            self._offset += count
            return self._buffer[start : self._offset]


_RANDOM = _RandomPool()


def new_event_ids(count: int) -> list[str]:
    """*count* random (version 4) UUIDs as text."""
    raw = bytearray(_RANDOM.take(16 * count))
    ids = []
    for start in range(0, 16 * count, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40  # version 4
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[start : start + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def encode_envelope(envelope: dict[str, Any], detail_text: str) -> bytes:
    """The envelope as JSON bytes.  ``detail`` is re-serialized (normalized) when
    orjson can; details nested deeper than orjson serializes (about 250 levels)
    are spliced in as the text the client sent, which was checked to be a JSON object."""
    try:
        return orjson.dumps(envelope)
    except TypeError:
        head = orjson.dumps({**envelope, "detail": None})
        assert head.endswith(b'"detail":null}')
        return head[: -len(b"null}")] + detail_text.encode("utf-8") + b"}"


def envelope(
    event_id: str, entry: dict[str, Any], detail: dict[str, Any], time_text: str, account: str, region: str
) -> dict[str, Any]:
    """The event as EventBridge delivers it to targets."""
    resources = entry.get("Resources")
    return {
        "version": "0",
        "id": event_id,
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": time_text,
        "region": region,
        "resources": resources if resources is not None else [],
        "detail": detail,
    }
