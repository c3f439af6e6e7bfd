"""What delivery works with: a delivery, its outcome, and the sender interface.

A *delivery* is one (event, target) pair the router recorded durably.  The
dispatcher hands it to the :class:`Sender` of the target's kind (API destination,
event bus, log group); the sender tries once and answers an :class:`Outcome`.
Retries, backoff, event age, rate limits and dead-lettering are the dispatcher's
business, never the sender's — a sender only says whether a failure is worth
retrying and, when the target said so, how long to wait (``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from busbar.model.arns import TargetArn


@dataclass(slots=True)
class Delivery:
    """One event on its way to one target of one rule (made for every delivery: a plain
    slotted dataclass, cheaper to make than a frozen one; never change one)."""

    id: int  # the store's id of this delivery
    event_id: str
    bus: str  # the bus whose rule matched
    rule_name: str
    rule_arn: str
    target: dict[str, Any]  # the target as PutTargets stored it (Id, Arn, RetryPolicy, HttpParameters, ...)
    to: TargetArn | None  # the target's ARN, parsed (None: a kind this busbar does not deliver to)
    payload: bytes  # the body to send: the event, or what Input/InputPath/InputTransformer made of it
    envelope: bytes  # the original event (for dead letters and bus targets)
    trace_header: str | None  # travels to HTTP targets as X-Amzn-Trace-Id
    attempts: int  # attempts made before this one
    ingested_at: float  # epoch seconds PutEvents accepted the event (for MaximumEventAgeInSeconds)
    hops: int = 0  # bus-to-bus forwards the event made before this delivery
    shaping_error: str | None = None  # why the input could not be shaped (then nothing is sent)
    budget: int = 0  # events that may still descend from this one through bus-to-bus forwards


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt."""

    ok: bool
    retryable: bool = False
    error_code: str = ""
    error_message: str = ""
    retry_after: float | None = None  # seconds the target asked us to wait

    @classmethod
    def success(cls) -> Outcome:
        return _SUCCESS

    @classmethod
    def retry(cls, code: str, message: str, retry_after: float | None = None) -> Outcome:
        return cls(False, True, code, message, retry_after)

    @classmethod
    def fail(cls, code: str, message: str) -> Outcome:
        return cls(False, False, code, message)


_SUCCESS = Outcome(True)


class Sender(Protocol):
    """Delivers to one kind of target."""

    async def send(self, delivery: Delivery) -> Outcome:
        """Try once; never raise for a failure of the target (answer an Outcome)."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class RateLimitedSender(Sender, Protocol):
    """A sender whose targets have an invocation rate (API destinations)."""

    def rate_of(self, target_arn: str) -> float | None:
        """Invocations per second the target *target_arn* accepts (for the whole cluster),
        or None when unlimited."""
        ...
