"""Scheduled rules through real boto3: AWS's validation, and rules that fire — one event
per tick, to that rule only, durably (a kill -9 between a tick and its delivery loses
nothing and makes no second event), with rate() counted from creation or enabling.

The firing test waits for real ticks (a rate(1 minute) rule fires a minute after it is
made): about two minutes and ten seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from delivery_support import api_destination, log_group_arn, read_log_group, stored_events
from httptarget import HttpTarget, Reply
from support import ACCOUNT, REGION, BusbarProcess, error_of, unique

RECORDED = json.loads((CONFORMANCE / "schedule-expressions-aws.snapshot.json").read_text())


def test_schedules_are_validated_as_aws_validates_them(events):
    accepted, refused = 0, 0
    for case, recorded in RECORDED.items():
        if "[" not in case or "custom_event_bus" in case:
            continue
        expression = case.split("[", 1)[1].rsplit("]", 1)[0]
        content = next(iter(recorded["recorded-content"].values()))
        name = unique("sched")
        if "Error" in content:
            with pytest.raises(ClientError) as raised:
                events.put_rule(Name=name, ScheduleExpression=expression)
            assert error_of(raised) == (content["Error"]["Code"], content["Error"]["Message"]), expression
            refused += 1
        elif expression.startswith(("cron(", "rate(")):
            events.put_rule(Name=name, ScheduleExpression=expression, State="DISABLED")
            assert events.describe_rule(Name=name)["ScheduleExpression"] == expression
            events.delete_rule(Name=name)
            accepted += 1
    assert accepted >= 10 and refused >= 5
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=unique("sched"), ScheduleExpression="rate(5 minutes)", EventBusName=bus)
    assert error_of(raised) == ("ValidationException", "ScheduleExpression is supported only on the default event bus.")
    # A pattern and a schedule together, as AWS allows; busbar's anchor is never answered.
    name = unique("both")
    events.put_rule(Name=name, ScheduleExpression="rate(1 hour)", EventPattern=json.dumps({"source": ["x"]}))
    described = events.describe_rule(Name=name)
    assert described["ScheduleExpression"] == "rate(1 hour)" and described["EventPattern"]
    assert "ScheduleAnchor" not in described
    assert all("ScheduleAnchor" not in rule for rule in events.list_rules(NamePrefix=name)["Rules"])


def _tick_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _parse(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def _stored_ticks(server: BusbarProcess) -> Counter[tuple[str, str]]:
    """How many Scheduled Events the log holds per (rule ARN, tick)."""
    found = stored_events(server)
    return Counter((e["resources"][0], e["time"]) for e in found if e["detail-type"] == "Scheduled Event")


def _log(server: BusbarProcess, group: str) -> list[Any]:
    store = server.store()
    return [json.loads(found.line) for found in store.read_log_lines(f"{ACCOUNT}/{REGION}/{group}", 0, 100_000)]


def test_scheduled_rules_fire_one_event_per_tick_across_kill_9(tmp_path: Path, target: HttpTarget):
    server = BusbarProcess(tmp_path / "data").start()
    try:
        events = server.client()
        # The first tick's first delivery is refused with Retry-After: it is pending at the kill.
        target.script("/ticks", Reply(status=429, headers={"Retry-After": "15"}))
        http = api_destination(events, target.url + "/ticks")
        groups = {name: unique("/ticks/") for name in ("shaped", "cron", "both", "disabled", "listener", "enabled")}

        before = time.time()
        every = events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
        after = time.time()
        shaping = {"InputPathsMap": {"t": "$.time"}, "InputTemplate": '{"tick": <t>, "rule": <aws.events.rule-name>}'}
        events.put_targets(
            Rule="every-minute",
            Targets=[
                {"Id": "http", "Arn": http},
                {"Id": "shaped", "Arn": log_group_arn(groups["shaped"]), "InputTransformer": shaping},
            ],
        )
        rules: dict[str, str] = {}
        for name, extra in (
            ("cron", {"ScheduleExpression": "cron(* * * * ? *)"}),
            ("both", {"ScheduleExpression": "rate(1 minute)", "EventPattern": json.dumps({"source": ["shop.never"]})}),
            ("disabled", {"ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}),
            ("enabled", {"ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}),
            ("listener", {"EventPattern": json.dumps({"source": ["aws.events"]})}),
        ):
            rules[name] = events.put_rule(Name=f"{name}-rule", **extra)["RuleArn"]
            events.put_targets(Rule=f"{name}-rule", Targets=[{"Id": "log", "Arn": log_group_arn(groups[name])}])

        # Tick 1 of every-minute, a minute after the rule was made (on its whole second).
        [first] = target.wait_for(1, "/ticks", timeout=90)
        tick = first.json()
        assert {k: v for k, v in tick.items() if k != "id"} == {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": tick["time"],
            "region": REGION,
            "resources": [every],
            "detail": {},
        }
        assert int(before) + 60 <= _parse(tick["time"]) <= int(after) + 60
        server.kill()  # the tick's delivery is pending (Retry-After), never finished
        server.start()
        events = server.client()
        enabled_before = time.time()
        events.enable_rule(Name="enabled-rule")  # its rate counts from now
        enabled_after = time.time()

        # The pending delivery is sent after the restart (same event), then tick 2 arrives.  (On
        # NATS a kill between scheduling the retry and acknowledging the attempt sends the
        # same event once more: at-least-once, docs/nats-notes.md.)
        count = 3
        while True:
            received = [r.json() for r in target.wait_for(count, "/ticks", timeout=100)]
            if received[-1]["id"] != tick["id"] or count == 4:
                break
            count += 1
        assert [r["id"] for r in received[:-1]] == [tick["id"]] * (count - 1)
        assert received[-1]["id"] != tick["id"]
        assert _parse(received[-1]["time"]) == _parse(tick["time"]) + 60  # the anchor outlived the kill

        shaped = {json.dumps(line, sort_keys=True) for line in read_log_group(server, groups["shaped"], 2)}
        assert {json.dumps({"tick": r["time"], "rule": "every-minute"}, sort_keys=True) for r in received} <= shaped
        [enabled] = read_log_group(server, groups["enabled"], 1, timeout=30)
        assert int(enabled_before) + 60 <= _parse(enabled["time"]) <= int(enabled_after) + 60
        cron = read_log_group(server, groups["cron"], 1)
        assert all(c["time"].endswith(":00Z") and c["resources"] == [rules["cron"]] for c in cron)
        both = read_log_group(server, groups["both"], 1)
        assert both[0]["resources"] == [rules["both"]]
        # A disabled rule never fires; a rule matching source aws.events never sees another rule's ticks.
        assert _log(server, groups["disabled"]) == []
        assert _log(server, groups["listener"]) == []
        # One stored event per tick, whatever was delivered twice.
        stored = _stored_ticks(server)
        assert stored[(every, tick["time"])] == 1 and stored[(every, received[-1]["time"])] == 1
        assert set(stored.values()) == {1}
        assert not any(arn == rules["disabled"] for arn, _ in stored)
    finally:
        if server.alive():
            server.stop()
