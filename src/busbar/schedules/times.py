"""The times busbar.schedules accepts and answers: aware datetimes or epoch seconds in, aware UTC
datetimes on whole seconds out."""

from __future__ import annotations

import datetime as dt
import math

Instant = dt.datetime | float
"""An aware datetime, or seconds since the epoch (an int or a float, as botocore sends them)."""


def epoch_seconds(t: Instant) -> int:
    """Whole seconds since the epoch at or before *t*. A naive datetime is refused: a schedule's
    times are UTC and guessing the zone of a naive one hides bugs."""
    if isinstance(t, dt.datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t.isoformat()}: give an aware one (UTC) or epoch seconds")
        return math.floor(t.timestamp())
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise TypeError(f"not a time: {t!r}")
    return math.floor(t)


def utc(seconds: int) -> dt.datetime | None:
    """*seconds* since the epoch as an aware UTC datetime; None past what a datetime can hold."""
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
