"""What becomes of an attempt: finished, retried later, or dead-lettered — recorded
in the store before memory forgets the delivery.

* A success is forgotten in batches (one store write for many); a crash before the
  batch commits sends those deliveries again after the restart (at-least-once, as
  promised, and far fewer writes under load).
* A retryable failure is tried again after the target's ``Retry-After`` or an
  exponential backoff with jitter (:class:`~busbar.delivery.retry.Backoff`), within
  the target's :class:`~busbar.delivery.retry.RetryPolicy`; when the policy is
  exhausted, or the failure is not retryable, the delivery is dead-lettered.
* A dead letter goes to the target's ``DeadLetterConfig``: an SQS queue (with
  ``--aws-targets``) as a new delivery, or a bus as an event
  (:mod:`busbar.delivery.deadletter`); without one, it stays in the store as a dead
  delivery for ``busbar dead-letters``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from busbar.delivery import deadletter
from busbar.delivery.base import Delivery, Outcome
from busbar.delivery.retry import Backoff, RetryPolicy, exhausted
from busbar.model.arns import TargetKind, parse_target
from busbar.observe import Observer
from busbar.resources.lookup import find_bus_by_arn
from busbar.store.base import NewDelivery, NewEvent, Store

# How long successes gather before one commit records them: sends of one batch finish
# a moment apart (a lane sends only its share at once), and one commit for all of them
# costs the writer far less than one for each wave.
GATHER = 0.002

log = logging.getLogger("busbar.delivery")


class Outcomes:
    """Records outcomes in the store.  *forget* is told the deliveries memory may drop
    (their outcome is stored); *resend* those whose success could not be recorded
    (still pending in the store: they are sent again)."""

    def __init__(
        self,
        store: Store,
        backoff: Backoff,
        forget: Callable[[Sequence[Delivery]], None],
        resend: Callable[[Sequence[Delivery]], None],
        observer: Observer | None = None,
        queues: bool = False,
    ) -> None:
        self._store = store
        self._queues = queues  # SQS queues are delivered to (--aws-targets): they may take dead letters
        self._observer = observer or Observer()  # busbar.observe: invocation metrics, failure logs, bus logs
        # A dead letter on its way to a queue is no invocation of its rule (AWS counts it when
        # it is handed over, as InvocationsSentToDlq): only its failures are logged.
        self._dead_letters = Observer(failures=self._observer.failures)
        self._backoff = backoff
        self._forget = forget
        self._resend = resend
        self._finished: list[Delivery] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, delivery: Delivery, outcome: Outcome, started: float | None = None) -> float | None:
        """Record *outcome* of the attempt begun at *started* (epoch seconds); answer when a
        retry is due (None: finished or dead)."""
        if outcome.ok:
            self.finish(delivery, started)
            return None
        attempts = delivery.attempts + 1
        condition = None
        if outcome.retryable:
            delay = outcome.retry_after if outcome.retry_after is not None else self._backoff.delay(attempts)
            due_at = time.time() + delay
            # The first attempt is not a retry: attempts - 1 retries have been made.
            condition = exhausted(RetryPolicy.of(delivery.target), attempts - 1, due_at - delivery.ingested_at)
            if condition is None:
                await self._store.retry_delivery(
                    delivery.id, attempts, due_at, outcome.error_code, outcome.error_message
                )
                self._observing(delivery).retrying(delivery, outcome, attempts, due_at, started)  # busbar.observe
                return due_at
        await self._dead_letter(delivery, attempts, outcome, condition, started)
        return None

    def finish(self, delivery: Delivery, started: float | None = None) -> None:
        """Note a success of the attempt begun at *started*; it is recorded with the next batch."""
        self._observing(delivery).succeeded(delivery, started)  # busbar.observe hook
        self._finished.append(delivery)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(GATHER)
        while self._finished:
            batch, self._finished = self._finished, []
            ids = [delivery.id for delivery in batch]
            try:
                await self._store.finish_deliveries(ids)
            except Exception:  # noqa: BLE001 - still pending in the store: they will be sent again
                log.exception(
                    "recording finished deliveries failed",
                    extra={"count": len(batch), "event_ids": [d.event_id for d in batch[:10]]},
                )
                await self._store.release(ids)
                self._resend(batch)
                continue
            self._forget(batch)

    async def flush(self) -> None:
        """Record every success noted so far (at shutdown)."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        if self._finished:
            await self._flush()

    async def _dead_letter(
        self, delivery: Delivery, attempts: int, outcome: Outcome, condition: str | None, started: float | None
    ) -> None:
        attrs = deadletter.attributes(delivery, attempts - 1, outcome.error_code, outcome.error_message, condition)
        forward: NewEvent | NewDelivery | None = None
        arn = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        message = outcome.error_message
        if arn and self._queues and _is_queue(arn):
            forward = deadletter.dead_letter_delivery(delivery, attrs, arn)
        elif arn:
            found = find_bus_by_arn(self._store, arn)
            if found is not None:
                forward = deadletter.dead_letter_event(delivery, found[0], attrs, arn)
            else:
                message = f"{message} (dead-letter bus {arn} does not exist)"
        await self._store.dead_letter(delivery.id, attempts, outcome.error_code, message, forward)
        # busbar.observe hook: logs the dead letter (rationed per target) and counts it.
        self._observing(delivery).dead_lettered(
            delivery, outcome, attempts, condition, started, dlq=arn, sent=bool(forward)
        )

    def _observing(self, delivery: Delivery) -> Observer:
        return self._dead_letters if deadletter.ATTRIBUTES in delivery.target else self._observer


def _is_queue(arn: str) -> bool:
    to = parse_target(arn)
    return to is not None and to.kind is TargetKind.SQS
