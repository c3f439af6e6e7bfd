"""GET /metrics after known traffic: exact counter values and labels, with
EventBridge's CloudWatch metric names.  Real server, real boto3, real HTTP targets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from delivery_support import api_destination, bus_arn, put, rule_with_targets
from httptarget import Reply
from support import BusbarProcess, free_port, unique

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}
ANY = {"source": [{"prefix": ""}]}

# Counters per (bus, rule) that AWS publishes with the dimensions EventBusName and RuleName.
RULE_COUNTERS = (
    "busbar_matched_events_total",
    "busbar_triggered_rules_total",
    "busbar_invocations_total",
    "busbar_failed_invocations_total",
    "busbar_invocation_attempts_total",
    "busbar_successful_invocation_attempts_total",
    "busbar_retry_invocation_attempts_total",
    "busbar_dead_letter_invocations_total",
    "busbar_throttled_rules_total",
    "busbar_invocations_sent_to_dlq_total",
    "busbar_invocations_failed_to_be_sent_to_dlq_total",
)


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    process = BusbarProcess(tmp_path_factory.mktemp("metrics") / "data", env=FAST_RETRIES).start()
    yield process
    process.stop()


@pytest.fixture
def client(metrics_server: BusbarProcess) -> Any:
    return metrics_server.client()


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics: name -> {sorted labels -> value}."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def scrape_nodes(server: BusbarProcess) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics of a deployment, as Prometheus would sum it: each node counts what it did
    (counters and histograms are added up over the nodes of a cluster); gauges read from the
    shared store (pending deliveries, ...) are the same on every node: the first one's."""
    samples = scrape(server.endpoint_url + "/metrics")
    if server.partner is not None:
        for name, series in scrape(server.partner.endpoint_url + "/metrics").items():
            if name.endswith(("_total", "_count", "_sum", "_bucket")):
                mine = samples.setdefault(name, {})
                for labels, value in series.items():
                    mine[labels] = mine.get(labels, 0.0) + value
    return samples


def rule_counts(samples: dict[str, Any], bus: str, rule: str, names: Any = RULE_COUNTERS) -> dict[str, float]:
    key = (("event_bus_name", bus), ("rule_name", rule))
    return {name: samples.get(name, {}).get(key, 0.0) for name in names}


def expect(server: BusbarProcess, bus: str, rule: str, *, unchecked: str = "", **wanted: float) -> dict[str, Any]:
    """Wait until the rule's counters reach *wanted* (names without busbar_ and _total; the
    others 0, but *unchecked*), then check they are exactly that; answer the last scrape."""
    full = {name: 0.0 for name in RULE_COUNTERS}
    full.update({f"busbar_{name}_total": value for name, value in wanted.items()})
    if unchecked:
        full.pop(f"busbar_{unchecked}_total")
    deadline = time.monotonic() + 30
    while True:
        samples = scrape_nodes(server)
        got = rule_counts(samples, bus, rule, full)
        if got == full or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # nothing more comes: the counts are exact, not lower bounds
    samples = scrape_nodes(server)
    assert rule_counts(samples, bus, rule, full) == full
    return samples


def new_bus(client: Any) -> str:
    name = unique("bus")
    client.create_event_bus(Name=name)
    return name


def test_successful_deliveries_and_put_events_requests(client, metrics_server, target):
    bus = new_bus(client)
    dest = api_destination(client, f"{target.url}/ok")
    rule = rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}], bus=bus)
    entry = {"Source": "shop", "DetailType": "t", "Detail": "{}", "EventBusName": bus}
    assert client.put_events(Entries=[entry] * 3)["FailedEntryCount"] == 0
    assert client.put_events(Entries=[entry] * 2)["FailedEntryCount"] == 0
    # A request with one failed entry is a failed request, even when the others were taken.
    assert client.put_events(Entries=[entry, {**entry, "Detail": "not json"}])["FailedEntryCount"] == 1
    target.wait_for(6, "/ok")
    samples = expect(
        metrics_server,
        bus,
        rule,
        matched_events=6,
        triggered_rules=6,
        invocations=6,
        invocation_attempts=6,
        successful_invocation_attempts=6,
    )
    key = (("event_bus_name", bus),)
    assert samples["busbar_put_events_approximate_call_count_total"][key] == 3
    assert samples["busbar_put_events_approximate_success_count_total"][key] == 2
    assert samples["busbar_put_events_approximate_failed_count_total"][key] == 1
    assert samples["busbar_put_events_latency_seconds_count"][key] == 3
    assert samples["busbar_bus_events_total"][key] == 6
    rule_key = (("event_bus_name", bus), ("rule_name", rule))
    assert samples["busbar_ingestion_to_invocation_start_latency_seconds_count"][rule_key] == 6
    assert samples["busbar_ingestion_to_invocation_success_latency_seconds_count"][rule_key] == 6
    assert samples["busbar_ingestion_to_invocation_success_latency_seconds_sum"][rule_key] > 0


def test_a_retried_delivery_counts_its_attempts_and_one_invocation(client, metrics_server, target):
    bus = new_bus(client)
    target.script("/flaky", Reply(status=500), Reply(status=503))
    dest = api_destination(client, f"{target.url}/flaky")
    rule = rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}], bus=bus)
    put(client, {"n": 1}, bus=bus)
    target.wait_for(3, "/flaky")
    samples = expect(
        metrics_server,
        bus,
        rule,
        matched_events=1,
        triggered_rules=1,
        invocations=1,
        invocation_attempts=3,
        successful_invocation_attempts=1,
        retry_invocation_attempts=2,
    )
    # The start latency is measured once, at the first attempt.
    rule_key = (("event_bus_name", bus), ("rule_name", rule))
    assert samples["busbar_ingestion_to_invocation_start_latency_seconds_count"][rule_key] == 1


def test_dead_letters_kept_sent_to_a_dlq_or_not(client, metrics_server, target):
    bus, dlq = new_bus(client), new_bus(client)
    target.script("/down", *[Reply(status=500)] * 3)

    def failing(target_id: str, dead_letter_bus: str | None = None) -> dict[str, Any]:
        config: dict[str, Any] = {
            "Id": target_id,
            "Arn": api_destination(client, f"{target.url}/down"),
            "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
        }
        if dead_letter_bus is not None:
            config["DeadLetterConfig"] = {"Arn": bus_arn(dead_letter_bus)}
        return config

    kept = rule_with_targets(client, ANY, [failing("kept")], bus=bus)
    to_dlq = rule_with_targets(client, ANY, [failing("dlq", dlq)], bus=bus)
    missing_dlq = rule_with_targets(client, ANY, [failing("gone", unique("missing"))], bus=bus)
    put(client, {"n": 1}, bus=bus)
    failed_once = {
        "matched_events": 1,
        "triggered_rules": 1,
        "invocations": 1,
        "failed_invocations": 1,
        "invocation_attempts": 1,
    }
    samples = expect(metrics_server, bus, kept, **failed_once)
    expect(metrics_server, bus, to_dlq, **failed_once, invocations_sent_to_dlq=1)
    samples = expect(metrics_server, bus, missing_dlq, **failed_once, invocations_failed_to_be_sent_to_dlq=1)
    # Kept dead deliveries (no DLQ, and the DLQ that does not exist) are busbar's own gauge, per target.
    dead = samples["busbar_dead_deliveries"]
    kept_arn = client.list_targets_by_rule(Rule=kept, EventBusName=bus)["Targets"][0]["Arn"]
    assert dead[(("target_arn", kept_arn), ("target_kind", "api-destination"))] == 1


def test_a_rule_that_would_loop_counts_dead_letter_invocations(client, metrics_server):
    bus = new_bus(client)
    rule = rule_with_targets(client, ANY, [{"Id": "self", "Arn": bus_arn(bus)}], bus=bus)
    put(client, {"n": 1}, bus=bus)
    # The event and five forwards of it reach the bus; the sixth forward is refused (LoopDetected).
    samples = expect(
        metrics_server,
        bus,
        rule,
        matched_events=6,
        triggered_rules=6,
        invocations=5,
        invocation_attempts=5,
        successful_invocation_attempts=5,
        dead_letter_invocations=1,
    )
    assert samples["busbar_bus_events_total"][(("event_bus_name", bus),)] == 6


def test_a_throttled_rule(client, metrics_server, target):
    bus = new_bus(client)
    dest = api_destination(client, f"{target.url}/slowly", rate=1)
    rule = rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}], bus=bus)
    entry = {"Source": "shop", "DetailType": "t", "Detail": "{}", "EventBusName": bus}
    assert client.put_events(Entries=[entry] * 3)["FailedEntryCount"] == 0
    target.wait_for(3, "/slowly")
    # One invocation a second: the first goes at once, the other two wait for their turn.
    # (Two nodes share the rate, each with a burst of one: 1 or 2 waited, as they fell.)
    samples = expect(
        metrics_server,
        bus,
        rule,
        unchecked="throttled_rules",
        matched_events=3,
        triggered_rules=3,
        invocations=3,
        invocation_attempts=3,
        successful_invocation_attempts=3,
    )
    throttled = rule_counts(samples, bus, rule, ["busbar_throttled_rules_total"])["busbar_throttled_rules_total"]
    assert throttled == 2 if metrics_server.partner is None else throttled in (1, 2)


def test_pending_deliveries_per_target_and_busbar_gauges(client, metrics_server, target):
    target.script("/stuck", *[Reply(status=500)] * 1000)
    dest = api_destination(client, f"{target.url}/stuck")
    bus = new_bus(client)
    rule_with_targets(client, ANY, [{"Id": "web", "Arn": dest}], bus=bus)
    put(client, {"n": 1}, bus=bus)
    target.wait_for(2, "/stuck")
    samples = scrape(metrics_server.endpoint_url + "/metrics")
    assert samples["busbar_pending_deliveries"][(("target_arn", dest), ("target_kind", "api-destination"))] == 1
    assert samples["busbar_store_commit_latency_seconds_count"][()] > 0
    assert samples["busbar_open_connections"][()] >= 1
    assert "busbar_unrouted_events" in samples and "busbar_deliveries_in_memory" in samples


def test_metrics_off_and_the_metrics_listener_with_auth(tmp_path):
    off = BusbarProcess(tmp_path / "off", args=["--metrics", "off"]).start()
    try:
        response = httpx.get(off.endpoint_url + "/metrics", timeout=10)
        assert response.status_code == 404 and "--metrics off" in response.text
    finally:
        off.stop()
    keys = tmp_path / "keys"
    keys.write_text("AKIDMETRICS secret-of-metrics\n")
    port = free_port()
    guarded = BusbarProcess(  # one node: a second one would want the same metrics port
        tmp_path / "auth", args=["--auth-keys-file", str(keys), "--metrics-port", str(port)], partner=False
    ).start()
    try:
        refused = httpx.get(guarded.endpoint_url + "/metrics", timeout=10)
        assert refused.status_code == 403 and "--metrics-port" in refused.text
        signed = guarded.client(key="AKIDMETRICS", secret="secret-of-metrics")
        for _ in range(2):  # a commit at least
            signed.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": "{}"}])
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
        assert samples["busbar_store_commit_latency_seconds_count"][()] > 0
        # The metrics listener serves nothing else.
        assert httpx.post(f"http://127.0.0.1:{port}/", content=b"{}", timeout=10).status_code != 200
    finally:
        guarded.stop()


def test_the_metric_names_are_awss_in_snake_case(metrics_server):
    text = httpx.get(metrics_server.endpoint_url + "/metrics", timeout=10).text
    names = {family.name for family in text_string_to_metric_families(text)}
    aws = {
        "PutEventsApproximateCallCount": "busbar_put_events_approximate_call_count",
        "PutEventsApproximateSuccessCount": "busbar_put_events_approximate_success_count",
        "PutEventsApproximateFailedCount": "busbar_put_events_approximate_failed_count",
        "PutEventsLatency": "busbar_put_events_latency_seconds",
        "MatchedEvents": "busbar_matched_events",
        "TriggeredRules": "busbar_triggered_rules",
        "Invocations": "busbar_invocations",
        "FailedInvocations": "busbar_failed_invocations",
        "InvocationAttempts": "busbar_invocation_attempts",
        "SuccessfulInvocationAttempts": "busbar_successful_invocation_attempts",
        "RetryInvocationAttempts": "busbar_retry_invocation_attempts",
        "DeadLetterInvocations": "busbar_dead_letter_invocations",
        "ThrottledRules": "busbar_throttled_rules",
        "InvocationsSentToDlq": "busbar_invocations_sent_to_dlq",
        "InvocationsFailedToBeSentToDlq": "busbar_invocations_failed_to_be_sent_to_dlq",
        "IngestiontoInvocationStartLatency": "busbar_ingestion_to_invocation_start_latency_seconds",
        "IngestiontoInvocationSuccessLatency": "busbar_ingestion_to_invocation_success_latency_seconds",
    }
    assert set(aws.values()) <= names, set(aws.values()) - names
