"""The times schedules fire, checked against the calendar by hand."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from busbar.schedules import iter_ticks, parse_schedule


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


def ticks(expression: str, after: dt.datetime, count: int = 4) -> list[dt.datetime]:
    return list(itertools.islice(iter_ticks(parse_schedule(expression), after), count))


def days(expression: str, after: dt.datetime, count: int = 4) -> list[str]:
    return [t.date().isoformat() for t in ticks(expression, after, count)]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # nW: the nearest Monday-to-Friday day, never in another month.
        ("cron(0 0 1W * ? 2024)", at(2024, 5, 31), ["2024-06-03", "2024-07-01", "2024-08-01", "2024-09-02"]),
        ("cron(0 0 15W 6 ? 2024)", at(2024, 1, 1), ["2024-06-14"]),  # Saturday the 15th: Friday
        ("cron(0 0 31W * ? 2024)", at(2024, 3, 1), ["2024-03-29", "2024-05-31", "2024-07-31", "2024-08-30"]),
        ("cron(0 0 30W 11 ? 2024)", at(2024, 1, 1), ["2024-11-29"]),  # Saturday the 30th, last day
        # LW: the last Monday-to-Friday day; L: the last day, leap years included.
        ("cron(0 0 LW * ? 2024)", at(2024, 2, 1), ["2024-02-29", "2024-03-29", "2024-04-30", "2024-05-31"]),
        ("cron(0 0 LW 8 ? 2024)", at(2024, 1, 1), ["2024-08-30"]),  # Saturday the 31st
        ("cron(0 0 L 2 ? *)", at(2023, 1, 1), ["2023-02-28", "2024-02-29", "2025-02-28", "2026-02-28"]),
        ("cron(0 0 L 2 ? 2099-2101)", at(2000, 1, 1), ["2099-02-28", "2100-02-28", "2101-02-28"]),
        ("cron(0 0 29 2 ? *)", at(2097, 1, 1), ["2104-02-29", "2108-02-29", "2112-02-29", "2116-02-29"]),
        ("cron(0 0 31 * ? 2024)", at(2024, 1, 31, 0, 0), ["2024-03-31", "2024-05-31", "2024-07-31", "2024-08-31"]),
        # Day-of-week: 1 = SUN; L alone = SAT; nL = last weekday n; n#k = k-th weekday n.
        ("cron(0 0 ? * 1 *)", at(2024, 1, 1), ["2024-01-07", "2024-01-14", "2024-01-21", "2024-01-28"]),
        ("cron(0 0 ? * L *)", at(2024, 1, 1), ["2024-01-06", "2024-01-13", "2024-01-20", "2024-01-27"]),
        ("cron(0 0 ? * 6L 2002-2005)", at(2001, 12, 31), ["2002-01-25", "2002-02-22", "2002-03-29", "2002-04-26"]),
        ("cron(0 0 ? * FRIL *)", at(2024, 2, 1), ["2024-02-23", "2024-03-29", "2024-04-26", "2024-05-31"]),
        ("cron(0 0 ? * 2#5 *)", at(2024, 1, 1), ["2024-01-29", "2024-04-29", "2024-07-29", "2024-09-30"]),
        ("cron(0 0 ? * SAT#3 *)", at(2024, 1, 1), ["2024-01-20", "2024-02-17", "2024-03-16", "2024-04-20"]),
        ("cron(0 0 ? * 3#2 *)", at(2024, 1, 1), ["2024-01-09", "2024-02-13", "2024-03-12", "2024-04-09"]),
        # Ranges that wrap.
        ("cron(0 0 ? * FRI-MON *)", at(2024, 1, 1), ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]),
        ("cron(0 0 30-2 * ? *)", at(2024, 1, 1), ["2024-01-02", "2024-01-30", "2024-01-31", "2024-02-01"]),
        ("cron(0 0 1 NOV-FEB ? *)", at(2024, 3, 1), ["2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01"]),
    ],
)
def test_days(expression: str, after: dt.datetime, expected: list[str]) -> None:
    assert days(expression, after, len(expected)) == expected


def test_hours_that_wrap() -> None:
    # The documentation's example: every 30 minutes from 20:00 to 02:30 on Monday to Friday. The
    # hours are a set, not a span across midnight: Saturday's early hours are not Friday's night.
    assert [t.strftime("%a %H:%M") for t in ticks("cron(0/30 20-2 ? * MON-FRI *)", at(2024, 1, 5, 23, 10), 8)] == [
        "Fri 23:30",
        "Mon 00:00",
        "Mon 00:30",
        "Mon 01:00",
        "Mon 01:30",
        "Mon 02:00",
        "Mon 02:30",
        "Mon 20:00",
    ]


def test_increments_start_where_they_say() -> None:
    assert [t.minute for t in ticks("cron(1/10 * * * ? *)", at(2024, 1, 1), 6)] == [1, 11, 21, 31, 41, 51]
    assert [t.hour for t in ticks("cron(0 22-3/2 * * ? *)", at(2023, 12, 31, 23, 59), 4)] == [0, 2, 22, 0]
    assert [t.minute for t in ticks("cron(*/20 0 * * ? *)", at(2024, 1, 1), 3)] == [20, 40, 0]


def test_a_tick_is_strictly_after_the_time_asked_about() -> None:
    schedule = parse_schedule("cron(0 12 * * ? *)")
    assert schedule.next_after(at(2024, 1, 1, 12, 0)) == at(2024, 1, 2, 12, 0)
    assert schedule.next_after(at(2024, 1, 1, 11, 59, 59)) == at(2024, 1, 1, 12, 0)
    assert schedule.next_after(at(2024, 1, 1, 11, 59, 59) + dt.timedelta(microseconds=999_999)) == at(2024, 1, 1, 12)
    assert schedule.next_after(at(2024, 1, 1, 12, 0).timestamp()) == at(2024, 1, 2, 12, 0)
    assert schedule.next_after(at(2024, 1, 1, 12).astimezone(dt.timezone(dt.timedelta(hours=5)))) == at(2024, 1, 2, 12)


def test_a_cron_whose_years_are_over_has_no_tick() -> None:
    past = parse_schedule("cron(15 10 ? * 6L 2002-2005)")  # AWS accepts it (recorded)
    assert past.next_after(at(2024, 1, 1)) is None
    assert past.next_after(at(2005, 12, 30, 10, 15)) is None
    assert past.next_after(at(2005, 12, 30, 10, 14)) == at(2005, 12, 30, 10, 15)
    last = parse_schedule("cron(59 23 31 12 ? *)")
    assert last.next_after(at(2199, 12, 31, 23, 58)) == at(2199, 12, 31, 23, 59)
    assert last.next_after(at(2199, 12, 31, 23, 59)) is None
    assert last.next_after(at(2500, 1, 1)) is None
    never = parse_schedule("cron(0 0 30 2 ? *)")  # 30 February
    assert never.next_after(at(1970, 1, 1)) is None
    assert list(iter_ticks(never, at(1970, 1, 1))) == []


def test_before_1970_the_first_tick_is_in_1970() -> None:
    schedule = parse_schedule("cron(0 0 1 1 ? *)")
    assert schedule.next_after(at(1960, 5, 5)) == at(1970, 1, 1)
    assert schedule.next_after(-1) == at(1970, 1, 1)
    assert schedule.next_after(0) == at(1971, 1, 1)


def test_rate_ticks_count_from_the_anchor() -> None:
    schedule = parse_schedule("rate(5 minutes)")
    anchor = at(2024, 1, 1, 10, 0, 30)
    assert schedule.next_after(anchor, anchor) == at(2024, 1, 1, 10, 5, 30)
    assert schedule.next_after(at(2023, 1, 1), anchor) == at(2024, 1, 1, 10, 5, 30)  # never the anchor itself
    assert schedule.next_after(at(2024, 1, 1, 10, 5, 30), anchor) == at(2024, 1, 1, 10, 10, 30)
    assert schedule.next_after(at(2024, 1, 1, 10, 5, 29), anchor) == at(2024, 1, 1, 10, 5, 30)
    assert schedule.next_after(anchor.timestamp() + 0.25, anchor.timestamp() + 0.75) == at(2024, 1, 1, 10, 5, 30)
    assert [t.isoformat() for t in itertools.islice(iter_ticks(parse_schedule("rate(1 day)"), anchor, anchor), 2)] == [
        "2024-01-02T10:00:30+00:00",
        "2024-01-03T10:00:30+00:00",
    ]
    assert parse_schedule("rate(2 hours)").next_after(anchor, anchor) == at(2024, 1, 1, 12, 0, 30)


def test_rate_needs_an_anchor_and_ends_with_the_calendar() -> None:
    with pytest.raises(ValueError, match="anchor"):
        parse_schedule("rate(5 minutes)").next_after(at(2024, 1, 1))
    assert parse_schedule("rate(2147483647 days)").next_after(0, 0) is None  # past the year 9999


@pytest.mark.parametrize("expression", ["rate(5 minutes)", "cron(0 12 * * ? *)"])
def test_naive_datetimes_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_schedule(expression).next_after(dt.datetime(2024, 1, 1), at(2024, 1, 1))
    with pytest.raises(TypeError):
        parse_schedule(expression).next_after("2024-01-01", at(2024, 1, 1))  # type: ignore[arg-type]
