"""Retry policy and backoff: when to try a failed delivery again, and when to give up.

EventBridge retries a failed delivery with exponential backoff and jitter for up
to ``MaximumRetryAttempts`` retries (0-185, default 185) and while the event is
younger than ``MaximumEventAgeInSeconds`` (60-86400, default 86400); then the
delivery goes to the target's dead-letter queue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE = 86400

# AWS's names for why retrying stopped (the EXHAUSTED_RETRY_CONDITION attribute).
MAX_RETRIES_EXHAUSTED = "MaximumRetryAttempts"
MAX_AGE_EXHAUSTED = "MaximumEventAgeInSeconds"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A target's RetryPolicy with EventBridge's defaults filled in."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age: float = DEFAULT_MAX_AGE

    @classmethod
    def of(cls, target: dict[str, Any]) -> RetryPolicy:
        policy = target.get("RetryPolicy") or {}
        return cls(
            policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES),
            policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
        )


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: the n-th retry waits between half and all of
    ``min(cap, base * 2**(n-1))`` seconds, so retries spread out but never bunch at zero."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap, self.base * float(2 ** min(retry - 1, 62)))
        draw: float = rng.random() if rng is not None else random.random()
        return ceiling / 2 + draw * ceiling / 2


def exhausted(policy: RetryPolicy, retries_done: int, age_at_next_try: float) -> str | None:
    """Why no further retry is allowed, or None when one is."""
    if retries_done >= policy.max_retries:
        return MAX_RETRIES_EXHAUSTED
    if age_at_next_try >= policy.max_age:
        return MAX_AGE_EXHAUSTED
    return None
