"""Concurrent API calls on one resource lose nothing: every read-modify-write is one
compare-and-set (Store.modify), and quotas count through a ledger, not a racy read."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from support import BusbarProcess, unique

LOG = "arn:aws:logs:us-east-1:000000000000:log-group:concurrent"


def _together(calls: list, workers: int = 20) -> list:
    """Run every call at once from its own thread; answers (or errors) in order."""

    def run(call):  # noqa: ANN001, ANN202
        try:
            return call()
        except ClientError as error:
            return error

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, calls))


def test_concurrent_tag_resource_keeps_every_tag(server):
    clients = [server.client() for _ in range(20)]
    rule = unique("tagged")
    arn = clients[0].put_rule(Name=rule, EventPattern=json.dumps({"source": ["x"]}))["RuleArn"]
    _together(
        [
            lambda c=c, n=n: c.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{n}", "Value": "v"}])
            for n, c in enumerate(clients)
        ]
    )
    tags = clients[0].list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted(tag["Key"] for tag in tags) == sorted(f"k{n}" for n in range(20))


def test_concurrent_put_targets_keeps_every_target(server):
    clients = [server.client() for _ in range(5)]
    rule = unique("targeted")
    clients[0].put_rule(Name=rule, EventPattern=json.dumps({"source": ["x"]}))
    answers = _together(
        [
            lambda c=c, n=n: c.put_targets(Rule=rule, Targets=[{"Id": f"t{n}", "Arn": LOG}])
            for n, c in enumerate(clients)
        ]
    )
    assert all(not isinstance(answer, ClientError) for answer in answers)
    targets = clients[0].list_targets_by_rule(Rule=rule)["Targets"]
    assert sorted(target["Id"] for target in targets) == [f"t{n}" for n in range(5)]


def test_concurrent_put_targets_hold_the_quota(server):
    clients = [server.client() for _ in range(8)]
    rule = unique("crowded")
    clients[0].put_rule(Name=rule, EventPattern=json.dumps({"source": ["x"]}))
    answers = _together(
        [
            lambda c=c, n=n: c.put_targets(Rule=rule, Targets=[{"Id": f"t{n}", "Arn": LOG}])
            for n, c in enumerate(clients)
        ]
    )
    refused = [a for a in answers if isinstance(a, ClientError)]
    assert {a.response["Error"]["Code"] for a in refused} <= {"LimitExceededException"}
    stored = clients[0].list_targets_by_rule(Rule=rule)["Targets"]
    assert len(stored) == 5 and len(answers) - len(refused) == 5


@pytest.fixture
def small_quota(tmp_path):  # noqa: ANN201
    process = BusbarProcess(tmp_path / "data", env={"BUSBAR_MAX_RULES_PER_BUS": "10"}).start()
    yield process
    process.stop()


def test_concurrent_put_rule_holds_the_quota(small_quota):
    clients = [small_quota.client() for _ in range(12)]
    answers = _together(
        [
            lambda c=c, n=n: c.put_rule(Name=f"r{n}", EventPattern=json.dumps({"source": ["x"]}))
            for n, c in enumerate(clients)
        ]
    )
    refused = [a for a in answers if isinstance(a, ClientError)]
    assert {a.response["Error"]["Code"] for a in refused} == {"LimitExceededException"}
    rules = clients[0].list_rules()["Rules"]
    assert len(rules) == 10 and len(answers) - len(refused) == 10
    # A deleted rule frees its place at once.
    clients[0].delete_rule(Name=rules[0]["Name"])
    clients[0].put_rule(Name="late", EventPattern=json.dumps({"source": ["x"]}))
