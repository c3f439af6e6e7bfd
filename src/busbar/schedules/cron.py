"""``cron(Minutes Hours Day-of-month Month Day-of-week Year)``: EventBridge's cron grammar, and the
times it names.

The grammar is AWS's documented one (``docs/schedules-notes.md`` lists the sources and every
choice), which is Quartz's ``CronExpression`` without the seconds field:

=============  ===============  ==================  =======================================
field          values           wildcards           notes
=============  ===============  ==================  =======================================
Minutes        0-59             ``, - * /``
Hours          0-23             ``, - * /``         ranges may wrap (``20-2``)
Day-of-month   1-31             ``, - * ? / L W``   ``L``, ``LW``, ``nW`` stand alone
Month          1-12, JAN-DEC    ``, - * /``
Day-of-week    1-7, SUN-SAT     ``, - * ? L #``     1 = SUN; ``L``, ``nL``, ``n#k`` stand alone
Year           1970-2199        ``, - * /``         ranges may not wrap
=============  ===============  ==================  =======================================

Exactly one of the two day fields is ``?``. Fields are separated by one space; names are
upper case. Times are UTC, to the minute.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .days import (
    DayRule,
    DaysOfMonth,
    LastDayOfMonth,
    LastWeekdayInMonth,
    LastWeekdayOfMonth,
    NearestWeekday,
    NthWeekday,
    Weekdays,
)
from .errors import InvalidScheduleExpression
from .times import Instant, epoch_seconds

MONTH_NAMES = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
WEEKDAY_NAMES = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}
FIRST_YEAR, LAST_YEAR = 1970, 2199


@dataclass(frozen=True)
class _Field:
    """How one field reads its values: bounds, names, the largest increment Quartz accepts, and
    whether a range may run past the top back to the bottom."""

    name: str
    low: int
    high: int
    digits: str  # a regular expression for the number form of a value
    names: dict[str, int]
    max_step: int
    wraps: bool = True

    def value(self, token: str) -> int:
        if token in self.names:
            return self.names[token]
        if not re.fullmatch(self.digits, token):
            raise InvalidScheduleExpression(f"{self.name}: {token!r} is not a value")
        number = int(token)
        if not self.low <= number <= self.high:
            raise InvalidScheduleExpression(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number


MINUTES = _Field("Minutes", 0, 59, r"[0-9]{1,2}", {}, 59)
HOURS = _Field("Hours", 0, 23, r"[0-9]{1,2}", {}, 23)
DAY_OF_MONTH = _Field("Day-of-month", 1, 31, r"[0-9]{1,2}", {}, 31)
MONTH = _Field("Month", 1, 12, r"[0-9]{1,2}", MONTH_NAMES, 12)
DAY_OF_WEEK = _Field("Day-of-week", 1, 7, r"[0-9]", WEEKDAY_NAMES, 7)
YEAR = _Field("Year", FIRST_YEAR, LAST_YEAR, r"[0-9]{4}", {}, LAST_YEAR - FIRST_YEAR, wraps=False)

_WEEKDAY = r"([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)"
_NEAREST_WEEKDAY = re.compile(r"([0-9]{1,2})W")
_LAST_WEEKDAY_IN_MONTH = re.compile(_WEEKDAY + "L")
_NTH_WEEKDAY = re.compile(_WEEKDAY + r"#([1-5])")


def _values(text: str, field: _Field, *, steps: bool = True) -> tuple[int, ...]:
    """The sorted values a list field names: ``*``, ``v``, ``a-b``, ``*/n``, ``v/n``, ``a-b/n``,
    joined by commas."""
    parts = text.split(",")
    chosen: set[int] = set()
    for part in parts:
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not steps:
                raise InvalidScheduleExpression(f"{field.name}: increments are not allowed")
            if not re.fullmatch(r"[0-9]{1,3}", step_text) or not 1 <= int(step_text) <= field.max_step:
                raise InvalidScheduleExpression(f"{field.name}: increment {step_text!r} is not 1-{field.max_step}")
            step = int(step_text)
        if base == "*":
            if len(parts) > 1:
                raise InvalidScheduleExpression(f"{field.name}: '*' cannot be one item of a list")
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = field.value(first), field.value(last)
            if end < start and not field.wraps:
                raise InvalidScheduleExpression(f"{field.name}: range {base!r} runs backwards")
        else:
            start = field.value(base)
            end = field.high if slash else start
        chosen.update(_expand(start, end, step, field))
    return tuple(sorted(chosen))


def _expand(start: int, end: int, step: int, field: _Field) -> Iterator[int]:
    """start, start+step, ... up to end; a range whose end is below its start runs past the top of
    the field and on from its bottom (Quartz's ``FRI-MON``, ``22-2``)."""
    span = field.high - field.low + 1
    offset_end = end - field.low + (span if end < start else 0)
    for offset in range(start - field.low, offset_end + 1, step):
        yield field.low + offset % span


def _day_of_month(text: str) -> DayRule:
    if text == "L":
        return LastDayOfMonth()
    if text == "LW":
        return LastWeekdayOfMonth()
    match = _NEAREST_WEEKDAY.fullmatch(text)
    if match:
        return NearestWeekday(DAY_OF_MONTH.value(match.group(1)))
    return DaysOfMonth(_values(text, DAY_OF_MONTH))


def _day_of_week(text: str) -> DayRule:
    if text == "L":
        return Weekdays(frozenset({7}))  # "the last day of the week": Saturday, every week
    match = _LAST_WEEKDAY_IN_MONTH.fullmatch(text)
    if match:
        return LastWeekdayInMonth(DAY_OF_WEEK.value(match.group(1)))
    match = _NTH_WEEKDAY.fullmatch(text)
    if match:
        return NthWeekday(DAY_OF_WEEK.value(match.group(1)), int(match.group(2)))
    return Weekdays(frozenset(_values(text, DAY_OF_WEEK, steps=False)))


@dataclass(frozen=True)
class CronSchedule:
    """A parsed ``cron(...)`` expression: the values of each field, ready to compute ticks."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Read ``cron(...)``; raise :class:`InvalidScheduleExpression` when AWS would refuse it."""
        if not (expression.startswith("cron(") and expression.endswith(")")):
            raise InvalidScheduleExpression("not cron(...)")
        fields = expression[len("cron(") : -1].split(" ")
        if len(fields) != 6:
            raise InvalidScheduleExpression(f"{len(fields)} fields separated by single spaces, not 6")
        minutes, hours, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise InvalidScheduleExpression("exactly one of Day-of-month and Day-of-week must be '?'")
        day_rule = _day_of_week(day_of_week) if day_of_month == "?" else _day_of_month(day_of_month)
        return cls(
            expression,
            _values(minutes, MINUTES),
            _values(hours, HOURS),
            day_rule,
            _values(month, MONTH),
            _values(year, YEAR),
        )

    def next_after(self, t: Instant, anchor: Instant | None = None) -> dt.datetime | None:
        """The first time after *t* (strictly) that the expression names, as an aware UTC datetime
        on a whole minute; None when there is none (its years are over). *anchor* is ignored: a
        cron expression's times do not depend on when its rule was created."""
        seconds = epoch_seconds(t)
        if seconds >= _END_OF_LAST_YEAR:
            return None
        # The next whole minute; before 1970, the first minute of 1970.
        start = dt.datetime.fromtimestamp(max(seconds // 60 * 60 + 60, 0), dt.UTC)
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.day_rule.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    today = (year, month, day) == (start.year, start.month, start.day)
                    for hour in self.hours:
                        if today and hour < start.hour:
                            continue
                        for minute in self.minutes:
                            if today and (hour, minute) < (start.hour, start.minute):
                                continue
                            return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)
        return None


_END_OF_LAST_YEAR = int(dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC).timestamp())
