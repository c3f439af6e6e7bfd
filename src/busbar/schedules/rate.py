"""``rate(value unit)``: a rule that fires every *value* minutes, hours or days, counted from an
anchor (when the rule was created or last enabled)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .errors import InvalidScheduleExpression
from .times import Instant, epoch_seconds, utc

UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# AWS reads the value as a Java int; anything longer is not a number it accepts.
MAX_VALUE = 2**31 - 1
_RATE = re.compile(r"rate\(([1-9][0-9]{0,9}) (minute|hour|day)(s?)\)")


@dataclass(frozen=True)
class RateSchedule:
    """A parsed ``rate(...)`` expression. Its ticks are ``anchor + k * interval`` for k >= 1,
    with the anchor cut to a whole second."""

    expression: str
    value: int
    unit: str  # "minute", "hour" or "day"
    interval: int  # seconds between ticks

    @classmethod
    def parse(cls, expression: str) -> RateSchedule:
        """Read ``rate(...)``; raise :class:`InvalidScheduleExpression` when AWS would refuse it.

        The value is a positive whole number without a sign or leading zeros; the unit is
        ``minute``, ``hour`` or ``day``, singular for 1 and plural otherwise; one space between
        them and none elsewhere; lower case.
        """
        match = _RATE.fullmatch(expression)
        if not match:
            raise InvalidScheduleExpression("not rate(<positive number> <minute(s)|hour(s)|day(s)>)")
        value, unit, plural = int(match.group(1)), match.group(2), match.group(3)
        if value > MAX_VALUE:
            raise InvalidScheduleExpression(f"rate value {value} is over {MAX_VALUE}")
        if (value == 1) == bool(plural):
            raise InvalidScheduleExpression("the unit is singular for 1 and plural for more")
        return cls(expression, value, unit, value * UNIT_SECONDS[unit])

    def next_after(self, t: Instant, anchor: Instant | None = None) -> dt.datetime | None:
        """The first tick after *t* (strictly) of the schedule started at *anchor*, as an aware UTC
        datetime on a whole second (None past the year 9999). The first tick is one interval
        after the anchor, never the anchor itself."""
        if anchor is None:
            raise ValueError(f"{self.expression} counts from when its rule was created or enabled: give anchor")
        start, now = epoch_seconds(anchor), epoch_seconds(t)
        intervals = max(1, (now - start) // self.interval + 1)
        return utc(start + intervals * self.interval)
