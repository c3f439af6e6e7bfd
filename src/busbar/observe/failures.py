"""Failed deliveries in busbar's own log, at ``info``, without flooding it.

Every failed attempt is logged once, with its event, bus, rule, target, attempt
number, error and when the next attempt is due; every dead letter once more, at
``warning``.  A dead target fails every delivery of its lane, so lines are rationed
per target: a burst of ``burst`` lines, then ``per_minute`` a minute.  What the
ration holds back is counted, and the next line of that target says how many
(``suppressed``), so the log never hides that failures went on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from busbar.observe.shapes import DeliveryLike, OutcomeLike, delivery_fields
from busbar.ratelimit import TokenBucket

log = logging.getLogger("busbar.delivery")

BURST = 10
PER_MINUTE = 6.0


@dataclass
class _Ration:
    bucket: TokenBucket
    suppressed: int = 0
    first_suppressed_at: float = field(default=0.0)


class FailureLog:
    """Logs failed attempts and dead letters, rationed per target."""

    def __init__(self, burst: int = BURST, per_minute: float = PER_MINUTE) -> None:
        self._burst = burst
        self._rate = per_minute / 60.0
        self._rations: dict[str, _Ration] = {}

    def attempt_failed(self, delivery: DeliveryLike, outcome: OutcomeLike, attempt: int, due_at: float) -> None:
        """Attempt number *attempt* failed; the next one is due at *due_at* (epoch seconds)."""
        fields = self._admit(delivery)
        if fields is None:
            return
        fields.update(
            attempt=attempt,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            next_attempt_at=_iso(due_at),
        )
        log.info("delivery attempt failed", extra=fields)

    def dead_lettered(
        self, delivery: DeliveryLike, outcome: OutcomeLike, attempts: int, condition: str | None, to: str
    ) -> None:
        """The delivery was given up after *attempts* attempts; *to* says where it went
        ("bus": the DeadLetterConfig bus; "store": kept for ``busbar dead-letters``)."""
        fields = self._admit(delivery)
        if fields is None:
            return
        fields.update(
            attempts=attempts,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            condition=condition,
            to=to,
        )
        log.warning("delivery dead-lettered", extra=fields)

    def _admit(self, delivery: DeliveryLike) -> dict[str, Any] | None:
        """The fields of a line about *delivery*, or None when its target's ration is spent."""
        target = str(delivery.target.get("Arn"))
        ration = self._rations.get(target)
        if ration is None:
            ration = self._rations[target] = _Ration(TokenBucket(self._rate, burst=self._burst))
        if not ration.bucket.take(1):
            if not ration.suppressed:
                ration.first_suppressed_at = time.time()
            ration.suppressed += 1
            return None
        fields = delivery_fields(delivery)
        if ration.suppressed:
            fields["suppressed"] = ration.suppressed
            fields["suppressed_since"] = _iso(ration.first_suppressed_at)
            ration.suppressed = 0
        return fields


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int((epoch % 1) * 1000):03d}Z"
