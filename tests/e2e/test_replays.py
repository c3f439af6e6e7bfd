"""Replays through real boto3: AWS's shapes, states and texts
(conformance/archive-replay-aws.snapshot.json), FilterArns, cancelling, the progress
command, and a replay that survives kill -9."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from delivery_support import log_group_arn, put, read_log_group, stored_events
from support import ACCOUNT, REGION, BusbarProcess, error_of, unique

SNAPSHOT = json.loads((CONFORMANCE / "archive-replay-aws.snapshot.json").read_text())
TEST = "tests/aws/services/events/test_archive_and_replay.py::TestReplay::"
PATTERN = {"source": ["shop.orders"]}


def recorded(test: str, name: str) -> Any:
    return SNAPSHOT[TEST + test]["recorded-content"][name]


def shape(answer: dict[str, Any]) -> set[str]:
    return set(answer) - {"ResponseMetadata"}


def wait_for_state(events: Any, name: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = events.describe_replay(ReplayName=name)
        if described["State"] in states:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"replay {name} is {described['State']}, expected one of {states}")
        time.sleep(0.05)


def archived_bus(events: Any, count: int, rules: int = 1) -> tuple[str, str, str, list[str], list[str]]:
    """A bus with *rules* rules (each to its own log group), an archive of it, and *count*
    events put and archived; answer (bus, bus ARN, archive ARN, rule ARNs, log groups)."""
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    rule_arns, groups = [], []
    for _ in range(rules):
        name, group = unique("rule"), unique("/replays/")
        rule_arns.append(events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(PATTERN))["RuleArn"])
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "log", "Arn": log_group_arn(group)}])
        groups.append(group)
    archive = unique("archive")
    archive_arn = events.create_archive(ArchiveName=archive, EventSourceArn=bus_arn)["ArchiveArn"]
    for start in range(0, count, 10):
        entries = [
            {"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": n}), "EventBusName": bus}
            for n in range(start, min(count, start + 10))
        ]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    deadline = time.monotonic() + 30
    while events.describe_archive(ArchiveName=archive)["EventCount"] < count:
        assert time.monotonic() < deadline, "events were not archived"
        time.sleep(0.05)
    return bus, bus_arn, archive_arn, rule_arns, groups


def replay(events: Any, name: str, archive_arn: str, bus_arn: str, start: Any, end: Any) -> dict[str, Any]:
    """StartReplay of *archive_arn*'s events from *start* to *end* back onto *bus_arn*."""
    return events.start_replay(  # type: ignore[no-any-return]
        ReplayName=name,
        EventSourceArn=archive_arn,
        EventStartTime=start,
        EventEndTime=end,
        Destination={"Arn": bus_arn},
    )


def window() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=5)


def test_a_replay_puts_the_archived_events_back_for_its_filter_rules_only(server, events):
    bus, bus_arn, archive_arn, rules, groups = archived_bus(events, 3, rules=2)
    originals = read_log_group(server, groups[0], 3)
    start, end = window()
    name = unique("replay")
    case = "test_start_list_describe_canceled_replay[custom]"
    started = events.start_replay(
        ReplayName=name,
        Description="description of the replay",
        EventSourceArn=archive_arn,
        EventStartTime=start,
        EventEndTime=end,
        Destination={"Arn": bus_arn, "FilterArns": [rules[0]]},
    )
    assert shape(started) == shape(recorded(case, "start-replay"))
    assert started["State"] == "STARTING"
    assert started["ReplayArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:replay/{name}"
    described = wait_for_state(events, name, "COMPLETED")
    assert shape(described) == shape(recorded(case, "describe-replay"))
    assert described["Destination"] == {"Arn": bus_arn, "FilterArns": [rules[0]]}
    assert (described["EventStartTime"], described["EventEndTime"]) == (start, end)
    assert described["ReplayStartTime"] <= described["ReplayEndTime"]
    assert start <= described["EventLastReplayedTime"] <= end
    [listed] = events.list_replays(NamePrefix=name)["Replays"]
    assert set(listed) == set(recorded(case, "list-replays")["Replays"][0])
    # The filter rule's target gets each event again, with its id and "replay-name" where AWS puts it.
    delivered = read_log_group(server, groups[0], 6)
    replayed = delivered[3:]
    assert sorted(e["id"] for e in replayed) == sorted(e["id"] for e in originals)
    assert all(e["replay-name"] == name for e in replayed)
    assert list(replayed[0]) == list(recorded(case, "replay-messages")[0]["Body"])
    assert [{k: v for k, v in e.items() if k != "replay-name"} for e in replayed] == sorted(
        originals, key=lambda e: [o["id"] for o in replayed].index(e["id"])
    )
    # The other rule does not, and replayed events are not archived again.
    time.sleep(0.3)
    assert len(read_log_group(server, groups[1], 3)) == 3
    archive = archive_arn.rsplit("/", 1)[1]
    assert events.describe_archive(ArchiveName=archive)["EventCount"] == 3
    # Without FilterArns every rule of the bus gets them.
    again = unique("replay")
    replay(events, again, archive_arn, bus_arn, start, end)
    wait_for_state(events, again, "COMPLETED")
    assert len(read_log_group(server, groups[1], 6)) == 6
    assert len(read_log_group(server, groups[0], 9)) == 9


def test_only_events_of_the_time_range_are_replayed(server, events):
    bus, bus_arn, archive_arn, _, groups = archived_bus(events, 2)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    put(events, {"n": "later"}, bus=bus, Time=later)
    archive = archive_arn.rsplit("/", 1)[1]
    deadline = time.monotonic() + 10
    while events.describe_archive(ArchiveName=archive)["EventCount"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    name = unique("replay")
    replay(events, name, archive_arn, bus_arn, later - dt.timedelta(seconds=1), later + dt.timedelta(seconds=1))
    wait_for_state(events, name, "COMPLETED")
    delivered = read_log_group(server, groups[0], 4)
    assert [e["detail"]["n"] for e in delivered if "replay-name" in e] == ["later"]


def test_errors_in_aws_words(events):
    _, bus_arn, archive_arn, _, _ = archived_bus(events, 0)
    start, end = window()
    name = unique("replay")
    missing_bus = unique("doesnotexist")
    missing_bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{missing_bus}"
    want = recorded("test_start_replay_error_unknown_event_bus", "start-replay-unknown-event-bus-error")["Error"]
    with pytest.raises(ClientError) as raised:
        replay(events, name, archive_arn, missing_bus_arn, start, end)
    assert error_of(raised) == (want["Code"], want["Message"].replace("<event-bus-name>", missing_bus))
    other = events.create_event_bus(Name=missing_bus)["EventBusArn"]
    want = recorded("test_start_replay_error_unknown_event_bus", "start-replay-wrong-event-bus-error")["Error"]
    with pytest.raises(ClientError) as raised:
        replay(events, name, archive_arn, other, start, end)
    assert error_of(raised) == (want["Code"], want["Message"])
    missing_archive = unique("doesnotexist")
    want = recorded("test_start_replay_error_unknown_archive", "start-replay-unknown-archive-error")["Error"]
    with pytest.raises(ClientError) as raised:
        replay(events, name, f"arn:aws:events:{REGION}:{ACCOUNT}:archive/{missing_archive}", bus_arn, start, end)
    assert error_of(raised) == (want["Code"], want["Message"].replace("<archive-name>", missing_archive))
    want = recorded("test_start_replay_error_invalid_end_time[0]", "start-replay-invalid-end-time-error")["Error"]
    for too_early in (start, start - dt.timedelta(seconds=10)):
        with pytest.raises(ClientError) as raised:
            replay(events, name, archive_arn, bus_arn, start, too_early)
        assert error_of(raised) == (want["Code"], want["Message"])
    replay(events, name, archive_arn, bus_arn, start, end)
    want = recorded("test_start_replay_error_duplicate_name_same_archive", "start-replay-duplicate-error")["Error"]
    with pytest.raises(ClientError) as raised:
        replay(events, name, archive_arn, bus_arn, start, end)
    assert error_of(raised) == (want["Code"], want["Message"].replace("<replay-name>", name))
    missing_replay = unique("doesnotexist")
    want = recorded("test_describe_replay_error_unknown_replay", "describe-replay-unknown-replay-error")["Error"]
    with pytest.raises(ClientError) as raised:
        events.describe_replay(ReplayName=missing_replay)
    assert error_of(raised) == (want["Code"], want["Message"].replace("<replay-name>", missing_replay))
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.cancel_replay(ReplayName=missing_replay)
    wait_for_state(events, name, "COMPLETED")
    with pytest.raises(events.exceptions.IllegalStatusException) as raised:
        events.cancel_replay(ReplayName=name)
    assert error_of(raised)[1] == f"Replay {name} is not in a valid state for this operation."


def test_list_replays_by_prefix_source_state_and_pages(events):
    _, bus_arn, archive_arn, _, _ = archived_bus(events, 0)
    start, end = window()
    prefix = unique("listed")
    names = [f"{prefix}-test-replay-{n}" for n in range(6)]
    for name in names:
        replay(events, name, archive_arn, bus_arn, start, end)
        wait_for_state(events, name, "COMPLETED")
    first = events.list_replays(Limit=3, NamePrefix=prefix)
    want = recorded("test_list_replay_with_limit", "list-replays-with-limit")
    assert shape(first) == shape(want)
    assert [set(r) for r in first["Replays"]] == [set(r) for r in want["Replays"]]
    rest = events.list_replays(Limit=5, NextToken=first["NextToken"], NamePrefix=prefix)
    assert [r["ReplayName"] for r in first["Replays"] + rest["Replays"]] == names
    assert "NextToken" not in rest
    assert [r["ReplayName"] for r in events.list_replays(EventSourceArn=archive_arn)["Replays"]] == names
    completed = {r["ReplayName"] for r in events.list_replays(State="COMPLETED", Limit=100)["Replays"]}
    assert set(names[:1]) <= completed
    with pytest.raises(ClientError) as raised:
        events.list_replays(NamePrefix=prefix, State="COMPLETED")
    assert error_of(raised)[0] == "ValidationException"


def test_at_most_ten_replays_run_at_once(tmp_path: Path):
    server = BusbarProcess(tmp_path / "data", args=["--replay-events-per-second", "1"]).start()
    try:
        events = server.client()
        _, bus_arn, archive_arn, _, _ = archived_bus(events, 150)
        start, end = window()
        for n in range(10):
            replay(events, f"r{n}", archive_arn, bus_arn, start, end)
        want = recorded("tests_concurrency_error_too_many_active_replays", "list-replays-with-limit")["Error"]
        with pytest.raises(ClientError) as raised:
            replay(events, "r10", archive_arn, bus_arn, start, end)
        assert error_of(raised) == (want["Code"], want["Message"])
        # Cancelling one: CANCELLING (AWS's answer), then CANCELLED, and room for another.
        cancelled = events.cancel_replay(ReplayName="r0")
        assert shape(cancelled) == shape(recorded("test_start_list_describe_canceled_replay[custom]", "cancel-replay"))
        assert cancelled["State"] == "CANCELLING"
        described = wait_for_state(events, "r0", "CANCELLED")
        assert "ReplayEndTime" in described
        replay(events, "r10", archive_arn, bus_arn, start, end)
        progress = subprocess.run(
            [sys.executable, "-m", "busbar", "replays", "--endpoint-url", server.endpoint_url, "r0", "r1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert progress[0].startswith("r0") and "CANCELLED" in progress[0]
        assert progress[1].startswith("r1") and "RUNNING" in progress[1] and "/150 events" in progress[1]
    finally:
        server.stop()


def replayed_in_log(server: BusbarProcess) -> list[tuple[str, str]]:
    """(replay-name, event id) of every replayed event stored in the log."""
    return [(e["replay-name"], e["id"]) for e in stored_events(server) if "replay-name" in e]


def test_kill_9_during_a_replay_resumes_where_it_was(tmp_path: Path):
    """A replay interrupted by kill -9 resumes at its cursor after the restart: every event
    of its range is delivered, and each is stored in the log once."""
    args = ["--replay-events-per-second", "50"]  # 350 events take 7 s: a loaded machine still catches it running
    server = BusbarProcess(tmp_path / "data", args=args).start()
    count = 350
    try:
        events = server.client()
        _, bus_arn, archive_arn, _, groups = archived_bus(events, count)
        originals = {e["id"] for e in read_log_group(server, groups[0], count)}
        start, end = window()
        replay(events, "resumed", archive_arn, bus_arn, start, end)
        deadline = time.monotonic() + 30
        while not replayed_in_log(server):
            assert time.monotonic() < deadline, "the replay did not start"
            time.sleep(0.02)
        assert events.describe_replay(ReplayName="resumed")["State"] == "RUNNING"
        server.kill()
        before = len(replayed_in_log(server))
        assert 0 < before < count
        server.start()
        events = server.client()
        described = wait_for_state(events, "resumed", "COMPLETED", timeout=60)
        assert "ReplayEndTime" in described
        stored = replayed_in_log(server)
        assert len(stored) == count and {i for _, i in stored} == originals  # each once in the log
        delivered = read_log_group(server, groups[0], 2 * count, timeout=30)
        assert {e["id"] for e in delivered if e.get("replay-name") == "resumed"} == originals  # at least once
        progress = subprocess.run(
            [sys.executable, "-m", "busbar", "replays", "--endpoint-url", server.endpoint_url, "--watch"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"[{'#' * 30}] 100% {count}/{count} events" in progress
    finally:
        if server.alive():
            server.stop()
