"""Archives through real boto3: AWS's shapes and texts (conformance/archive-replay-aws.snapshot.json),
the managed rule AWS makes for each archive, and what gets archived."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from delivery_support import put
from support import ACCOUNT, REGION, error_of, unique

SNAPSHOT = json.loads((CONFORMANCE / "archive-replay-aws.snapshot.json").read_text())
TEST = "tests/aws/services/events/test_archive_and_replay.py::"
PATTERN = json.dumps({"source": ["shop.orders"]})


def recorded(test: str, name: str) -> Any:
    return SNAPSHOT[TEST + test]["recorded-content"][name]


def shape(answer: dict[str, Any]) -> set[str]:
    return set(answer) - {"ResponseMetadata"}


def wait_for_count(events: Any, name: str, count: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = events.describe_archive(ArchiveName=name)
        if described["EventCount"] >= count or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


@pytest.mark.parametrize("bus_type", ["default", "custom"])
def test_create_list_describe_update_delete_as_aws_answers(events, bus_type):
    case = f"TestArchive::test_create_list_describe_update_delete_archive[{bus_type}]"
    if bus_type == "default":
        bus_name, bus_arn = "default", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    else:
        bus_name = unique("bus")
        bus_arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
    name = unique("archive")
    created = events.create_archive(
        ArchiveName=name,
        EventSourceArn=bus_arn,
        Description="description of the archive",
        EventPattern=PATTERN,
        RetentionDays=1,
    )
    assert shape(created) == shape(recorded(case, "create-archive"))
    assert created["ArchiveArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:archive/{name}"
    assert created["State"] == "ENABLED"

    listed = events.list_archives(NamePrefix=name)["Archives"]
    [expected] = recorded(case, "list-archives")["Archives"]
    assert [set(item) for item in listed] == [set(expected)]
    assert listed[0]["EventSourceArn"] == bus_arn
    assert (listed[0]["EventCount"], listed[0]["SizeBytes"], listed[0]["RetentionDays"]) == (0, 0, 1)

    described = events.describe_archive(ArchiveName=name)
    assert shape(described) == shape(recorded(case, "describe-archive"))
    assert described["EventPattern"] == PATTERN and described["Description"] == "description of the archive"
    assert described["CreationTime"] == created["CreationTime"]

    updated = events.update_archive(
        ArchiveName=name, Description="updated", EventPattern=json.dumps({"source": ["shop.refunds"]}), RetentionDays=2
    )
    assert shape(updated) == shape(recorded(case, "update-archive"))
    described = events.describe_archive(ArchiveName=name)
    assert (described["Description"], described["RetentionDays"]) == ("updated", 2)
    managed = events.describe_rule(Name=f"Events-Archive-{name}", EventBusName=bus_name)
    assert json.loads(managed["EventPattern"]) == {"source": ["shop.refunds"], "replay-name": [{"exists": False}]}

    assert shape(events.delete_archive(ArchiveName=name)) == shape(recorded(case, "delete-archive"))
    assert events.list_archives(NamePrefix=name)["Archives"] == []
    assert events.list_rules(NamePrefix=f"Events-Archive-{name}", EventBusName=bus_name)["Rules"] == []


def test_errors_in_aws_words(events):
    name = unique("archive")
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)
    cases = [
        (
            lambda: events.create_archive(ArchiveName=name, EventSourceArn=bus_arn),
            "TestArchive::test_create_archive_error_duplicate[default]",
            "create-archive-duplicate-error",
            name,
        ),
        (
            lambda: events.describe_archive(ArchiveName="nope-" + name),
            "TestArchive::test_describe_archive_error_unknown_archive",
            "describe-archive-unknown-archive-error",
            "nope-" + name,
        ),
        (
            lambda: events.delete_archive(ArchiveName="nope-" + name),
            "TestArchive::test_delete_archive_error_unknown_archive",
            "delete-archive-unknown-archive-error",
            "nope-" + name,
        ),
        (
            lambda: events.update_archive(ArchiveName="nope-" + name),
            "TestArchive::test_update_archive_error_unknown_archive",
            "update-archive-unknown-archive-error",
            "nope-" + name,
        ),
    ]
    for call, case, key, placeholder in cases:
        with pytest.raises(ClientError) as raised:
            call()
        want = recorded(case, key)["Error"]
        assert error_of(raised) == (want["Code"], want["Message"].replace("<archive-name>", placeholder))
    missing = unique("doesnotexist")
    for call, case, key in [
        (
            lambda: events.create_archive(
                ArchiveName=unique("a"), EventSourceArn=f"arn:aws:events:{REGION}:123456789012:event-bus/{missing}"
            ),
            "TestArchive::test_create_archive_error_unknown_event_bus",
            "create-archive-unknown-event-bus-error",
        ),
        (
            lambda: events.list_archives(EventSourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{missing}"),
            "TestArchive::test_list_archive_error_unknown_source_arn",
            "list-archives-unknown-event-bus-error",
        ),
    ]:
        with pytest.raises(ClientError) as raised:
            call()
        want = recorded(case, key)["Error"]
        assert error_of(raised) == (want["Code"], want["Message"].replace("<event-bus-name>", missing))
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.create_archive(ArchiveName=unique("a"), EventSourceArn=bus_arn, EventPattern='{"source": "x"}')
    with pytest.raises(ClientError) as raised:
        events.list_archives(NamePrefix="a", State="ENABLED")
    assert error_of(raised) == (
        "ValidationException",
        "At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, or NamePrefix.",
    )


def test_list_by_source_state_and_pages(events):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    names = sorted(unique("paged") for _ in range(3))
    for name in names:
        events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)
    by_source = events.list_archives(EventSourceArn=bus_arn)["Archives"]
    assert [a["ArchiveName"] for a in by_source] == names
    enabled = {a["ArchiveName"] for a in events.list_archives(State="ENABLED", Limit=100)["Archives"]}
    assert set(names) <= enabled
    first = events.list_archives(EventSourceArn=bus_arn, Limit=2)
    rest = events.list_archives(EventSourceArn=bus_arn, Limit=2, NextToken=first["NextToken"])
    assert [a["ArchiveName"] for a in first["Archives"] + rest["Archives"]] == names
    assert "NextToken" not in rest


def test_the_managed_rule_shows_as_aws_shows_it_and_refuses_changes(events):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    name = unique("archive")
    archive_arn = events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, EventPattern=PATTERN)["ArchiveArn"]
    rule = f"Events-Archive-{name}"
    [listed] = events.list_rules(EventBusName=bus)["Rules"]
    assert listed["Name"] == rule and listed["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert listed["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}"
    assert json.loads(listed["EventPattern"]) == {"source": ["shop.orders"], "replay-name": [{"exists": False}]}
    assert events.describe_rule(Name=rule, EventBusName=bus)["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"] == [{"Id": rule, "Arn": archive_arn}]
    refusals = [
        lambda: events.put_rule(Name=rule, EventBusName=bus, EventPattern=PATTERN),
        lambda: events.disable_rule(Name=rule, EventBusName=bus),
        lambda: events.enable_rule(Name=rule, EventBusName=bus),
        lambda: events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "t", "Arn": bus_arn}]),
        lambda: events.tag_resource(ResourceARN=listed["Arn"], Tags=[{"Key": "k", "Value": "v"}]),
    ]
    for refused in refusals:
        with pytest.raises(events.exceptions.ManagedRuleException) as raised:
            refused()
        assert error_of(raised)[1] == f"{rule} is a managed rule: only the service that made it may change it."
    for refused in (
        lambda: events.delete_rule(Name=rule, EventBusName=bus),
        lambda: events.remove_targets(Rule=rule, EventBusName=bus, Ids=[rule]),
    ):
        with pytest.raises(events.exceptions.ManagedRuleException) as raised:
            refused()
        assert error_of(raised)[1] == f"{rule} is a managed rule. Set 'force' parameter to true to override."
    assert events.list_tags_for_resource(ResourceARN=listed["Arn"])["Tags"] == []
    # Nobody but the archive may target an archive.
    mine = unique("rule")
    events.put_rule(Name=mine, EventBusName=bus, EventPattern=PATTERN)
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=mine, EventBusName=bus, Targets=[{"Id": "a", "Arn": archive_arn}])
    assert error_of(raised)[0] == "ValidationException"
    events.delete_rule(Name=mine, EventBusName=bus)
    # With Force, as in AWS, the rule goes (and the archive keeps nothing more).
    events.delete_rule(Name=rule, EventBusName=bus, Force=True)
    assert events.list_rules(EventBusName=bus, NamePrefix="Events-Archive-")["Rules"] == []


def test_events_are_archived_by_pattern_and_counted(events):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    everything, orders = unique("all"), unique("orders")
    events.create_archive(ArchiveName=everything, EventSourceArn=bus_arn)
    events.create_archive(ArchiveName=orders, EventSourceArn=bus_arn, EventPattern=PATTERN)
    for n in range(4):
        put(events, {"n": n}, bus=bus)
    put(events, {"n": 9}, source="shop.refunds", bus=bus)
    assert wait_for_count(events, everything, 5)["EventCount"] == 5
    described = wait_for_count(events, orders, 4)
    assert described["EventCount"] == 4
    # The bytes of the four envelopes kept (all of one size: the same fields, ids of one length).
    assert described["SizeBytes"] % 4 == 0 and 4 * 100 < described["SizeBytes"] < 4 * 400
    assert events.describe_archive(ArchiveName=everything)["SizeBytes"] > described["SizeBytes"]
    # Deleted, then made again under its name: it starts empty.
    events.delete_archive(ArchiveName=orders)
    events.create_archive(ArchiveName=orders, EventSourceArn=bus_arn)
    assert events.describe_archive(ArchiveName=orders)["EventCount"] == 0
