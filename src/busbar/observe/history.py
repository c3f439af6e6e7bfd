"""The last hour of a few metrics, for the console's charts.

Every ``every`` seconds the totals of some counters are sampled (off the hot path:
reading the registry); the console draws the rates between samples.  Nothing is
kept beyond an hour, nothing survives a restart: Prometheus is the place for more.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from busbar.observe.metrics import Metrics
from busbar.tasks import cancel_and_wait

EVERY = 10.0
KEEP = 3600.0


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    events: float  # events that reached a bus
    invocations: float
    failures: float  # failed attempts, and targets not invoked
    latency_sum: float  # ingestion to successful invocation, seconds
    latency_count: float


@dataclass(frozen=True, slots=True)
class Series:
    """One chart: its title, unit and points (epoch seconds, value)."""

    title: str
    unit: str
    points: list[tuple[float, float]]


class History:
    """Samples *metrics* every *every* seconds and keeps the last *keep* seconds."""

    def __init__(self, metrics: Metrics, every: float = EVERY, keep: float = KEEP) -> None:
        self._metrics = metrics
        self.every = every
        self._samples: deque[Sample] = deque(maxlen=int(keep / every) + 1)
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self._samples.append(self._read())

    def _read(self) -> Sample:
        m = self._metrics
        latency_sum, latency_count = m.latency_total("success_latency")
        return Sample(
            at=time.time(),
            events=m.total("events"),
            invocations=m.total("invocations"),
            failures=m.total("attempts") - m.total("successful") + m.total("dead_letter"),
            latency_sum=latency_sum,
            latency_count=latency_count,
        )

    def series(self) -> list[Series]:
        """Events in, invocations and failures per second, and the mean latency (ms) of
        successful invocations, between consecutive samples, plus one up to now."""
        samples = [*self._samples, self._read()]
        events, invocations, failures, latency = [], [], [], []
        for before, after in zip(samples, samples[1:], strict=False):
            span = max(after.at - before.at, 1e-9)
            events.append((after.at, (after.events - before.events) / span))
            invocations.append((after.at, (after.invocations - before.invocations) / span))
            failures.append((after.at, (after.failures - before.failures) / span))
            count = after.latency_count - before.latency_count
            mean = (after.latency_sum - before.latency_sum) / count * 1000 if count else 0.0
            latency.append((after.at, mean))
        return [
            Series("Events in", "events/s", events),
            Series("Invocations", "invocations/s", invocations),
            Series("Failures", "failed attempts/s", failures),
            Series("Latency", "ms, ingestion to success (mean)", latency),
        ]

    async def start(self) -> None:
        self.sample()
        self._task = asyncio.create_task(self._run(), name="busbar-metrics-history")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.sample()
