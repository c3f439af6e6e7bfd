"""Which days of a month a cron expression's day fields select.

A cron expression restricts days through exactly one of its two day fields (the other is ``?``).
Each form of those fields is one small class here with one method, ``days(year, month)``: the
days of that month it selects, ascending. Weekdays use AWS's numbering, 1 = SUN ... 7 = SAT.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Protocol

SATURDAY = 7


def aws_weekday(year: int, month: int, day: int) -> int:
    """AWS's day-of-week number of a date: 1 = SUN ... 7 = SAT."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def month_length(year: int, month: int) -> int:
    """Days in *month* of *year* (29 for February of a leap year)."""
    return calendar.monthrange(year, month)[1]


def _is_weekend(year: int, month: int, day: int) -> bool:
    return aws_weekday(year, month, day) in (1, SATURDAY)


class DayRule(Protocol):
    """A form of the day-of-month or day-of-week field."""

    def days(self, year: int, month: int) -> list[int]:
        """The days of *month* in *year* that the field selects, ascending."""
        ...


@dataclass(frozen=True)
class DaysOfMonth:
    """Day-of-month values, ranges and increments (``1,15``, ``1-7``, ``1/5``, ``*``); days past
    the end of a month are skipped, never moved."""

    values: tuple[int, ...]

    def days(self, year: int, month: int) -> list[int]:
        last = month_length(year, month)
        return [d for d in self.values if d <= last]


@dataclass(frozen=True)
class LastDayOfMonth:
    """``L`` in the day-of-month field: the month's last day."""

    def days(self, year: int, month: int) -> list[int]:
        return [month_length(year, month)]


@dataclass(frozen=True)
class LastWeekdayOfMonth:
    """``LW``: the month's last Monday-to-Friday day."""

    def days(self, year: int, month: int) -> list[int]:
        day = month_length(year, month)
        while _is_weekend(year, month, day):
            day -= 1
        return [day]


@dataclass(frozen=True)
class NearestWeekday:
    """``nW``: the Monday-to-Friday day nearest to day *n*, never crossing into another month
    (a Saturday the 1st gives Monday the 3rd; a Sunday that ends the month gives the Friday
    before). A month shorter than *n* days has no such day."""

    day: int

    def days(self, year: int, month: int) -> list[int]:
        last = month_length(year, month)
        if self.day > last:
            return []
        weekday = aws_weekday(year, month, self.day)
        if weekday == SATURDAY:
            return [self.day + 2 if self.day == 1 else self.day - 1]
        if weekday == 1:
            return [self.day - 2 if self.day == last else self.day + 1]
        return [self.day]


@dataclass(frozen=True)
class Weekdays:
    """Day-of-week values and ranges (``MON-FRI``, ``1,7``, ``*``; ``L`` alone is SAT)."""

    weekdays: frozenset[int]

    def days(self, year: int, month: int) -> list[int]:
        first = aws_weekday(year, month, 1)
        return [d for d in range(1, month_length(year, month) + 1) if (first - 1 + d - 1) % 7 + 1 in self.weekdays]


@dataclass(frozen=True)
class LastWeekdayInMonth:
    """``nL`` in the day-of-week field: the month's last day that is weekday *n* (``6L``: the
    last Friday)."""

    weekday: int

    def days(self, year: int, month: int) -> list[int]:
        last = month_length(year, month)
        back = (aws_weekday(year, month, last) - self.weekday) % 7
        return [last - back]


@dataclass(frozen=True)
class NthWeekday:
    """``n#k``: the *k*-th weekday *n* of the month (``3#2``: the second Tuesday); none in a
    month that has fewer (a fifth Monday, say)."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> list[int]:
        first = 1 + (self.weekday - aws_weekday(year, month, 1)) % 7
        day = first + 7 * (self.nth - 1)
        return [day] if day <= month_length(year, month) else []
