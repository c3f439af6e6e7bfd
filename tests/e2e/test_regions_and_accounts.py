"""One busbar serves every region and account (issue #11): a request acts in the region
it is signed for and the account of its access key; resources, ARNs, quotas and events
are per account and region, as in AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from delivery_support import read_log_group
from support import ACCOUNT, REGION, BusbarProcess, unique


def events_in(server: BusbarProcess, region: str, key: str = "test", secret: str = "test"):  # noqa: ANN201
    return server.client(region, key, secret)


def test_a_request_acts_in_the_region_it_is_signed_for(server):
    west, east = events_in(server, "us-west-1"), events_in(server, REGION)
    name = unique("bus")
    arn = west.create_event_bus(Name=name)["EventBusArn"]
    assert arn == f"arn:aws:events:us-west-1:{ACCOUNT}:event-bus/{name}"
    assert name in [bus["Name"] for bus in west.list_event_buses()["EventBuses"]]
    assert name not in [bus["Name"] for bus in east.list_event_buses()["EventBuses"]]
    # Every region has its own default bus, and its own rules.
    assert west.describe_event_bus()["Arn"] == f"arn:aws:events:us-west-1:{ACCOUNT}:event-bus/default"
    rule = unique("rule")
    assert west.put_rule(Name=rule, EventPattern='{"source": ["x"]}')["RuleArn"].startswith("arn:aws:events:us-west-1:")
    assert rule not in [r["Name"] for r in east.list_rules()["Rules"]]


def test_events_carry_the_region_they_were_put_in(server):
    west = events_in(server, "eu-west-3")
    group, source = unique("group"), unique("src")
    west.put_rule(Name=unique("rule"), EventPattern=json.dumps({"source": [source]}))
    [rule] = [r for r in west.list_rules()["Rules"] if source in r.get("EventPattern", "")]
    west.put_targets(
        Rule=rule["Name"], Targets=[{"Id": "log", "Arn": f"arn:aws:logs:eu-west-3:{ACCOUNT}:log-group:{group}"}]
    )
    west.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    [event] = read_log_group(server, group, 1, region="eu-west-3")
    assert (event["region"], event["account"]) == ("eu-west-3", ACCOUNT)


@pytest.fixture
def two_accounts(tmp_path: Path) -> Iterator[BusbarProcess]:
    keys = tmp_path / "keys"
    keys.write_text("AKIDALICE alice-secret 111111111111\nAKIDBOB bob-secret 222222222222\n")
    process = BusbarProcess(tmp_path / "data", args=["--auth-keys-file", str(keys)]).start()
    yield process
    process.stop()


def test_resources_belong_to_the_callers_account(two_accounts):
    alice = events_in(two_accounts, REGION, "AKIDALICE", "alice-secret")
    bob = events_in(two_accounts, REGION, "AKIDBOB", "bob-secret")
    assert alice.create_event_bus(Name="orders")["EventBusArn"].endswith(":111111111111:event-bus/orders")
    assert bob.create_event_bus(Name="orders")["EventBusArn"].endswith(":222222222222:event-bus/orders")
    alice.put_rule(Name="mine", EventPattern='{"source": ["x"]}', EventBusName="orders")
    assert [r["Name"] for r in alice.list_rules(EventBusName="orders")["Rules"]] == ["mine"]
    assert bob.list_rules(EventBusName="orders")["Rules"] == []
