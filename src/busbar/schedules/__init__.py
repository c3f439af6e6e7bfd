"""busbar.schedules: EventBridge's ``ScheduleExpression`` (``rate(...)`` and ``cron(...)``) as a
pure Python library: validate exactly as AWS does, and compute the times a rule fires.

    from busbar.schedules import parse_schedule, InvalidScheduleExpression

    s = parse_schedule("cron(0 18 ? * MON-FRI *)")   # or InvalidScheduleExpression
    s.next_after(now)                                 # next tick strictly after now (UTC), or None
    r = parse_schedule("rate(5 minutes)")
    r.next_after(now, anchor=rule_enabled_at)         # rate ticks count from the anchor

No I/O; nothing here imports the server, the store or delivery.
"""

from __future__ import annotations

from .cron import CronSchedule
from .errors import InvalidScheduleExpression
from .expressions import Schedule, iter_ticks, parse_schedule
from .rate import RateSchedule
from .times import Instant

__all__ = [
    "CronSchedule",
    "Instant",
    "InvalidScheduleExpression",
    "RateSchedule",
    "Schedule",
    "iter_ticks",
    "parse_schedule",
]
