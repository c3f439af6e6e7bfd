"""Bus policies through real boto3: PutPermission, RemovePermission and DescribeEventBus's
Policy, replaying the sequences recorded against AWS
(conformance/permissions-aws.snapshot.json)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from support import ACCOUNT, error_of, unique

SNAPSHOT: dict[str, Any] = json.loads((CONFORMANCE / "permissions-aws.snapshot.json").read_text())
PREFIX = "tests/aws/services/events/test_events.py::TestEventBus::"
SECONDARY = "222222222222"


def recorded(test: str) -> dict[str, Any]:
    return SNAPSHOT[PREFIX + test]["recorded-content"]  # type: ignore[no-any-return]


def as_recorded(answer: dict[str, Any], bus: str, sids: dict[str, str] | None = None) -> dict[str, Any]:
    """DescribeEventBus's answer written as the recording tool wrote AWS's: the policy
    parsed, statements sorted by Sid, each Sid numbered in the order the test first saw it
    (*sids* carries the numbering from one answer to the next), names and accounts as
    placeholders."""
    sids = {} if sids is None else sids
    answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    answer["CreationTime"] = answer["LastModifiedTime"] = "datetime"
    if "Policy" in answer:
        policy = json.loads(answer["Policy"])
        policy["Statement"].sort(key=lambda s: s["Sid"])
        for statement in policy["Statement"]:
            statement["Sid"] = sids.setdefault(statement["Sid"], f"<sid:{len(sids) + 1}>")
        answer["Policy"] = policy
    text = json.dumps(answer)
    for value, placeholder in (
        (f"event-bus/{bus}", "event-bus/<bus-name>"),
        ("arn:aws:", "arn:<partition>:"),
        (":us-east-1:", ":<region>:"),
        (SECONDARY, "<secondary-account-id>"),
        (ACCOUNT, "<account-id>"),
    ):
        text = text.replace(value, placeholder)
    answer = json.loads(text)
    answer["Name"] = answer["Name"].replace(bus, "<bus-name>")
    return answer


def expected(test: str, key: str) -> dict[str, Any]:
    want = dict(recorded(test)[key])
    want.pop("ResponseMetadata")
    return want


def bus_without_policy(events: Any, bus_type: str) -> str:
    """A new custom bus, or the default bus with its policy removed (tests share it)."""
    if bus_type == "custom":
        bus = unique("bus")
        events.create_event_bus(Name=bus)
        return bus
    try:
        events.remove_permission(EventBusName="default", RemoveAllPermissions=True)
    except ClientError:
        pass  # it had none
    return "default"


@pytest.mark.parametrize("bus_type", ["custom", "default"])
def test_put_permission_as_recorded(events, bus_type):
    bus = bus_without_policy(events, bus_type)
    test = f"test_put_permission[{bus_type}]"
    sids: dict[str, str] = {}
    for n, principal in ((1, ACCOUNT), (2, ACCOUNT), (3, SECONDARY)):
        answer = events.put_permission(
            EventBusName=bus, Action="events:PutEvents", Principal=principal, StatementId=f"statement-{n}-x"
        )
        assert set(answer) == {"ResponseMetadata"}
    assert as_recorded(events.describe_event_bus(Name=bus), bus, sids) == expected(
        test, "describe-event-bus-put-permission-multiple-principals"
    )
    for _ in range(2):  # the same StatementId again replaces it
        events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal="*", StatementId="statement-4-x")
    described = as_recorded(events.describe_event_bus(Name=bus), bus, sids)
    assert described == expected(test, "describe-event-bus-put-permission")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "statement-5-x",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "events:ListRules",
                "Resource": "*",
            }
        ],
    }
    events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
    assert as_recorded(events.describe_event_bus(Name=bus), bus, sids) == expected(
        test, "describe-event-bus-put-permission-policy"
    )
    listed = [b for b in events.list_event_buses(NamePrefix=bus)["EventBuses"] if b["Name"] == bus]
    assert json.loads(listed[0]["Policy"]) == policy
    events.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus(Name=bus)


@pytest.mark.parametrize("bus_type", ["custom", "default"])
def test_remove_permission_as_recorded(events, bus_type):
    bus = bus_without_policy(events, bus_type)
    test = f"test_remove_permission[{bus_type}]"
    events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal=ACCOUNT, StatementId="primary")
    events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal=SECONDARY, StatementId="secondary")
    events.remove_permission(EventBusName=bus, StatementId="primary")
    assert as_recorded(events.describe_event_bus(Name=bus), bus) == expected(
        test, "describe-event-bus-remove-permission"
    )
    events.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    assert as_recorded(events.describe_event_bus(Name=bus), bus) == expected(
        test, "describe-event-bus-remove-permission-all"
    )


def test_permission_errors(events):
    missing = unique("non-existing-bus")
    want = recorded("test_put_permission_non_existing_event_bus")["remove-permission-non-existing-sid-error"]["Error"]
    with pytest.raises(ClientError) as raised:
        events.put_permission(
            EventBusName=missing, Action="events:PutEvents", Principal="*", StatementId="statement-id"
        )
    assert error_of(raised) == (want["Code"], want["Message"].replace("<bus-name>", missing))
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    want = recorded("test_remove_permission_non_existing_sid[False-custom]")["remove-permission-non-existing-sid-error"]
    with pytest.raises(ClientError) as raised:
        events.remove_permission(EventBusName=bus, StatementId="nope")
    assert error_of(raised) == (want["Error"]["Code"], want["Error"]["Message"])
    with pytest.raises(ClientError) as raised:
        events.put_permission(EventBusName=bus, Action="events:ListRules", Principal="*", StatementId="s")
    assert error_of(raised) == ("ValidationException", "Provided value in parameter 'action' is not supported.")
    with pytest.raises(ClientError) as raised:
        events.put_permission(EventBusName=bus, Policy="not json")
    assert error_of(raised) == ("ValidationException", "This policy contains invalid Json")
    statements = [
        {"Sid": f"s{n:04d}", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": "*"}
        for n in range(200)
    ]
    with pytest.raises(events.exceptions.PolicyLengthExceededException) as raised:
        events.put_permission(EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    assert error_of(raised)[0] == "PolicyLengthExceededException"
    assert "Policy" not in events.describe_event_bus(Name=bus)
