"""PutEvents to another account's bus, named by ARN, with keys of two accounts
(--auth-keys-file's third column): allowed only where that bus's policy allows the
caller's account, refused per entry otherwise, as AWS refuses it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from delivery_support import read_log_group
from support import REGION, BusbarProcess, unique

ALICE, BOB = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    directory = tmp_path_factory.mktemp("accounts")
    keys = directory / "keys"
    keys.write_text(f"AKIDALICE alice-secret {ALICE}\nAKIDBOB bob-secret {BOB}\n")
    process = BusbarProcess(directory / "data", args=["--auth-keys-file", str(keys)]).start()
    yield process
    process.stop()


def entry(bus: str, source: str) -> dict[str, Any]:
    return {"Source": source, "DetailType": "Shared", "Detail": json.dumps({"from": "alice"}), "EventBusName": bus}


def settled(client: Any, bus: str) -> None:
    """Wait until the bus's policy reads the same on consecutive calls: on a two-node deployment
    the client alternates between the nodes, and the node that took a change has it at once,
    so the other one has it too then (its watch brings changes within a second)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        first, second = (client.describe_event_bus(Name=bus).get("Policy") for _ in range(2))
        if first == second:
            return
        time.sleep(0.05)


def test_put_events_to_another_accounts_bus_follows_its_policy(two_accounts):
    alice = two_accounts.client(key="AKIDALICE", secret="alice-secret")
    bob = two_accounts.client(key="AKIDBOB", secret="bob-secret")
    bus, group, source = unique("shared"), unique("group"), unique("src")
    bus_arn = bob.create_event_bus(Name=bus)["EventBusArn"]
    assert bus_arn == f"arn:aws:events:{REGION}:{BOB}:event-bus/{bus}"
    bob.put_rule(Name="in", EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    bob.put_targets(
        Rule="in", EventBusName=bus, Targets=[{"Id": "log", "Arn": f"arn:aws:logs:{REGION}:{BOB}:log-group:{group}"}]
    )

    # No policy: refused, in IAM's words.
    refused = alice.put_events(Entries=[entry(bus_arn, source)])
    assert refused["FailedEntryCount"] == 1
    assert refused["Entries"] == [
        {
            "ErrorCode": "AccessDeniedException",
            "ErrorMessage": f"User: arn:aws:iam::{ALICE}:root is not authorized to perform: events:PutEvents on "
            f"resource: {bus_arn} because no resource-based policy allows the events:PutEvents action",
        }
    ]
    # By name, alice's own account is meant: she has no such bus.
    assert alice.put_events(Entries=[entry(bus, source)])["Entries"][0]["ErrorCode"] == "ResourceNotFoundException"

    bob.put_permission(EventBusName=bus, Action="events:PutEvents", Principal=ALICE, StatementId="alice")
    settled(bob, bus)
    sent = alice.put_events(Entries=[entry(bus_arn, source), entry(bus_arn, source)])
    assert sent["FailedEntryCount"] == 0
    delivered = read_log_group(two_accounts, group, 2, account=BOB)
    assert {e["id"] for e in delivered} == {e["EventId"] for e in sent["Entries"]}
    # The event names the account that sent it, and its bus's region.
    assert {(e["account"], e["region"]) for e in delivered} == {(ALICE, REGION)}
    # A bus of the other account in another region is not reached through this one.
    elsewhere = f"arn:aws:events:eu-west-1:{BOB}:event-bus/{bus}"
    assert alice.put_events(Entries=[entry(elsewhere, source)])["Entries"][0]["ErrorCode"] == (
        "ResourceNotFoundException"
    )

    # An explicit Deny holds even for the bus's own account; an Allow for alice still holds.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "alice", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ALICE}:root"},
             "Action": "events:PutEvents", "Resource": bus_arn},
            {"Sid": "not-bob", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{BOB}:root"},
             "Action": "events:PutEvents", "Resource": bus_arn},
        ],
    }  # fmt: skip
    bob.put_permission(EventBusName=bus, Policy=json.dumps(policy))
    settled(bob, bus)
    [denied] = bob.put_events(Entries=[entry(bus, source)])["Entries"]
    assert denied == {
        "ErrorCode": "AccessDeniedException",
        "ErrorMessage": f"User: arn:aws:iam::{BOB}:root is not authorized to perform: events:PutEvents on "
        f"resource: {bus_arn} with an explicit deny in a resource-based policy",
    }
    assert alice.put_events(Entries=[entry(bus_arn, source)])["FailedEntryCount"] == 0
    # Removing the permissions closes the bus to alice again.
    bob.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    settled(bob, bus)
    assert alice.put_events(Entries=[entry(bus_arn, source)])["FailedEntryCount"] == 1
    assert bob.put_events(Entries=[entry(bus, source)])["FailedEntryCount"] == 0
