"""PutEvents entry size, computed exactly as EventBridge documents it.

The size of an entry is 14 bytes when ``Time`` is given, plus the UTF-8 length of
``Source``, ``DetailType``, ``Detail`` and of every string in ``Resources``.
``EventBusName`` and ``TraceHeader`` do not count.  The server and the publisher
(`busbar.client`) both use this function, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TIME_BYTES = 14
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024


def _utf8_len(value: Any) -> int:
    if isinstance(value, str):
        # ASCII is the common case; len() is exact for it and avoids an encode.
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    return 0


def entry_size(entry: Mapping[str, Any]) -> int:
    """Return the size in bytes that EventBridge charges for one PutEvents entry."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    size += _utf8_len(entry.get("Source"))
    size += _utf8_len(entry.get("DetailType"))
    size += _utf8_len(entry.get("Detail"))
    resources = entry.get("Resources")
    if isinstance(resources, list):
        for resource in resources:
            size += _utf8_len(resource)
    return size
