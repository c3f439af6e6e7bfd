"""Property tests: busbar.schedules against a brute-force reference over random expressions and
random start times (leap years, month ends and 29 February included)."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schedules_reference import MONTHS, WEEKDAYS, CronSpec, DaySpec, Item, ListField, reference_next

from busbar.schedules import CronSchedule, RateSchedule, iter_ticks, parse_schedule

HORIZON_DAYS = 4 * 366
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def items(draw: st.DrawFn, low: int, high: int, *, wraps: bool = True, steps: bool = True, names: bool = False) -> Item:
    kind = draw(st.sampled_from(["value", "value", "range", "all"]))
    step = draw(st.none() | st.integers(1, high - low)) if steps else None
    named = names and draw(st.booleans())
    if kind == "all":
        return Item("all", step=step)
    a = draw(st.integers(low, high))
    if kind == "value":
        return Item("value", a, step=step, names=named)
    b = draw(st.integers(low, high) if wraps else st.integers(a, high))
    return Item("range", a, b, step=step, names=named)


@st.composite
def list_fields(
    draw: st.DrawFn,
    low: int,
    high: int,
    labels: tuple[str, ...] = (),
    *,
    wraps: bool = True,
    steps: bool = True,
    max_items: int = 3,
) -> ListField:
    first = draw(items(low, high, wraps=wraps, steps=steps, names=bool(labels)))
    if first.kind == "all":
        return ListField((first,), low, high, labels)  # '*' stands alone
    more = draw(
        st.lists(
            items(low, high, wraps=wraps, steps=steps, names=bool(labels)).filter(lambda i: i.kind != "all"),
            max_size=max_items - 1,
        )
    )
    return ListField((first, *more), low, high, labels)


@st.composite
def day_specs(draw: st.DrawFn) -> DaySpec:
    if draw(st.booleans()):
        form = draw(st.sampled_from(["list", "list", "L", "LW", "W"]))
        if form == "list":
            return DaySpec("dom", "list", draw(list_fields(1, 31)))
        # Month edges are where nearest-weekday rules differ: draw them often.
        n = draw(st.sampled_from([1, 2, 28, 29, 30, 31]) | st.integers(1, 31)) if form == "W" else 0
        return DaySpec("dom", form, n=n)
    form = draw(st.sampled_from(["list", "list", "L", "nL", "#"]))
    if form == "list":
        return DaySpec("dow", "list", draw(list_fields(1, 7, tuple(WEEKDAYS), steps=False)))
    names = draw(st.booleans())
    if form == "nL":
        return DaySpec("dow", "nL", n=draw(st.integers(1, 7)), names=names)
    if form == "#":
        return DaySpec("dow", "#", n=draw(st.integers(1, 7)), k=draw(st.integers(1, 5)), names=names)
    return DaySpec("dow", "L")


@st.composite
def cron_specs(draw: st.DrawFn) -> CronSpec:
    years = draw(
        st.just(ListField((Item("all"),), 1970, 2199)) | list_fields(2022, 2032, wraps=False).map(_years_field)
    )
    return CronSpec(
        draw(list_fields(0, 59)),
        draw(list_fields(0, 23)),
        draw(day_specs()),
        draw(list_fields(1, 12, tuple(MONTHS))),
        years,
    )


def _years_field(field: ListField) -> ListField:
    # Years are drawn near the start times (2022-2032) but the field's range is still 1970-2199.
    return ListField(field.items, 1970, 2199)


@st.composite
def start_times(draw: st.DrawFn) -> dt.datetime:
    """Times in 2023-2030, often at the end of a month, a leap day or a year's last minute."""
    day = draw(st.dates(dt.date(2023, 1, 1), dt.date(2030, 12, 31)))
    where = draw(st.sampled_from(["any", "month-end", "leap-day", "year-end"]))
    if where == "month-end":
        day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    elif where == "leap-day":
        day = dt.date(draw(st.sampled_from([2024, 2028])), 2, 29)
    elif where == "year-end":
        day = dt.date(day.year, 12, 31)
    seconds = draw(st.integers(0, 24 * 3600 - 1) | st.integers(23 * 3600 + 58 * 60, 24 * 3600 - 1))
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


@SETTINGS
@given(cron_specs(), start_times())
def test_next_tick_is_the_first_matching_minute_after_the_start(spec: CronSpec, start: dt.datetime) -> None:
    schedule = parse_schedule(spec.text())
    assert isinstance(schedule, CronSchedule)
    expected = reference_next(spec, start, HORIZON_DAYS)
    tick = schedule.next_after(start)
    if expected is not None:
        assert tick == expected, spec.text()
    else:
        # Nothing within the horizon: the library's tick, if any, lies beyond it and matches.
        assert tick is None or (tick > start + dt.timedelta(days=HORIZON_DAYS - 1) and spec.matches(tick))


@SETTINGS
@given(cron_specs(), start_times())
def test_ticks_increase_strictly_and_match_the_fields(spec: CronSpec, start: dt.datetime) -> None:
    schedule = parse_schedule(spec.text())
    previous = start
    for tick in itertools.islice(iter_ticks(schedule, start), 6):
        assert tick > previous
        assert tick.tzinfo is dt.UTC and tick.second == 0 and tick.microsecond == 0
        assert spec.matches(tick), (spec.text(), tick)
        # Asking from just before a tick gives that tick; from the tick itself, a later one.
        assert schedule.next_after(tick - dt.timedelta(seconds=1)) == tick
        previous = tick


@SETTINGS
@given(cron_specs(), start_times())
def test_epoch_seconds_and_datetimes_give_the_same_tick(spec: CronSpec, start: dt.datetime) -> None:
    schedule = parse_schedule(spec.text())
    assert schedule.next_after(start.timestamp()) == schedule.next_after(start)
    assert schedule.next_after(start.timestamp() + 0.5) == schedule.next_after(start)


@SETTINGS
@given(
    st.sampled_from(["minute", "hour", "day"]),
    st.integers(1, 2000),
    st.integers(0, 4_000_000_000),
    st.integers(-(10**8), 10**9),
)
def test_rate_ticks_are_whole_intervals_after_the_anchor(unit: str, value: int, anchor: int, offset: int) -> None:
    text = f"rate({value} {unit}{'' if value == 1 else 's'})"
    schedule = parse_schedule(text)
    assert isinstance(schedule, RateSchedule)
    now = anchor + offset
    tick = schedule.next_after(now, anchor)
    assert tick is not None
    seconds = int(tick.timestamp())
    intervals, rest = divmod(seconds - anchor, schedule.interval)
    assert rest == 0 and intervals >= 1
    assert seconds > now
    # It is the first such time: one interval earlier is the anchor itself or not after now.
    assert intervals == 1 or seconds - schedule.interval <= now
