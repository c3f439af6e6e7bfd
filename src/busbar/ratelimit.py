"""Token buckets: the rate limits of PutEvents and of API destinations' invocations."""

from __future__ import annotations

import time


class TokenBucket:
    """Allows *rate* units per second with bursts up to *burst* units.

    ``take(n)`` grants as many of *n* units as the bucket holds now (possibly 0)
    and never blocks: the caller fails or delays what was not granted.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self, wanted: int) -> int:
        """Grant up to *wanted* whole units now; return how many were granted."""
        self._refill()
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted

    def delay(self, wanted: float = 1) -> float:
        """Seconds until *wanted* units will be available (0 when they are now)."""
        self._refill()
        missing = wanted - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate
