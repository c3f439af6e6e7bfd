"""``parse_schedule``: a rule's ``ScheduleExpression`` as an object that computes its ticks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from .cron import CronSchedule
from .errors import InvalidScheduleExpression
from .rate import RateSchedule
from .times import Instant

Schedule = CronSchedule | RateSchedule
"""Either kind; both answer ``next_after(t, anchor=None)`` and keep their text as ``expression``."""


def parse_schedule(text: object) -> Schedule:
    """The schedule *text* names; raise :class:`InvalidScheduleExpression` (whose message is AWS's,
    "Parameter ScheduleExpression is not valid.") when EventBridge would refuse it."""
    if not isinstance(text, str):
        raise InvalidScheduleExpression("not a string")
    if text.startswith("cron("):
        return CronSchedule.parse(text)
    if text.startswith("rate("):
        return RateSchedule.parse(text)
    raise InvalidScheduleExpression("neither cron(...) nor rate(...)")


def iter_ticks(schedule: Schedule, after: Instant, anchor: Instant | None = None) -> Iterator[dt.datetime]:
    """Every tick of *schedule* after *after*, in order (endless for a rate; a cron ends with its
    years). *anchor* is the start of a rate schedule (see ``RateSchedule.next_after``)."""
    tick = schedule.next_after(after, anchor)
    while tick is not None:
        yield tick
        tick = schedule.next_after(tick, anchor)
