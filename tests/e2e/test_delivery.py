"""Rules deliver: real server, real boto3, real local HTTP servers as targets."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from delivery_support import (
    api_destination,
    bus_arn,
    dead_letters_of,
    log_group_arn,
    put,
    read_log_group,
    rule_with_targets,
    unique,
)
from httptarget import HttpTarget, Reply
from support import ACCOUNT, REGION, BusbarProcess

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}


@pytest.fixture(scope="module")
def bus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    """A server with fast retries, shared by this module's tests."""
    process = BusbarProcess(tmp_path_factory.mktemp("delivery") / "data", env=FAST_RETRIES).start()
    yield process
    process.stop()


@pytest.fixture
def client(bus_server: BusbarProcess):  # noqa: ANN201
    return bus_server.client()


def test_matching_events_reach_the_target_as_envelopes(client, target):
    source = unique("shop")
    dest = api_destination(client, f"{target.url}/orders")
    rule_with_targets(
        client, {"source": [source], "detail": {"total": [{"numeric": [">", 100]}]}}, [{"Id": "web", "Arn": dest}]
    )
    put(client, {"total": 5}, source=source)  # does not match
    event_id = put(
        client,
        {"total": 250, "items": ["a"]},
        source=source,
        Resources=["arn:aws:shop:::o/1"],
        TraceHeader="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    )
    [request] = target.wait_for(1, "/orders")
    envelope = request.json()
    assert envelope == {
        "version": "0",
        "id": event_id,
        "detail-type": "OrderPlaced",
        "source": source,
        "account": ACCOUNT,
        "time": envelope["time"],
        "region": REGION,
        "resources": ["arn:aws:shop:::o/1"],
        "detail": {"total": 250, "items": ["a"]},
    }
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert request.headers["x-api-key"] == "secret-key"
    assert request.headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    time.sleep(0.3)
    assert len(target.requests_to("/orders")) == 1  # the first event matched no rule


def test_basic_auth(client, target):
    source = unique("src")
    dest = api_destination(
        client,
        f"{target.url}/basic",
        auth=("BASIC", {"BasicAuthParameters": {"Username": "user", "Password": "p@ss w0rd"}}),
    )
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    put(client, {}, source=source)
    [request] = target.wait_for(1, "/basic")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user:p@ss w0rd").decode()


def test_oauth_client_credentials(client, target):
    source = unique("src")
    target.require_token_on.add("/oauth-protected")
    dest = api_destination(
        client,
        f"{target.url}/oauth-protected",
        auth=(
            "OAUTH_CLIENT_CREDENTIALS",
            {
                "OAuthParameters": {
                    "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"},
                    "AuthorizationEndpoint": f"{target.url}{HttpTarget.TOKEN_PATH}",
                    "HttpMethod": "POST",
                }
            },
        ),
    )
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    put(client, {"n": 1}, source=source)
    put(client, {"n": 2}, source=source)
    requests = target.wait_for(2, "/oauth-protected")
    assert all(r.headers["authorization"].startswith("Bearer token-") for r in requests)
    assert len(target.token_requests) == 1  # cached between deliveries


def test_input_shaping_modes(client, target):
    source = unique("src")
    dest = api_destination(client, f"{target.url}/shaped")
    rule_with_targets(
        client,
        {"source": [source]},
        [
            {
                "Id": "const",
                "Arn": dest,
                "Input": '{"fixed": true}',
                "HttpParameters": {"HeaderParameters": {"x-mode": "const"}},
            },
            {
                "Id": "path",
                "Arn": dest,
                "InputPath": "$.detail.order",
                "HttpParameters": {"HeaderParameters": {"x-mode": "path"}},
            },
            {
                "Id": "json",
                "Arn": dest,
                "HttpParameters": {"HeaderParameters": {"x-mode": "json"}},
                "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.order.id", "tags": "$.detail.order.tags"},
                    "InputTemplate": '{"order": <id>, "tags": <tags>, "rule": <aws.events.rule-name>}',
                },
            },
            {
                "Id": "text",
                "Arn": dest,
                "HttpParameters": {"HeaderParameters": {"x-mode": "text"}},
                "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.order.id"},
                    "InputTemplate": '"Order <id> was placed"',
                },
            },
        ],
    )
    put(client, {"order": {"id": "o-7", "tags": ["a", "b"]}}, source=source)
    requests = {r.headers["x-mode"]: r.body for r in target.wait_for(4, "/shaped")}
    assert json.loads(requests["const"]) == {"fixed": True}
    assert json.loads(requests["path"]) == {"id": "o-7", "tags": ["a", "b"]}
    shaped = json.loads(requests["json"])
    assert shaped["order"] == "o-7" and shaped["tags"] == ["a", "b"] and shaped["rule"].startswith("rule-")
    assert json.loads(requests["text"]) == "Order o-7 was placed"


def test_5xx_and_429_are_retried(client, target):
    source = unique("src")
    target.script("/flaky", Reply(500), Reply(503), Reply(429, headers={"Retry-After": "0"}), Reply(200))
    dest = api_destination(client, f"{target.url}/flaky")
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    event_id = put(client, {"n": 1}, source=source)
    requests = target.wait_for(4, "/flaky")
    assert {r.json()["id"] for r in requests} == {event_id}
    time.sleep(0.5)
    assert len(target.requests_to("/flaky")) == 4  # delivered once it succeeded


def test_every_request_names_its_event_and_rule_whatever_the_body(client, target):
    """A shaped body carries no event id: the headers do, on the first attempt and on the
    retry alike, so a receiver can drop repeats."""
    source = unique("src")
    target.script("/shaped", Reply(503), Reply(200))
    dest = api_destination(client, f"{target.url}/shaped")
    rule = rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest, "Input": '{"fixed": 1}'}])
    rule_arn = client.describe_rule(Name=rule)["Arn"]
    event_id = put(client, {"n": 1}, source=source)
    requests = target.wait_for(2, "/shaped")
    assert [r.json() for r in requests] == [{"fixed": 1}] * 2
    assert [(r.headers["x-busbar-event-id"], r.headers["x-busbar-rule-arn"]) for r in requests] == [
        (event_id, rule_arn)
    ] * 2


def test_4xx_is_not_retried_and_is_kept_as_dead_letter(client, target, bus_server):
    source = unique("src")
    target.script("/refuses", Reply(400, body=b'{"message": "bad"}'))
    dest = api_destination(client, f"{target.url}/refuses")
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    event_id = put(client, {"n": 1}, source=source)
    target.wait_for(1, "/refuses")
    dead = dead_letters_of(bus_server, event_id)
    assert dead and dead[0]["attempts"] == 1 and dead[0]["error_code"]
    assert len(target.requests_to("/refuses")) == 1
    # Redrive: the target now accepts.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "busbar",
            "dead-letters",
            "redrive",
            "--endpoint-url",
            bus_server.endpoint_url,
            str(dead[0]["id"]),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "redriven 1" in done.stdout
    requests = target.wait_for(2, "/refuses")
    assert requests[1].json()["id"] == event_id


def test_input_that_cannot_be_shaped_is_dead_lettered(client, target, bus_server):
    source = unique("src")
    dest = api_destination(client, f"{target.url}/shaping")
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest, "InputPath": "$.detail.missing"}])
    event_id = put(client, {"present": 1}, source=source)
    dead = dead_letters_of(bus_server, event_id)
    assert dead and dead[0]["error_code"] == "InputTransformationFailed"
    assert target.requests_to("/shaping") == []


def test_exhausted_retries_go_to_the_dead_letter_bus(client, target, bus_server):
    source, dlq, log = unique("src"), unique("dlq"), unique("dead")
    client.create_event_bus(Name=dlq)
    rule_with_targets(client, {"source": ["busbar.dead-letter"]}, [{"Id": "log", "Arn": log_group_arn(log)}], bus=dlq)
    target.script("/down", *[Reply(500)] * 10)
    dest = api_destination(client, f"{target.url}/down")
    rule = rule_with_targets(
        client,
        {"source": [source]},
        [
            {
                "Id": "t",
                "Arn": dest,
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": bus_arn(dlq)},
            }
        ],
    )
    event_id = put(client, {"n": 1}, source=source)
    [letter] = read_log_group(bus_server, log, 1)
    assert len(target.requests_to("/down")) == 3  # the first attempt and two retries
    assert letter["source"] == "busbar.dead-letter"
    assert letter["detail"]["event"]["id"] == event_id
    attributes = letter["detail"]["attributes"]
    assert attributes["RETRY_ATTEMPTS"] == 2
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RULE_ARN"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    assert attributes["TARGET_ARN"] == dest
    assert attributes["ERROR_CODE"] and attributes["ERROR_MESSAGE"]


def test_rate_limit_delays_but_delivers(client, target):
    source = unique("src")
    dest = api_destination(client, f"{target.url}/limited", rate=5)
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    ids = {put(client, {"n": n}, source=source) for n in range(15)}
    requests = target.wait_for(15, "/limited", timeout=30)
    assert {r.json()["id"] for r in requests} == ids
    span = requests[-1].at - requests[0].at
    assert span >= 1.5, f"15 deliveries at 5/s took only {span:.2f}s"


def test_bus_to_bus_and_log_group(client, bus_server):
    source, second, log = unique("src"), unique("bus"), unique("log")
    client.create_event_bus(Name=second)
    rule_with_targets(client, {"source": [source]}, [{"Id": "fwd", "Arn": bus_arn(second)}])
    rule_with_targets(client, {"source": [source]}, [{"Id": "log", "Arn": log_group_arn(f"/busbar/{log}")}], bus=second)
    event_id = put(client, {"hello": "world"}, source=source)
    [line] = read_log_group(bus_server, f"/busbar/{log}", 1)
    assert line["id"] == event_id and line["detail"] == {"hello": "world"}


def test_bus_loops_stop(client, bus_server):
    source, a, b, log = unique("src"), unique("a"), unique("b"), unique("log")
    client.create_event_bus(Name=a)
    client.create_event_bus(Name=b)
    rule_with_targets(
        client,
        {"source": [source]},
        [{"Id": "to-b", "Arn": bus_arn(b)}, {"Id": "log", "Arn": log_group_arn(log)}],
        bus=a,
    )
    rule_with_targets(client, {"source": [source]}, [{"Id": "to-a", "Arn": bus_arn(a)}], bus=b)
    put(client, {}, source=source, bus=a)
    time.sleep(1.5)
    lines = read_log_group(bus_server, log, 1)
    assert 1 <= len(lines) <= 6  # the loop was cut after a few hops


def test_disabled_rules_do_not_deliver(client, bus_server):
    source, log_on, log_off = unique("src"), unique("on"), unique("off")
    rule_with_targets(client, {"source": [source]}, [{"Id": "l", "Arn": log_group_arn(log_on)}])
    off = rule_with_targets(client, {"source": [source]}, [{"Id": "l", "Arn": log_group_arn(log_off)}])
    client.disable_rule(Name=off)
    put(client, {"n": 1}, source=source)
    read_log_group(bus_server, log_on, 1)
    client.enable_rule(Name=off)
    put(client, {"n": 2}, source=source)
    assert [line["detail"]["n"] for line in read_log_group(bus_server, log_on, 2)] == [1, 2]
    assert [line["detail"]["n"] for line in read_log_group(bus_server, log_off, 1)] == [2]


def test_rule_changes_apply_without_restart(client, bus_server):
    source, log = unique("src"), unique("log")
    name = rule_with_targets(
        client, {"source": [source], "detail": {"v": [1]}}, [{"Id": "l", "Arn": log_group_arn(log)}]
    )
    put(client, {"v": 1}, source=source)
    read_log_group(bus_server, log, 1)
    client.put_rule(Name=name, EventPattern=json.dumps({"source": [source], "detail": {"v": [2]}}))
    put(client, {"v": 1}, source=source)
    put(client, {"v": 2}, source=source)
    assert [line["detail"]["v"] for line in read_log_group(bus_server, log, 2)] == [1, 2]


def test_pending_deliveries_survive_kill_9(fresh_server, target):
    # With NATS, what the killed server had leased comes back after the ack wait.
    fresh_server.env = {**FAST_RETRIES, "BUSBAR_NATS_ACK_WAIT": "3"}
    client = fresh_server.start().client()
    source = unique("src")
    dest = api_destination(client, f"{target.url}/slow", rate=100)
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    ids: set[str] = set()
    for batch in range(40):
        answer = client.put_events(
            Entries=[{"Source": source, "DetailType": "d", "Detail": json.dumps({"b": batch})} for _ in range(10)]
        )
        assert answer["FailedEntryCount"] == 0
        ids.update(e["EventId"] for e in answer["Entries"])
    target.wait_for(30, "/slow")
    fresh_server.kill()
    received_before = len(target.requests_to("/slow"))
    assert received_before < len(ids), "the kill came too late to leave deliveries pending"
    fresh_server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if {r.json()["id"] for r in target.requests_to("/slow")} >= ids:
            break
        time.sleep(0.1)
    delivered = {r.json()["id"] for r in target.requests_to("/slow")}
    assert delivered == ids, f"{len(ids - delivered)} acknowledged events were never delivered"
