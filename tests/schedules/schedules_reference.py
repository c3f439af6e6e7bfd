"""A deliberately plain model of EventBridge cron expressions, used only to check busbar.schedules.

An expression is built here as data (``CronSpec``), written out as text for the library to
parse, and judged by this module on its own: ``matches`` tests one minute against the fields the
way AWS's documentation words them, and ``reference_next`` walks forward day by day and minute
by minute. Nothing here shares code with busbar.schedules.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # AWS: 1 = SUN ... 7 = SAT


@dataclass(frozen=True)
class Item:
    """One comma-separated item of a list field: ``*``, ``v``, ``a-b``, each with an optional
    ``/step``; ``names`` writes months and weekdays by name."""

    kind: str  # "all", "value", "range"
    a: int = 0
    b: int = 0
    step: int | None = None
    names: bool = False


@dataclass(frozen=True)
class ListField:
    items: tuple[Item, ...]
    low: int
    high: int
    labels: tuple[str, ...] = ()  # names for low..high, when the field has them

    def text(self) -> str:
        return ",".join(self._item_text(item) for item in self.items)

    def _label(self, value: int, names: bool) -> str:
        return self.labels[value - self.low] if names and self.labels else str(value)

    def _item_text(self, item: Item) -> str:
        if item.kind == "all":
            base = "*"
        elif item.kind == "value":
            base = self._label(item.a, item.names)
        else:
            base = f"{self._label(item.a, item.names)}-{self._label(item.b, item.names)}"
        return base if item.step is None else f"{base}/{item.step}"

    def values(self) -> set[int]:
        chosen: set[int] = set()
        for item in self.items:
            if item.kind == "all":
                walk = list(range(self.low, self.high + 1))
            elif item.kind == "value":
                walk = list(range(item.a, self.high + 1)) if item.step else [item.a]
            else:
                # Step from a, one value at a time, going round past the top, until b.
                walk, value = [item.a], item.a
                while value != item.b:
                    value = self.low if value == self.high else value + 1
                    walk.append(value)
            chosen.update(walk[:: item.step or 1])
        return chosen


@dataclass(frozen=True)
class DaySpec:
    """The restricting day field: ``field`` is "dom" or "dow"; ``form`` is "list", "L", "LW",
    "W" (nearest weekday to ``n``), "nL" (last weekday ``n``) or "#" (``k``-th weekday ``n``)."""

    field: str
    form: str
    days: ListField | None = None
    n: int = 0
    k: int = 0
    names: bool = False

    def text(self) -> str:
        weekday = WEEKDAYS[self.n - 1] if self.names and self.n else str(self.n)
        if self.form == "list":
            assert self.days is not None
            return self.days.text()
        if self.form in ("L", "LW"):
            return self.form
        if self.form == "W":
            return f"{self.n}W"
        if self.form == "nL":
            return f"{weekday}L"
        return f"{weekday}#{self.k}"

    def matches(self, day: dt.date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        weekday = day.isoweekday() % 7 + 1  # Monday is 1 in ISO, 2 in AWS
        if self.field == "dow":
            if self.form == "list":
                assert self.days is not None
                return weekday in self.days.values()
            if self.form == "L":
                return weekday == 7
            if self.form == "nL":
                return weekday == self.n and day.day + 7 > last
            return weekday == self.n and (day.day - 1) // 7 + 1 == self.k
        if self.form == "list":
            assert self.days is not None
            return day.day in self.days.values()
        if self.form == "L":
            return day.day == last
        working = [d for d in range(1, last + 1) if dt.date(day.year, day.month, d).isoweekday() <= 5]
        if self.form == "LW":
            return day.day == working[-1]
        if self.n > last:
            return False
        return day.day == min(working, key=lambda d: abs(d - self.n))


@dataclass(frozen=True)
class CronSpec:
    minutes: ListField
    hours: ListField
    day: DaySpec
    months: ListField
    years: ListField

    def text(self) -> str:
        dom = self.day.text() if self.day.field == "dom" else "?"
        dow = self.day.text() if self.day.field == "dow" else "?"
        fields = [self.minutes.text(), self.hours.text(), dom, self.months.text(), dow, self.years.text()]
        return "cron(" + " ".join(fields) + ")"

    def day_matches(self, day: dt.date) -> bool:
        return day.month in self.months.values() and day.year in self.years.values() and self.day.matches(day)

    def matches(self, minute: dt.datetime) -> bool:
        return (
            minute.second == 0
            and minute.minute in self.minutes.values()
            and minute.hour in self.hours.values()
            and self.day_matches(minute.date())
        )


def reference_next(spec: CronSpec, after: dt.datetime, horizon_days: int) -> dt.datetime | None:
    """The first minute after *after* that *spec* matches, looking *horizon_days* ahead; None if
    there is none that soon."""
    minutes, hours = spec.minutes.values(), spec.hours.values()
    day = after.date()
    for _ in range(horizon_days):
        if day.year > 2199:
            return None
        if day.year >= 1970 and spec.day_matches(day):
            for minute_of_day in range(24 * 60):
                hour, minute = divmod(minute_of_day, 60)
                candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
                if candidate > after and hour in hours and minute in minutes:
                    return candidate
        day += dt.timedelta(days=1)
    return None
