"""A second opinion from a well-kept library: on the part of AWS's grammar that croniter also reads
(5 fields, every year; no ``LW``, no ``L`` alone in day-of-week, no ranges that wrap, ``nW`` only
where every month has day n), busbar.schedules and croniter name the same next minute.

croniter is not used by busbar itself: it numbers weekdays 0-6, stops at 2099 and does not read
``LW`` (docs/schedules-notes.md).
"""

from __future__ import annotations

import datetime as dt

from croniter import CroniterBadDateError, croniter
from hypothesis import given, settings
from hypothesis import strategies as st
from schedules_reference import CronSpec, DaySpec, Item, ListField
from test_schedules_properties import list_fields, start_times

from busbar.schedules import parse_schedule

EVERY_YEAR = ListField((Item("all"),), 1970, 2199)


def _no_wrap(field: ListField) -> bool:
    return all(item.kind != "range" or item.a <= item.b for item in field.items)


@st.composite
def shared_specs(draw: st.DrawFn) -> CronSpec:
    plain = st.builds(lambda f: f, list_fields(0, 59)).filter(_no_wrap)
    if draw(st.booleans()):
        form = draw(st.sampled_from(["list", "L", "W"]))
        if form == "list":
            day = DaySpec("dom", "list", draw(list_fields(1, 31).filter(_no_wrap)))
        else:
            day = DaySpec("dom", form, n=draw(st.integers(1, 28)) if form == "W" else 0)
    else:
        form = draw(st.sampled_from(["list", "nL", "#"]))
        if form == "list":
            day = DaySpec("dow", "list", draw(list_fields(1, 7, steps=False).filter(_no_wrap)))
        else:
            day = DaySpec("dow", form, n=draw(st.integers(1, 7)), k=draw(st.integers(1, 5)))
    return CronSpec(
        draw(plain),
        draw(list_fields(0, 23).filter(_no_wrap)),
        day,
        draw(list_fields(1, 12).filter(_no_wrap)),
        EVERY_YEAR,
    )


def _croniter_field(field: ListField, shift: int = 0) -> str:
    """*field* for croniter, moved by *shift*; a range of one value (``3-3``) is written as the
    value, since croniter 7 reads ``n-n`` in day-of-week as every day."""
    items = []
    for i in field.items:
        if i.kind == "range" and i.a == i.b:
            items.append(Item("value", i.a + shift))
        else:
            items.append(Item(i.kind, i.a + shift, i.b + shift, i.step))
    return ListField(tuple(items), field.low + shift, field.high + shift).text()


def croniter_text(spec: CronSpec) -> str:
    """The same expression in croniter's dialect: weekdays 0-6, ``L5`` for the last Friday."""
    day = spec.day
    dom = "*"
    if day.field == "dom":
        dom = _croniter_field(day.days) if day.days is not None else day.text()
        dow = "*"
    elif day.form == "list":
        assert day.days is not None
        dow = _croniter_field(day.days, -1)  # AWS 1-7 -> 0-6
    elif day.form == "nL":
        dow = f"L{day.n - 1}"
    else:
        dow = f"{day.n - 1}#{day.k}"
    return " ".join(
        [_croniter_field(spec.minutes), _croniter_field(spec.hours), dom, _croniter_field(spec.months), dow]
    )


@settings(max_examples=300, deadline=None)
@given(shared_specs(), start_times())
def test_busbar_and_croniter_agree(spec: CronSpec, start: dt.datetime) -> None:
    ours = parse_schedule(spec.text()).next_after(start)
    # day_or=False: the field that is not restricted must not widen the other (croniter ORs them).
    try:
        theirs = croniter(croniter_text(spec), start, day_or=False).get_next(dt.datetime)
    except CroniterBadDateError:  # a day no month has (30 February): no tick ever
        assert ours is None, (spec.text(), croniter_text(spec))
        return
    assert ours == theirs.astimezone(dt.UTC), (spec.text(), croniter_text(spec))
