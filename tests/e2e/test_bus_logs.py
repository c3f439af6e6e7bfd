"""Event bus logging (LogConfig) and busbar's own log of failed deliveries: real server,
real boto3, real HTTP targets; records read back with ``busbar bus-logs``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from delivery_support import api_destination, put, rule_with_targets
from httptarget import Reply
from support import BusbarProcess, unique

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}
ANY = {"source": [{"prefix": ""}]}


@pytest.fixture(scope="module")
def log_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    env = {**FAST_RETRIES, "BUSBAR_FAILURE_LOG_BURST": "3", "BUSBAR_FAILURE_LOG_PER_MINUTE": "60"}
    process = BusbarProcess(tmp_path_factory.mktemp("buslogs") / "data", env=env).start()
    yield process
    process.stop()


@pytest.fixture
def client(log_server: BusbarProcess) -> Any:
    return log_server.client()


def bus_logs(server: BusbarProcess, bus: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "busbar", "bus-logs", bus, *server.store_args()],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


# The steps in the order an event takes them (AWS's diagram), for records of the same millisecond.
STEPS = [
    "EVENT_RECEIPT",
    "EVENT_INGEST_SUCCESS",
    "EVENT_INGEST_FAILURE",
    "RULE_MATCH_START",
    "NO_STANDARD_RULES_MATCHED",
    "RULE_MATCH",
    "INVOCATION_START",
    "INVOCATION_THROTTLE_START",
    "INVOCATION_ATTEMPT_START",
    "INVOCATION_ATTEMPT_THROTTLE",
    "INVOCATION_ATTEMPT_RETRYABLE_FAILURE",
    "INVOCATION_ATTEMPT_PERMANENT_FAILURE",
    "INVOCATION_ATTEMPT_SUCCESS",
    "INVOCATION_SUCCESS",
    "INVOCATION_FAILURE",
    "INVOCATION_DLQ",
]


def records_of(server: BusbarProcess, bus: str, event_id: str, last_step: str) -> list[dict[str, Any]]:
    """The records of one event, once *last_step* is among them, in the order they happened.
    (In a cluster the node that took the event and the node that routed or delivered it write
    their records apart: the log group holds them in the order they arrived.)"""
    deadline = time.monotonic() + 20
    while True:
        records = [r for r in bus_logs(server, bus) if r.get("event_id") == event_id]
        if any(r["message_type"] == last_step for r in records) or time.monotonic() > deadline:
            return sorted(records, key=lambda r: (r["message_timestamp_ms"], STEPS.index(r["message_type"])))
        time.sleep(0.1)


def test_log_config_is_stored_and_returned(client):
    name = unique("bus")
    created = client.create_event_bus(Name=name, LogConfig={"Level": "INFO", "IncludeDetail": "NONE"})
    assert created["LogConfig"] == {"Level": "INFO", "IncludeDetail": "NONE"}
    assert client.describe_event_bus(Name=name)["LogConfig"] == {"Level": "INFO", "IncludeDetail": "NONE"}
    updated = client.update_event_bus(Name=name, LogConfig={"Level": "TRACE", "IncludeDetail": "FULL"})
    assert updated["LogConfig"] == {"Level": "TRACE", "IncludeDetail": "FULL"}
    assert client.describe_event_bus(Name=name)["LogConfig"] == {"Level": "TRACE", "IncludeDetail": "FULL"}


def test_trace_with_full_detail_logs_every_step(client, log_server, target):
    bus = unique("bus")
    client.create_event_bus(Name=bus, LogConfig={"Level": "TRACE", "IncludeDetail": "FULL"})
    dest = api_destination(client, f"{target.url}/traced")
    rule = rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}], bus=bus)
    event_id = put(client, {"order": 7}, bus=bus)
    target.wait_for(1, "/traced")
    records = records_of(log_server, bus, event_id, "INVOCATION_SUCCESS")
    assert [r["message_type"] for r in records] == [
        "EVENT_RECEIPT",
        "EVENT_INGEST_SUCCESS",
        "RULE_MATCH_START",
        "RULE_MATCH",
        "INVOCATION_START",
        "INVOCATION_ATTEMPT_START",
        "INVOCATION_ATTEMPT_SUCCESS",
        "INVOCATION_SUCCESS",
    ]
    by_step = {r["message_type"]: r for r in records}
    arn = f"arn:aws:events:us-east-1:000000000000:event-bus/{bus}"
    assert all(r["resource_arn"] == arn and r["event_bus_name"] == bus for r in records)
    assert [r["log_level"] for r in records] == ["TRACE", "INFO", "TRACE", "INFO", "TRACE", "TRACE", "TRACE", "INFO"]
    ingest = by_step["EVENT_INGEST_SUCCESS"]["details"]
    assert (ingest["source"], ingest["detail_type"], json.loads(ingest["event_detail"])) == (
        "shop.orders",
        "OrderPlaced",
        {"order": 7},
    )
    match = by_step["RULE_MATCH"]["details"]
    rule_arn = f"arn:aws:events:us-east-1:000000000000:rule/{bus}/{rule}"
    assert match["rule_arn"] == rule_arn and match["target_arns"] == [dest]
    [invocation] = match["invocation_ids"]
    assert all(r["invocation_id"] == invocation for r in records[4:])
    success = by_step["INVOCATION_SUCCESS"]["details"]
    assert success["target_arn"] == dest and success["total_attempts"] == 1
    assert success["final_invocation_status"] == "SUCCESS"
    assert json.loads(success["target_input"])["id"] == event_id
    assert {"ingestion_to_start_latency_ms", "ingestion_to_success_latency_ms"} <= set(success)
    attempt = by_step["INVOCATION_ATTEMPT_SUCCESS"]["details"]
    assert (attempt["attempt_type"], attempt["attempt_count"], attempt["invocation_status"]) == ("FIRST", 1, "SUCCESS")


def test_error_level_logs_only_failures_and_none_leaves_the_detail_out(client, log_server, target):
    bus = unique("bus")
    client.create_event_bus(Name=bus, LogConfig={"Level": "ERROR", "IncludeDetail": "NONE"})
    target.script("/failing", Reply(status=500), Reply(status=500))
    dest = api_destination(client, f"{target.url}/failing")
    retry_once = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}
    rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest, "RetryPolicy": retry_once}], bus=bus)
    ok = rule_with_targets(client, ANY, [{"Id": "fine", "Arn": api_destination(client, f"{target.url}/fine")}], bus=bus)
    event_id = put(client, {"order": 8}, bus=bus)
    target.wait_for(2, "/failing")
    records = records_of(log_server, bus, event_id, "INVOCATION_FAILURE")
    assert [r["message_type"] for r in records] == [
        "INVOCATION_ATTEMPT_RETRYABLE_FAILURE",
        "INVOCATION_ATTEMPT_RETRYABLE_FAILURE",
        "INVOCATION_FAILURE",
    ]
    assert all(r["log_level"] == "ERROR" for r in records)
    assert records[0]["error"]["error_code"] == "ERROR_FROM_TARGET"
    assert [r["details"]["attempt_count"] for r in records[:2]] == [1, 2]
    assert records[2]["details"]["total_attempts"] == 2
    assert all("target_input" not in r["details"] and "event_detail" not in r["details"] for r in records)
    assert ok  # the other rule's successful invocation is not an error: nothing of it was logged


def test_info_level_and_turning_logging_off(client, log_server, target):
    bus = unique("bus")
    client.create_event_bus(Name=bus, LogConfig={"Level": "INFO"})
    event_id = put(client, {"order": 9}, bus=bus)  # no rule on this bus yet
    records = records_of(log_server, bus, event_id, "NO_STANDARD_RULES_MATCHED")
    assert [r["message_type"] for r in records] == ["EVENT_INGEST_SUCCESS", "NO_STANDARD_RULES_MATCHED"]
    assert "event_detail" not in records[0]["details"]  # IncludeDetail defaults to NONE
    client.update_event_bus(Name=bus, LogConfig={"Level": "OFF"})
    quiet = put(client, {"order": 10}, bus=bus)
    time.sleep(1.0)  # the writer flushes every 0.2 s: a record would be there by now
    assert [r for r in bus_logs(log_server, bus) if r.get("event_id") == quiet] == []


def server_lines(server: BusbarProcess, msg: str) -> list[list[dict[str, Any]]]:
    """The records saying *msg* in each node's log (a cluster deployment has two nodes),
    node by node."""
    nodes = [server] + ([server.partner] if server.partner is not None else [])
    found = []
    for node in nodes:
        text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == msg:
                records.append(record)
        found.append(records)
    return found


def test_failed_attempts_are_logged_at_info_with_what_to_know_and_rationed(client, log_server, target):
    bus = unique("bus")
    client.create_event_bus(Name=bus)
    target.script("/broken", *[Reply(status=503)] * 10_000)
    dest = api_destination(client, f"{target.url}/broken")
    rule = rule_with_targets(client, ANY, [{"Id": "broken-target", "Arn": dest}], bus=bus)
    event_ids = [put(client, {"n": n}, bus=bus) for n in range(5)]
    deadline = time.monotonic() + 30
    while True:
        nodes = [
            [r for r in lines if r["target"] == dest] for lines in server_lines(log_server, "delivery attempt failed")
        ]
        if any("suppressed" in r for lines in nodes for r in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    first = next(lines[0] for lines in nodes if lines)
    assert first["level"] == "info" and first["event_id"] in event_ids
    assert (first["bus"], first["rule"], first["target_id"]) == (
        bus,
        f"arn:aws:events:us-east-1:000000000000:rule/{bus}/{rule}",
        "broken-target",
    )
    assert first["error_code"] == "ERROR_FROM_TARGET" and "503" in first["error_message"]
    assert first["attempt"] >= 1 and first["next_attempt_at"].endswith("Z")
    # Each node logs a burst of three lines, then one a second at most, saying how many it held back.
    lines = next(lines for lines in nodes if any("suppressed" in r for r in lines))
    assert not any("suppressed" in r for r in lines[:3])
    rationed = next(r for r in lines if "suppressed" in r)
    assert lines.index(rationed) == 3 and rationed["suppressed"] >= 1
    requests = len(target.requests_to("/broken"))
    assert sum(len(lines) for lines in nodes) < requests  # far fewer lines than failed attempts


def test_libraries_debug_lines_stay_out_of_busbar_debug(tmp_path, target):
    server = BusbarProcess(tmp_path / "data", args=["--log-level", "debug"]).start()
    try:
        client = server.client()
        dest = api_destination(client, f"{target.url}/seen")
        rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}])
        put(client, {"n": 1})
        target.wait_for(1, "/seen")
        time.sleep(0.5)
    finally:
        server.stop()
    loggers = {json.loads(line)["logger"] for line in server.log().splitlines() if line.startswith("{")}
    assert "busbar.server" in loggers  # busbar's own debug lines (every request) are there
    assert {logger for logger in loggers if not logger.startswith("busbar")} <= {"uvicorn.error"}, loggers
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    invoked = [r for r in lines if r["msg"] == "api destination invoked"]
    assert invoked and {"event_id", "rule", "target"} <= set(invoked[0])
