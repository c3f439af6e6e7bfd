"""busbar.policies replays the PutPermission / RemovePermission sequences recorded against AWS
(tests/data/conformance/permissions-aws.snapshot.json) and gives the same documents and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from busbar.policies import PolicyError, policy_text, put_permission, remove_permission

from data import CONFORMANCE

SNAPSHOT: dict[str, Any] = json.loads((CONFORMANCE / "permissions-aws.snapshot.json").read_text())
PREFIX = "tests/aws/services/events/test_events.py::TestEventBus::"
ACCOUNT, SECONDARY = "111111111111", "222222222222"


def recorded(test: str) -> dict[str, Any]:
    return SNAPSHOT[PREFIX + test]["recorded-content"]  # type: ignore[no-any-return]


class Recorder:
    """Writes our answers the way the recording tool wrote AWS's: values replaced by their
    placeholders, ``Sid`` values numbered in the order they first appear."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name
        self.sids: dict[str, str] = {}

    def policy(self, policy: dict[str, Any] | None) -> dict[str, Any] | None:
        text = policy_text(policy)
        if text is None:
            return None
        document = json.loads(text)  # what a client reads from DescribeEventBus
        for statement in document["Statement"]:
            statement["Sid"] = self.sids.setdefault(statement["Sid"], f"<sid:{len(self.sids) + 1}>")
        out = json.dumps(document)
        for value, placeholder in (
            (f"event-bus/{self.bus_name}", "event-bus/<bus-name>"),
            ("arn:aws:", "arn:<partition>:"),
            (":us-east-1:", ":<region>:"),
            (SECONDARY, "<secondary-account-id>"),
            (ACCOUNT, "<account-id>"),
        ):
            out = out.replace(value, placeholder)
        return json.loads(out)  # type: ignore[no-any-return]


def bus_arn(name: str) -> str:
    return f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{name}"


@pytest.mark.parametrize("bus", ["custom", "default"])
def test_put_permission_sequence(bus: str) -> None:
    answers = recorded(f"test_put_permission[{bus}]")
    name = "test-bus-abc123" if bus == "custom" else "default"
    arn, seen = bus_arn(name), Recorder(name)
    policy = None
    for sid, principal in (("statement-1-a", ACCOUNT), ("statement-2-b", ACCOUNT), ("statement-3-c", SECONDARY)):
        policy = put_permission(policy, arn, action="events:PutEvents", principal=principal, statement_id=sid)
    assert seen.policy(policy) == answers["describe-event-bus-put-permission-multiple-principals"]["Policy"]

    # The same StatementId twice: one statement.
    for _ in range(2):
        policy = put_permission(policy, arn, action="events:PutEvents", principal="*", statement_id="statement-4-d")
    assert seen.policy(policy) == answers["describe-event-bus-put-permission"]["Policy"]

    # A whole Policy replaces every statement.
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "statement-5-e",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "events:ListRules",
                "Resource": "*",
            }
        ],
    }
    policy = put_permission(policy, arn, policy_document=json.dumps(document))
    assert seen.policy(policy) == answers["describe-event-bus-put-permission-policy"]["Policy"]


@pytest.mark.parametrize("bus", ["custom", "default"])
def test_remove_permission_sequence(bus: str) -> None:
    answers = recorded(f"test_remove_permission[{bus}]")
    name = "test-bus-abc123" if bus == "custom" else "default"
    arn, seen = bus_arn(name), Recorder(name)
    policy = put_permission(None, arn, action="events:PutEvents", principal=ACCOUNT, statement_id="statement-1-a")
    policy = put_permission(policy, arn, action="events:PutEvents", principal=SECONDARY, statement_id="statement-2-b")

    policy = remove_permission(policy, statement_id="statement-1-a")
    assert seen.policy(policy) == answers["describe-event-bus-remove-permission"]["Policy"]

    policy = remove_permission(policy, remove_all=True)
    assert "Policy" not in answers["describe-event-bus-remove-permission-all"]
    assert policy is None and policy_text(policy) is None


@pytest.mark.parametrize("key", ["True-custom", "True-default", "False-custom", "False-default"])
def test_removing_a_statement_that_is_not_there(key: str) -> None:
    error = recorded(f"test_remove_permission_non_existing_sid[{key}]")["remove-permission-non-existing-sid-error"]
    arn = bus_arn("default")
    policy = None
    if key.startswith("True"):
        policy = put_permission(None, arn, action="events:PutEvents", principal=ACCOUNT, statement_id="statement-x")
    with pytest.raises(PolicyError) as caught:
        remove_permission(policy, statement_id="non-existing-sid")
    assert {"Code": caught.value.code, "Message": caught.value.message} == error["Error"]
