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

Counting costs the hot path an attribute increment: every count is made by one
thread (the event loop's; the store's commit latency by its writer thread), so the
series of each bus and each (bus, rule) are plain objects of integers, made once and
kept, with no lock (prometheus-client's own
metric classes take a lock per increment: several times the cost, measured in
``benchmarks/``).  prometheus-client turns them into its text format when
``/metrics`` is scraped, and the gauges that read the store are computed then too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from busbar.model.arns import parse_target
from busbar.store.base import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request latencies: half a millisecond to ten seconds.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From ingestion to a target: a millisecond to a day (retries last up to 24 hours).
DELIVERY_BUCKETS = (
    *(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    *(60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0),
)
COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

BUS = ["event_bus_name"]
RULE = ["event_bus_name", "rule_name"]


class Latency:
    """A histogram's state: counts per bucket (not cumulative), their sum and count."""

    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self.count += 1


class BusSeries:
    """The counts of one bus."""

    __slots__ = ("calls", "successes", "failures", "events", "latency")

    def __init__(self) -> None:
        self.calls = self.successes = self.failures = self.events = 0
        self.latency = Latency(REQUEST_BUCKETS)


class RuleSeries:
    """The counts of one rule of one bus."""

    __slots__ = (
        "matched",
        "triggered",
        "invocations",
        "failed",
        "attempts",
        "successful",
        "retries",
        "dead_letter",
        "throttled",
        "sent_to_dlq",
        "failed_to_dlq",
        "start_latency",
        "success_latency",
    )

    def __init__(self) -> None:
        self.matched = self.triggered = self.invocations = self.failed = self.attempts = 0
        self.successful = self.retries = self.dead_letter = self.throttled = 0
        self.sent_to_dlq = self.failed_to_dlq = 0
        self.start_latency = Latency(DELIVERY_BUCKETS)
        self.success_latency = Latency(DELIVERY_BUCKETS)


# (attribute, metric name without _total, help): the counters of each bus, then of each rule.
BUS_COUNTERS = (
    ("calls", "busbar_put_events_approximate_call_count", "PutEvents requests (AWS PutEventsApproximateCallCount)."),
    (
        "successes",
        "busbar_put_events_approximate_success_count",
        "PutEvents requests whose every entry was accepted (AWS PutEventsApproximateSuccessCount).",
    ),
    (
        "failures",
        "busbar_put_events_approximate_failed_count",
        "PutEvents requests with at least one failed entry (AWS PutEventsApproximateFailedCount).",
    ),
    ("events", "busbar_bus_events", "Events that reached the bus (put, forwarded, scheduled), counted when routed."),
)
RULE_COUNTERS = (
    ("matched", "busbar_matched_events", "Events that matched the rule (AWS MatchedEvents)."),
    ("triggered", "busbar_triggered_rules", "Times the rule ran for a matching event (AWS TriggeredRules)."),
    (
        "invocations",
        "busbar_invocations",
        "Targets invoked for an event, counted once the invocation ends: succeeded, or failed for good "
        "(AWS Invocations).",
    ),
    (
        "failed",
        "busbar_failed_invocations",
        "Invocations that failed permanently, retries exhausted or not retryable (AWS FailedInvocations).",
    ),
    ("attempts", "busbar_invocation_attempts", "Attempts to invoke a target (AWS InvocationAttempts)."),
    (
        "successful",
        "busbar_successful_invocation_attempts",
        "Attempts that invoked the target successfully (AWS SuccessfulInvocationAttempts).",
    ),
    ("retries", "busbar_retry_invocation_attempts", "Attempts that were retries (AWS RetryInvocationAttempts)."),
    (
        "dead_letter",
        "busbar_dead_letter_invocations",
        "Times a target was not invoked at all: a forward that would loop, an input that could not be shaped "
        "(AWS DeadLetterInvocations).",
    ),
    (
        "throttled",
        "busbar_throttled_rules",
        "Invocations delayed by the target's invocation rate limit (AWS ThrottledRules).",
    ),
    (
        "sent_to_dlq",
        "busbar_invocations_sent_to_dlq",
        "Dead letters sent to the target's DeadLetterConfig (AWS InvocationsSentToDlq).",
    ),
    (
        "failed_to_dlq",
        "busbar_invocations_failed_to_be_sent_to_dlq",
        "Dead letters whose DeadLetterConfig could not take them; kept as dead deliveries "
        "(AWS InvocationsFailedToBeSentToDlq).",
    ),
)
BUS_HISTOGRAMS = (
    (
        "latency",
        "busbar_put_events_latency_seconds",
        "Time to answer a PutEvents request, its events durable (AWS PutEventsLatency).",
    ),
)
RULE_HISTOGRAMS = (
    (
        "start_latency",
        "busbar_ingestion_to_invocation_start_latency_seconds",
        "From ingestion to the first attempt to invoke a target (AWS IngestiontoInvocationStartLatency).",
    ),
    (
        "success_latency",
        "busbar_ingestion_to_invocation_success_latency_seconds",
        "From ingestion to the successful invocation of a target (AWS IngestiontoInvocationSuccessLatency).",
    ),
)


class Metrics:
    """busbar's metrics in a registry of their own (one per server)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.buses: dict[str, BusSeries] = {}
        self.rules: dict[tuple[str, str], RuleSeries] = {}
        self._gauges = _Gauges()
        self.registry.register(_Series(self))
        self.registry.register(self._gauges)
        # Counted by the store's one writer thread (and only read elsewhere): no lock either.
        self.commit_latency = Latency(COMMIT_BUCKETS)

    def bus(self, name: str) -> BusSeries:
        """The series of bus *name* (made on first use)."""
        found = self.buses.get(name)
        if found is None:
            found = self.buses[name] = BusSeries()
        return found

    def rule(self, bus: str, rule: str) -> RuleSeries:
        """The series of rule *rule* of bus *bus* (made on first use)."""
        found = self.rules.get((bus, rule))
        if found is None:
            found = self.rules[(bus, rule)] = RuleSeries()
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

    def total(self, attribute: str) -> float:
        """The sum of a rule or bus counter over every label set (for the console's charts)."""
        table: Iterable[Any] = self.buses.values() if hasattr(BusSeries, attribute) else self.rules.values()
        return float(sum(getattr(series, attribute) for series in list(table)))

    def latency_total(self, attribute: str) -> tuple[float, int]:
        """(sum of seconds, count) of a rule's latency histogram over every rule."""
        series = [getattr(rule, attribute) for rule in list(self.rules.values())]
        return sum(s.sum for s in series), sum(s.count for s in series)


class _Series(Collector):
    """The counters and histograms of every bus and rule, in prometheus-client's families.
    Runs on whatever thread scrapes: it copies the tables first (``list`` of a dict is
    atomic in CPython), and may read a count one increment old."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        buses = sorted(list(self._metrics.buses.items()))
        rules = sorted(list(self._metrics.rules.items()))
        for attribute, name, help_text in BUS_COUNTERS:
            yield _counter(name, help_text, BUS, (((bus,), getattr(s, attribute)) for bus, s in buses))
        for attribute, name, help_text in BUS_HISTOGRAMS:
            yield _histogram(name, help_text, BUS, (((bus,), getattr(s, attribute)) for bus, s in buses))
        for attribute, name, help_text in RULE_COUNTERS:
            yield _counter(name, help_text, RULE, ((key, getattr(s, attribute)) for key, s in rules))
        for attribute, name, help_text in RULE_HISTOGRAMS:
            yield _histogram(name, help_text, RULE, ((key, getattr(s, attribute)) for key, s in rules))
        yield _histogram(
            "busbar_store_commit_latency_seconds",
            "Time one group commit of the store takes (many writes, one fsync).",
            [],
            [((), self._metrics.commit_latency)],
        )


def _counter(name: str, help_text: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], int]]) -> Metric:
    family = CounterMetricFamily(name, help_text, labels=labels)
    for key, value in values:
        family.add_metric(list(key), value)
    return family


def _histogram(
    name: str, help_text: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], Latency]]
) -> Metric:
    family = HistogramMetricFamily(name, help_text, labels=labels)
    for key, latency in values:
        counts, total, running = list(latency.counts), latency.sum, 0
        buckets = []
        for bound, count in zip((*latency.bounds, float("inf")), counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        family.add_metric(list(key), buckets, total)
    return family


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
