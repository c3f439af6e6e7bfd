"""Timestamps as AWS clients send them: epoch seconds (botocore) or ISO 8601 text."""

from __future__ import annotations

import datetime as dt
from typing import Any


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from epoch seconds or an ISO 8601 / RFC 3339 string,
    or None when *value* is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
