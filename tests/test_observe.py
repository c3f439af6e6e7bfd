"""busbar.observe in process: the hooks count what AWS's metrics mean, and the exposition
is what Prometheus reads (cumulative buckets, sums, counts)."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from busbar.delivery.base import Delivery, Outcome
from busbar.observe import Observer
from busbar.observe.metrics import Metrics
from busbar.resources.scope import Scope

SCOPE = Scope("000000000000", "us-east-1")
BUS_ARN = "arn:aws:events:us-east-1:000000000000:event-bus/orders"


def samples(metrics: Metrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def delivery(attempts: int = 0, ingested_ago: float = 2.0) -> Delivery:
    return Delivery(
        id=7,
        event_id="e-1",
        bus="000000000000/us-east-1/orders",
        rule_name="big",
        rule_arn="arn:aws:events:us-east-1:000000000000:rule/orders/big",
        target={"Id": "t", "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/other"},
        to=None,
        payload=b"{}",
        envelope=b"{}",
        trace_header=None,
        attempts=attempts,
        ingested_at=time.time() - ingested_ago,
    )


def test_latency_histograms_are_exposed_cumulatively():
    metrics = Metrics()
    observer = Observer(metrics)
    observer.succeeded(delivery(ingested_ago=0.002))
    observer.succeeded(delivery(ingested_ago=7.0))
    found = samples(metrics)
    labels = (("event_bus_name", "orders"), ("rule_name", "big"))
    buckets = {
        le: value
        for key, value in found["busbar_ingestion_to_invocation_success_latency_seconds_bucket"].items()
        for name, le in key
        if name == "le"
    }
    assert (buckets["0.001"], buckets["0.005"], buckets["5.0"], buckets["10.0"], buckets["+Inf"]) == (0, 1, 1, 2, 2)
    assert found["busbar_ingestion_to_invocation_success_latency_seconds_count"][labels] == 2
    assert 7.0 < found["busbar_ingestion_to_invocation_success_latency_seconds_sum"][labels] < 8.0
    assert found["busbar_invocations_total"][labels] == 2


def test_attempts_that_never_invoked_the_target_are_dead_letter_invocations():
    metrics = Metrics()
    observer = Observer(metrics)
    looped = Outcome.fail("LoopDetected", "not forwarded again")
    observer.dead_lettered(delivery(attempts=0), looped, 1, None)
    refused = Outcome.fail("ResourceNotFoundException", "Event bus other does not exist.")
    observer.dead_lettered(delivery(attempts=0), refused, 1, None, dlq=BUS_ARN, sent=True)
    series = metrics.rules[("orders", "big")]
    assert (series.dead_letter, series.invocations, series.failed, series.attempts) == (1, 1, 1, 1)
    assert (series.sent_to_dlq, series.failed_to_dlq) == (1, 0)


def test_a_bus_named_by_name_and_by_arn_in_one_request_is_one_call():
    metrics = Metrics()
    observer = Observer(metrics)
    entries = [{"EventBusName": "orders"}, {"EventBusName": BUS_ARN}, {}]
    results = [{"EventId": "a"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}, {"EventId": "b"}]
    observer.put_events(SCOPE, entries, results, time.perf_counter())
    orders, default = metrics.buses["orders"], metrics.buses["default"]
    assert (orders.calls, orders.successes, orders.failures) == (1, 0, 1)
    assert (default.calls, default.successes, default.failures) == (1, 1, 0)
    missing = [{"ErrorCode": "ResourceNotFoundException", "ErrorMessage": "Event bus nope does not exist."}]
    observer.put_events(SCOPE, [{"EventBusName": "nope"}], missing, time.perf_counter())
    assert "nope" not in metrics.buses and metrics.buses["(unknown)"].failures == 1


def test_a_hook_that_fails_does_not_fail_its_caller():
    observer = Observer(Metrics())
    observer.put_events(SCOPE, [{"EventBusName": 5}], [{"EventId": "a"}], time.perf_counter())  # logged, not raised
