"""JSON serialisation for input shaping: compact, UTF-8, as bytes."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["RawJson", "dumps"]


class RawJson:
    """JSON text that is already serialised (the event as received), written as is."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes.

    orjson refuses integers beyond 64 bits, which an event's JSON may hold; the standard
    library writes those (and anything else orjson refuses) the same compact way.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
