"""Which schedule expressions busbar accepts: AWS's recorded answers, then the strict choices
listed in docs/schedules-notes.md."""

from __future__ import annotations

import json
import re

import pytest

from busbar.schedules import CronSchedule, InvalidScheduleExpression, RateSchedule, parse_schedule

from data import CONFORMANCE

AWS_MESSAGE = "Parameter ScheduleExpression is not valid."


def _snapshot(name: str) -> dict[str, dict]:
    return json.loads((CONFORMANCE / name).read_text())


def _parameter(key: str) -> str:
    match = re.search(r"\[(.*)\]$", key)
    assert match, key
    return match.group(1)


RULES = _snapshot("schedule-expressions-aws.snapshot.json")
SCHEDULER = _snapshot("scheduler-expressions-aws.snapshot.json")
RATE_INVALID = json.loads((CONFORMANCE / "schedule-expressions-aws-rate-invalid.json").read_text())

AWS_ACCEPTED = sorted(
    {_parameter(k) for k in RULES if "tests_put_rule_with_schedule_cron[" in k}
    | {_parameter(k) for k in SCHEDULER if "valid_cron_expressions[" in k}
    | {"rate(1 minute)"}  # test_put_rule_with_schedule_rate
)
AWS_REFUSED_BY_PUT_RULE = {_parameter(k): v for k, v in RULES.items() if "invalid_schedule_cron[" in k}
AWS_REFUSED_BY_SCHEDULER = sorted(
    _parameter(k) for k in SCHEDULER if "invalid_schedule_expression[" in k and not _parameter(k).startswith("at(")
)


def test_the_recorded_cases_are_all_there() -> None:
    assert len(AWS_ACCEPTED) == 22  # 16 PutRule crons and 6 Scheduler crons, one in both, and rate(1 minute)
    assert len(AWS_REFUSED_BY_PUT_RULE) == 5
    assert len(RATE_INVALID["expressions"]) == 17


@pytest.mark.parametrize("expression", AWS_ACCEPTED)
def test_expressions_aws_accepted_are_accepted(expression: str) -> None:
    schedule = parse_schedule(expression)
    assert schedule.expression == expression


@pytest.mark.parametrize("expression", sorted(AWS_REFUSED_BY_PUT_RULE))
def test_crons_aws_refused_are_refused_with_its_message(expression: str) -> None:
    recorded = AWS_REFUSED_BY_PUT_RULE[expression]["recorded-content"]["invalid-put-rule"]["Error"]
    assert recorded == {"Code": "ValidationException", "Message": AWS_MESSAGE}
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule(expression)
    assert str(caught.value) == caught.value.message == recorded["Message"]


@pytest.mark.parametrize("expression", RATE_INVALID["expressions"] + AWS_REFUSED_BY_SCHEDULER)
def test_expressions_aws_refused_are_refused(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=re.escape(AWS_MESSAGE)):
        parse_schedule(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * ? *)",
        "cron(00 05 * * ? *)",  # leading zeros, as Quartz reads them
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 ? * FRIL *)",
        "cron(0 0 ? * 6L *)",
        "cron(0 0 ? * MON#1 *)",
        "cron(0 0 ? * 2#5 *)",
        "cron(0 0 ? * FRI-MON *)",  # ranges wrap, as the documentation's 20-2 does
        "cron(0/30 20-2 ? * MON-FRI *)",
        "cron(0 0 28-3 * ? *)",
        "cron(0 0 1 NOV-FEB ? *)",
        "cron(0 0 1/5 JAN/3 ? *)",
        "cron(0 22-2/2 * * ? *)",
        "cron(0 0 1 1 ? 1970)",
        "cron(0 0 1 1 ? 2199)",
        "cron(0 0 1 1 ? 2020/10)",
        "cron(0 0 1 1 ? */50)",
        "cron(0/59 0/23 1/31 1/12 ? 1970/229)",  # the largest increments Quartz takes
        "cron(5,10-20,30/7 1,2,3 * JAN,MAR-MAY ? 2024,2026-2030)",
        "rate(1 minute)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(2 minutes)",
        "rate(2147483647 minutes)",
    ],
)
def test_accepted(expression: str) -> None:
    parse_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("cron(0 10 ? * ? *)", "both day fields '?'"),
        ("cron(0 10 1 * MON *)", "both day fields set"),
        ("cron(0 10 * *)", "four fields"),
        ("cron(0 10 * * ? * *)", "seven fields"),
        ("cron(0  10 * * ? *)", "two spaces"),
        ("cron( 0 10 * * ? *)", "a space after the bracket"),
        ("cron(0 10 * * ? * )", "a space before the bracket"),
        ("cron(0\t10 * * ? *)", "a tab"),
        ("CRON(0 10 * * ? *)", "upper-case cron"),
        ("cron (0 10 * * ? *)", "a space before the bracket"),
        ("cron(0 10 * * ? *) ", "a trailing space"),
        ("cron(0 10 * jan ? *)", "a lower-case month"),
        ("cron(0 10 ? * mon *)", "a lower-case weekday"),
        ("cron(0 10 ? * MONDAY *)", "a long weekday name"),
        ("cron(60 10 * * ? *)", "minute 60"),
        ("cron(0 24 * * ? *)", "hour 24"),
        ("cron(0 0 0 * ? *)", "day 0"),
        ("cron(0 0 32 * ? *)", "day 32"),
        ("cron(0 0 1 13 ? *)", "month 13"),
        ("cron(0 0 1 0 ? *)", "month 0"),
        ("cron(0 0 ? * 0 *)", "weekday 0 (AWS counts 1-7)"),
        ("cron(0 0 ? * 8 *)", "weekday 8"),
        ("cron(0 0 1 1 ? 1969)", "year 1969"),
        ("cron(0 0 1 1 ? 2200)", "year 2200"),
        ("cron(0 0 1 1 ? 2030-2020)", "a year range that runs backwards"),
        ("cron(0 0 1 1 ? 99)", "a two-digit year"),
        ("cron(0/0 * * * ? *)", "increment 0"),
        ("cron(0/60 * * * ? *)", "increment 60"),
        ("cron(0 0/24 * * ? *)", "increment 24 in hours"),
        ("cron(0 0 1/32 * ? *)", "increment 32 in days"),
        ("cron(0 0 1 1/13 ? *)", "increment 13 in months"),
        ("cron(0 0 ? * 1/2 *)", "an increment in day-of-week (not documented)"),
        ("cron(0 0 ? * MON-FRI/2 *)", "an increment in day-of-week (not documented)"),
        ("cron(0 0 L-3 * ? *)", "L-n (Quartz, not documented)"),
        ("cron(0 0 L,15 * ? *)", "L in a list"),
        ("cron(0 0 LW,15 * ? *)", "LW in a list"),
        ("cron(0 0 1W,15W * ? *)", "W in a list"),
        ("cron(0 0 1-5W * ? *)", "W on a range"),
        ("cron(0 0 32W * ? *)", "W on day 32"),
        ("cron(0 0 0W * ? *)", "W on day 0"),
        ("cron(0 0 W * ? *)", "W alone"),
        ("cron(0 0 ? * 3#1,6#3 *)", "two # expressions (the documentation's own example)"),
        ("cron(0 0 ? * 5L,MON *)", "L in a list"),
        ("cron(0 0 ? * 2#0 *)", "#0"),
        ("cron(0 0 ? * 2#6 *)", "#6"),
        ("cron(0 0 ? * 8#1 *)", "weekday 8 with #"),
        ("cron(0 0 ? * 0L *)", "weekday 0 with L"),
        ("cron(0 0 ? * LL *)", "LL"),
        ("cron(0 L * * ? *)", "L in hours"),
        ("cron(0 0 1 L ? *)", "L in months"),
        ("cron(0 0 1 * ? L)", "L in years"),
        ("cron(0 0 ? * 2#1 L)", "L in years"),
        ("cron(? 0 1 * ? *)", "? in minutes"),
        ("cron(*,5 0 1 * ? *)", "* inside a list"),
        ("cron(1,,2 0 1 * ? *)", "an empty list item"),
        ("cron(1- 0 1 * ? *)", "a range without an end"),
        ("cron(-1 0 1 * ? *)", "a negative value"),
        ("cron(1-2-3 0 1 * ? *)", "a range of three"),
        ("cron(1/2/3 0 1 * ? *)", "two increments"),
        ("cron(1/ 0 1 * ? *)", "an empty increment"),
        ("cron(001 0 1 * ? *)", "three digits"),
        ("cron(0 0 1 * ? *)x", "text after the bracket"),
        ("rate(01 minute)", "a leading zero"),
        ("rate(+5 minutes)", "a sign"),
        ("rate(5.0 minutes)", "a fraction"),
        ("rate(5  minutes)", "two spaces"),
        ("rate(5 Minutes)", "a capital"),
        ("rate(2147483648 minutes)", "more than a Java int"),
        ("rate(99999999999 minutes)", "more than a Java int"),
        ("rate(5 minutes) ", "a trailing space"),
        ("rate(5 weeks)", "weeks"),
        ("", "nothing"),
        ("at(2030-01-01T00:00:00)", "Scheduler's one-time form"),
    ],
)
def test_refused(expression: str, why: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule(expression)
    assert caught.value.message == AWS_MESSAGE
    assert caught.value.reason  # says what was wrong, for logs


@pytest.mark.parametrize("value", [None, 5, b"rate(5 minutes)", ["rate(5 minutes)"]])
def test_a_value_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(InvalidScheduleExpression, match=re.escape(AWS_MESSAGE)):
        parse_schedule(value)


def test_parse_gives_the_kind_and_the_fields() -> None:
    rate = parse_schedule("rate(5 minutes)")
    assert rate == RateSchedule("rate(5 minutes)", 5, "minute", 300)
    cron = parse_schedule("cron(0/15 22-1 * NOV-FEB ? 2024-2025)")
    assert isinstance(cron, CronSchedule)
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (0, 1, 22, 23)
    assert cron.months == (1, 2, 11, 12)
    assert cron.years == (2024, 2025)
