"""EventBridge's CloudWatch metrics, as Prometheus metrics (``GET /metrics``).

Names are ``busbar_`` + AWS's metric name in snake case; counters end in ``_total``,
latencies are histograms in seconds; AWS's dimensions become the labels
``event_bus_name`` and ``rule_name``.  Each metric means what AWS documents for it:

=========================================================  ====================================
busbar                                                     AWS (namespace AWS/Events)
=========================================================  ====================================
``busbar_put_events_approximate_call_count_total``         PutEventsApproximateCallCount
``busbar_put_events_approximate_success_count_total``      PutEventsApproximateSuccessCount
``busbar_put_events_approximate_failed_count_total``       PutEventsApproximateFailedCount
``busbar_put_events_latency_seconds``                      PutEventsLatency
``busbar_matched_events_total``                            MatchedEvents
``busbar_triggered_rules_total``                           TriggeredRules
``busbar_invocations_total``                               Invocations
``busbar_failed_invocations_total``                        FailedInvocations
``busbar_invocation_attempts_total``                       InvocationAttempts
``busbar_successful_invocation_attempts_total``            SuccessfulInvocationAttempts
``busbar_retry_invocation_attempts_total``                 RetryInvocationAttempts
``busbar_dead_letter_invocations_total``                   DeadLetterInvocations
``busbar_throttled_rules_total``                           ThrottledRules
``busbar_invocations_sent_to_dlq_total``                   InvocationsSentToDlq
``busbar_invocations_failed_to_be_sent_to_dlq_total``      InvocationsFailedToBeSentToDlq
``busbar_ingestion_to_invocation_start_latency_seconds``   IngestiontoInvocationStartLatency
``busbar_ingestion_to_invocation_success_latency_seconds`` IngestiontoInvocationSuccessLatency
=========================================================  ====================================

and busbar's own: events per bus, pending and dead deliveries per target, events
waiting to be routed, deliveries in memory, store commit latency, open connections.

Counting costs the hot path a dictionary lookup and a few locked additions: the
labelled children of each (bus) and (bus, rule) are made once and kept.  Gauges
that read the store are computed when ``/metrics`` is scraped, never before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from busbar.model.arns import parse_target
from busbar.store.base import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request latencies: half a millisecond to ten seconds.
_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From ingestion to a target: a millisecond to a day (retries last up to 24 hours).
_DELIVERY_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    21600.0,
    86400.0,
)
_COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

BUS = ("event_bus_name",)
RULE = ("event_bus_name", "rule_name")


@dataclass(slots=True)
class BusSeries:
    """The labelled children of one bus (made once, then only incremented)."""

    calls: Any
    successes: Any
    failures: Any
    latency: Any
    events: Any


@dataclass(slots=True)
class RuleSeries:
    """The labelled children of one rule of one bus."""

    matched: Any
    triggered: Any
    invocations: Any
    failed: Any
    attempts: Any
    successful: Any
    retries: Any
    dead_letter: Any
    throttled: Any
    sent_to_dlq: Any
    failed_to_dlq: Any
    start_latency: Any
    success_latency: Any


class Metrics:
    """busbar's metrics in a registry of their own (one per server)."""

    def __init__(self) -> None:
        # The ``_created`` series double the output and say nothing a restart does not.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = r = CollectorRegistry(auto_describe=False)
        self.put_calls = Counter(
            "busbar_put_events_approximate_call_count",
            "PutEvents requests (AWS PutEventsApproximateCallCount).",
            BUS,
            registry=r,
        )
        self.put_successes = Counter(
            "busbar_put_events_approximate_success_count",
            "PutEvents requests whose every entry was accepted (AWS PutEventsApproximateSuccessCount).",
            BUS,
            registry=r,
        )
        self.put_failures = Counter(
            "busbar_put_events_approximate_failed_count",
            "PutEvents requests with at least one failed entry (AWS PutEventsApproximateFailedCount).",
            BUS,
            registry=r,
        )
        self.put_latency = Histogram(
            "busbar_put_events_latency_seconds",
            "Time to answer a PutEvents request, events durable (AWS PutEventsLatency).",
            BUS,
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.bus_events = Counter(
            "busbar_bus_events", "Events that reached the bus (put, forwarded, scheduled), as routed.", BUS, registry=r
        )
        self.matched = Counter(
            "busbar_matched_events", "Events that matched the rule (AWS MatchedEvents).", RULE, registry=r
        )
        self.triggered = Counter(
            "busbar_triggered_rules", "Times the rule ran for a matching event (AWS TriggeredRules).", RULE, registry=r
        )
        self.invocations = Counter(
            "busbar_invocations",
            "Targets invoked for an event, counted once the invocation ends: succeeded, or failed for good "
            "(AWS Invocations).",
            RULE,
            registry=r,
        )
        self.failed = Counter(
            "busbar_failed_invocations",
            "Invocations that failed permanently, retries exhausted or not retryable (AWS FailedInvocations).",
            RULE,
            registry=r,
        )
        self.attempts = Counter(
            "busbar_invocation_attempts", "Attempts to invoke a target (AWS InvocationAttempts).", RULE, registry=r
        )
        self.successful = Counter(
            "busbar_successful_invocation_attempts",
            "Attempts that invoked the target successfully (AWS SuccessfulInvocationAttempts).",
            RULE,
            registry=r,
        )
        self.retries = Counter(
            "busbar_retry_invocation_attempts",
            "Attempts that were retries (AWS RetryInvocationAttempts).",
            RULE,
            registry=r,
        )
        self.dead_letter = Counter(
            "busbar_dead_letter_invocations",
            "Times a target was not invoked at all: a forward that would loop, an input that could not be "
            "shaped (AWS DeadLetterInvocations).",
            RULE,
            registry=r,
        )
        self.throttled = Counter(
            "busbar_throttled_rules",
            "Invocations delayed by the target's invocation rate limit (AWS ThrottledRules).",
            RULE,
            registry=r,
        )
        self.sent_to_dlq = Counter(
            "busbar_invocations_sent_to_dlq",
            "Dead letters sent to the target's DeadLetterConfig (AWS InvocationsSentToDlq).",
            RULE,
            registry=r,
        )
        self.failed_to_dlq = Counter(
            "busbar_invocations_failed_to_be_sent_to_dlq",
            "Dead letters whose DeadLetterConfig could not take them; kept as dead deliveries "
            "(AWS InvocationsFailedToBeSentToDlq).",
            RULE,
            registry=r,
        )
        self.start_latency = Histogram(
            "busbar_ingestion_to_invocation_start_latency_seconds",
            "From ingestion to the first attempt to invoke a target (AWS IngestiontoInvocationStartLatency).",
            RULE,
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.success_latency = Histogram(
            "busbar_ingestion_to_invocation_success_latency_seconds",
            "From ingestion to the successful invocation of a target (AWS IngestiontoInvocationSuccessLatency).",
            RULE,
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.commit_latency = Histogram(
            "busbar_store_commit_latency_seconds",
            "Time one group commit of the store takes (many writes, one fsync).",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self._buses: dict[str, BusSeries] = {}
        self._rules: dict[tuple[str, str], RuleSeries] = {}
        self._gauges = _Gauges()
        r.register(self._gauges)

    def bus(self, name: str) -> BusSeries:
        """The series of bus *name* (made on first use)."""
        found = self._buses.get(name)
        if found is None:
            found = self._buses[name] = BusSeries(
                self.put_calls.labels(name),
                self.put_successes.labels(name),
                self.put_failures.labels(name),
                self.put_latency.labels(name),
                self.bus_events.labels(name),
            )
        return found

    def rule(self, bus: str, rule: str) -> RuleSeries:
        """The series of rule *rule* of bus *bus* (made on first use)."""
        found = self._rules.get((bus, rule))
        if found is None:
            found = self._rules[(bus, rule)] = RuleSeries(
                *(
                    metric.labels(bus, rule)
                    for metric in (
                        self.matched,
                        self.triggered,
                        self.invocations,
                        self.failed,
                        self.attempts,
                        self.successful,
                        self.retries,
                        self.dead_letter,
                        self.throttled,
                        self.sent_to_dlq,
                        self.failed_to_dlq,
                        self.start_latency,
                        self.success_latency,
                    )
                )
            )
        return found

    def watch_store(self, store: Store) -> None:
        """Report the store's pending and dead deliveries, unrouted events and commit latency."""
        self._gauges.store = store
        store.observe_commits(self.commit_latency.observe)

    def watch(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Report ``busbar_<name>`` as a gauge, read when scraped."""
        self._gauges.readers[f"busbar_{name}"] = (help_text, read)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (reads the store: call off the event loop)."""
        return generate_latest(self.registry)

    def total(self, metric: Any, suffix: str = "_total") -> float:
        """The sum of *metric*'s samples ending in *suffix* over every label set (for the console)."""
        return float(sum(s.value for family in metric.collect() for s in family.samples if s.name.endswith(suffix)))


class _Gauges(Collector):
    """Gauges computed at scrape time: from the store, and from readers of live state."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.readers: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterable[Metric]:
        yield from self._store_gauges()
        for name, (help_text, read) in sorted(self.readers.items()):
            yield GaugeMetricFamily(name, help_text, value=read())

    def _store_gauges(self) -> Iterator[Metric]:
        if self.store is None:
            return
        labels = ["target_arn", "target_kind"]
        pending = GaugeMetricFamily("busbar_pending_deliveries", "Deliveries waiting to be sent.", labels=labels)
        dead = GaugeMetricFamily("busbar_dead_deliveries", "Dead deliveries kept for redrive.", labels=labels)
        for (state, lane), count in sorted(self.store.delivery_counts().items()):
            parsed = parse_target(lane)
            kind = parsed.kind.value if parsed is not None else "unknown"
            (pending if state == "pending" else dead).add_metric([lane, kind], count)
        yield pending
        yield dead
        yield GaugeMetricFamily(
            "busbar_unrouted_events", "Stored events the router has not matched yet.", value=self.store.unrouted()
        )
