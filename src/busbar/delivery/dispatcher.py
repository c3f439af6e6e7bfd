"""The dispatcher: sends every recorded delivery until it succeeds or is dead-lettered.

Deliveries arrive from the router (due now) or from the store, at start-up and
whenever the window below has room (due when their last failure said).  Worker
tasks send them concurrently through the sender of their target's kind.  Targets
with an invocation rate (API destinations) get a lane of their own, which releases
deliveries to the workers at that rate: throttled invocations are delayed, never
dropped, and a slow destination never holds the workers other targets need.  The
pieces around a send are small and separate: the
:class:`~busbar.delivery.retry.RetryPolicy` and :class:`~busbar.delivery.retry.Backoff`
decide whether and when to retry, :mod:`busbar.delivery.deadletter` what a dead
letter looks like.  Every change of a delivery's state is written to the store
before the next step, so a crash at any point resumes (at-least-once) instead of
losing the delivery.

Memory holds a bounded window of deliveries (``window``, counted by
:attr:`Dispatcher.held`); the store holds all of them.  When the window is full,
a delivery the router submits, or a retry due later, is *spilled*: it stays only
in the store, and from then on new work goes through the store too, so nothing
overtakes what waits there.  While deliveries are spilled, memory holds no retry
due later, only work that drains by itself; when it falls below half the window,
the soonest-due spilled deliveries are loaded back (a keyset scan over
``(due_at, id)`` that skips what memory holds), and once everything pending fits
in the window the dispatcher stops spilling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from busbar.delivery import deadletter
from busbar.delivery.base import Delivery, Outcome, Sender
from busbar.delivery.retry import Backoff, RetryPolicy, exhausted
from busbar.model.arns import TargetKind, parse_target
from busbar.ratelimit import TokenBucket
from busbar.resources.lookup import find_bus_by_arn
from busbar.store.base import NewDelivery, Store, StoredDelivery

log = logging.getLogger("busbar.delivery")

# Keys read per page while looking for spilled deliveries to load.
_SCAN_PAGE = 2000
# Full deliveries read per query (in a worker thread) while loading.
_LOAD_CHUNK = 500
# Shortest wait between two loads: retries that come due one by one are loaded in
# groups instead of one scan each.
_LOAD_GAP = 0.05


def delivery_of(record: StoredDelivery | NewDelivery, delivery_id: int | None = None) -> Delivery:
    """A delivery as the senders see it: from the store, or just recorded by the
    router (then with the id the store gave it, and no attempt made yet)."""
    if isinstance(record, StoredDelivery):
        delivery_id, attempts = record.id, record.attempts
    else:
        assert delivery_id is not None, "a just-recorded delivery needs its store id"
        attempts = 0
    return Delivery(
        id=delivery_id,
        to=parse_target(record.target["Arn"]),
        event_id=record.event_id,
        bus=record.bus,
        rule_name=record.rule_name,
        rule_arn=record.rule_arn,
        target=record.target,
        payload=record.payload if record.payload is not None else record.envelope,
        envelope=record.envelope,
        trace_header=record.trace_header,
        attempts=attempts,
        ingested_at=record.ingested_at,
        hops=record.hops,
        shaping_error=record.shaping_error,
    )


@dataclass
class _Lane:
    """Deliveries waiting for their destination's rate.  A lane outlives its queue,
    so its bucket is not refilled (and a burst granted again) each time it empties."""

    rate: float
    bucket: TokenBucket
    waiting: deque[Delivery] = field(default_factory=deque)
    pacing: bool = False


class Dispatcher:
    """Runs deliveries to completion: sent, or dead-lettered."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[TargetKind, Sender],
        *,
        backoff: Backoff | None = None,
        concurrency: int = 256,
        window: int = 50_000,
    ) -> None:
        if window < 1:
            raise ValueError("the delivery window must hold at least 1 delivery")
        self._store = store
        self._senders = dict(senders)
        self._backoff = backoff or Backoff()
        self._concurrency = concurrency
        self._ready: asyncio.Queue[Delivery] = asyncio.Queue()
        self._later: list[tuple[float, int, Delivery]] = []  # heap of (due, tie-breaker, delivery)
        self._tie = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.in_flight = 0
        # Successes are forgotten in batches: one store write for many deliveries.
        self._finished: list[int] = []
        self._flushing: asyncio.Task[None] | None = None
        self._lanes: dict[str, _Lane] = {}
        self._pacers: set[asyncio.Task[None]] = set()
        # The window.  An id stays held until the store has recorded what became of
        # it (finished, dead, or a retry spilled): until then the store still says
        # pending, and a load must not take it a second time.
        self._window = window
        self._low = max(1, window // 2)
        self._held: set[int] = set()
        self.peak_held = 0
        # Some pending deliveries may be in the store only.  Start-up assumes so.
        self._spilled = True
        self._spills = 0  # counts spills, so a load can tell whether one raced it
        self._next_due = 0.0  # the earliest due time of a spilled delivery (a lower bound)
        self._load_wake = asyncio.Event()
        # Ids released while a load reads the store: its rows may predate their release.
        self._released_in_load: set[int] | None = None

    async def start(self) -> None:
        """Load what the store holds (up to the window), then start the workers."""
        await self._load()
        self._tasks = [asyncio.create_task(self._work(), name=f"busbar-delivery-{n}") for n in range(self._concurrency)]
        self._tasks.append(asyncio.create_task(self._timer(), name="busbar-delivery-timer"))
        self._tasks.append(asyncio.create_task(self._loader(), name="busbar-delivery-loader"))

    async def stop(self, close_senders: bool = True) -> None:
        """Stop sending.  Deliveries not finished stay pending in the store."""
        for task in [*self._tasks, *self._pacers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._pacers, return_exceptions=True)
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        if self._finished:
            await self._store.finish_deliveries(self._finished)
        if close_senders:
            for sender in self._senders.values():
                await sender.close()

    def submit(self, deliveries: Iterable[Delivery]) -> None:
        """Deliveries due now (just recorded by the router, or redriven)."""
        for delivery in deliveries:
            if delivery.id in self._held:
                continue  # a load found it in the store between its commit and this call
            if self._spilled or len(self._held) >= self._window:
                self._spill(time.time())
                continue
            self._hold(delivery.id)
            self._enqueue(delivery)

    @property
    def backlog(self) -> int:
        """Deliveries waiting in memory: ready, paced, in flight, and scheduled for a
        retry.  Spilled deliveries (see :attr:`spilled`) are not counted."""
        paced = sum(len(lane.waiting) for lane in self._lanes.values())
        return self._ready.qsize() + paced + self.in_flight + len(self._later)

    @property
    def held(self) -> int:
        """Deliveries in memory, never more than the window (``peak_held`` is the most so far)."""
        return len(self._held)

    @property
    def spilled(self) -> bool:
        """Whether some pending deliveries are only in the store, waiting to be loaded."""
        return self._spilled

    def _hold(self, delivery_id: int) -> None:
        self._held.add(delivery_id)
        if len(self._held) > self.peak_held:
            self.peak_held = len(self._held)

    def _release(self, delivery_ids: Iterable[int]) -> None:
        """The store has recorded what became of these: memory may forget them."""
        if self._released_in_load is not None:
            delivery_ids = list(delivery_ids)
            self._released_in_load.update(delivery_ids)
        self._held.difference_update(delivery_ids)
        if self._spilled and len(self._held) < self._low:
            self._load_wake.set()

    def _spill(self, due_at: float, delivery_id: int | None = None) -> None:
        """Leave a delivery to the store alone; it is pending there, due at *due_at*."""
        self._spills += 1
        self._next_due = min(self._next_due, due_at)
        if not self._spilled:
            self._spilled = True
            # Retries due later must not keep the window from the deliveries due now
            # that wait in the store: they go back to it (their due time is stored).
            for later_due, _, delivery in self._later:
                self._next_due = min(self._next_due, later_due)
                self._held.discard(delivery.id)
            self._later.clear()
        if delivery_id is not None:
            self._release([delivery_id])
        elif len(self._held) < self._low:
            self._load_wake.set()

    def _enqueue(self, delivery: Delivery) -> None:
        """Hand a due delivery to the workers, through its rate lane if it has one."""
        sender = self._senders.get(delivery.to.kind) if delivery.to else None
        rate_of = getattr(sender, "rate_of", None)
        limit = rate_of(delivery) if rate_of is not None else None
        if limit is None:
            self._ready.put_nowait(delivery)
            return
        key, rate = limit
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(rate, TokenBucket(rate))
        elif lane.rate != rate:  # UpdateApiDestination changed the rate
            lane.rate, lane.bucket = rate, TokenBucket(rate)
        if not lane.waiting and lane.bucket.take(1):
            self._ready.put_nowait(delivery)  # the common case: within the rate, no task needed
            return
        lane.waiting.append(delivery)
        if not lane.pacing:
            lane.pacing = True
            pacer = asyncio.create_task(self._pace(lane), name=f"busbar-lane-{key}")
            self._pacers.add(pacer)
            pacer.add_done_callback(self._pacers.discard)

    async def _pace(self, lane: _Lane) -> None:
        try:
            while lane.waiting:
                if lane.bucket.take(1):
                    self._ready.put_nowait(lane.waiting.popleft())
                else:
                    await asyncio.sleep(lane.bucket.delay(1))
        finally:
            lane.pacing = False

    def _schedule(self, delivery: Delivery, due_at: float) -> None:
        """Send a held delivery when it is due: now, from the heap, or, when the window
        is full or deliveries are spilled, after the store gives it back."""
        if due_at <= time.time():
            self._enqueue(delivery)
            return
        if self._spilled or len(self._held) >= self._window:
            self._spill(due_at, delivery.id)
            return
        heapq.heappush(self._later, (due_at, next(self._tie), delivery))
        if self._later[0][2] is delivery:
            self._wake.set()

    async def _timer(self) -> None:
        while True:
            now = time.time()
            while self._later and self._later[0][0] <= now:
                self._enqueue(heapq.heappop(self._later)[2])
            timeout = self._later[0][0] - now if self._later else None
            await _woken_or_timed_out(self._wake, timeout)

    async def _work(self) -> None:
        while True:
            delivery = await self._ready.get()
            self.in_flight += 1
            try:
                await self._attempt(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug must not kill the worker; the delivery stays pending
                log.exception("delivery failed unexpectedly", extra={"delivery": delivery.id})
                if delivery.id in self._held and delivery.id not in self._finished:
                    self._spill(time.time(), delivery.id)  # the store still has it: try again from there
            finally:
                self.in_flight -= 1

    async def _loader(self) -> None:
        """Load spilled deliveries when memory has room and some are due."""
        while True:
            timeout = None
            if self._spilled and len(self._held) < self._low and self._next_due != float("inf"):
                timeout = self._next_due - time.time()
                if timeout <= 0:
                    try:
                        await self._load()
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - the deliveries stay in the store; try again
                        log.exception("loading pending deliveries failed")
                        self._next_due = min(self._next_due, time.time() + 1.0)
                    await asyncio.sleep(_LOAD_GAP)
                    continue
            await _woken_or_timed_out(self._load_wake, timeout)

    async def _load(self) -> None:
        """Fill the window from the store, soonest due first.

        When every pending delivery not in memory fits, all are loaded (those due
        later onto the heap) and spilling stops.  Otherwise only those due now are
        loaded, and the next due time is remembered for the next load.
        """
        spills = self._spills
        self._next_due = float("inf")  # spills during this load lower it again
        room = self._window - len(self._held)
        now = time.time()
        keys: list[tuple[float, int]] = []  # not held, soonest first; one more than fits tells "more"
        after: tuple[float, int] | None = None
        while room > 0 and len(keys) <= room:
            page = self._store.pending_schedule(after, _SCAN_PAGE)
            keys.extend(key for key in page if key[1] not in self._held)
            if len(page) < _SCAN_PAGE:
                break
            after = page[-1]
            await asyncio.sleep(0)  # a long scan must not hold up the loop
        fits = room > 0 and len(keys) <= room and self._spills == spills
        if fits:
            self._spilled = False  # from here a spill (even one racing this load) starts over
            wanted = keys
        else:
            wanted = list(itertools.takewhile(lambda key: key[0] <= now, keys[: max(room, 0)]))
            rest = keys[len(wanted)][0] if len(wanted) < len(keys) else now
            self._next_due = min(self._next_due, rest)
        released = self._released_in_load = set()
        try:
            for start in range(0, len(wanted), _LOAD_CHUNK):
                ids = [delivery_id for _, delivery_id in wanted[start : start + _LOAD_CHUNK]]
                for stored in await asyncio.to_thread(self._store.pending_by_id, ids):
                    # Held: submitted while this load read it.  Released: sent (or spilled,
                    # which a later load finds) after this read; the row is stale.
                    if stored.id in self._held or stored.id in released:
                        continue
                    if len(self._held) >= self._window:
                        self._spill(stored.due_at)  # the room went to submissions meanwhile
                        continue
                    self._hold(stored.id)
                    self._schedule(delivery_of(stored), stored.due_at)
        except BaseException:
            if not self._spilled:
                self._spill(now)  # what this load did not take is in the store only
            raise
        finally:
            self._released_in_load = None

    async def _attempt(self, delivery: Delivery) -> None:
        sender = self._senders.get(delivery.to.kind) if delivery.to else None
        if delivery.shaping_error is not None:
            outcome = Outcome.fail("InputTransformationFailed", delivery.shaping_error)
        elif sender is None:
            outcome = Outcome.fail("UnsupportedTarget", f"busbar cannot deliver to {delivery.target['Arn']}.")
        else:
            try:
                outcome = await sender.send(delivery)
            except Exception as error:  # noqa: BLE001 - a sender bug is a retryable failure, not a loss
                log.exception("sender raised", extra={"target": delivery.target["Arn"]})
                outcome = Outcome.retry("InternalError", f"busbar failed to send: {type(error).__name__}")
        if outcome.ok:
            self._finish(delivery.id)
            return
        attempts = delivery.attempts + 1
        policy = RetryPolicy.of(delivery.target)
        condition = None
        if outcome.retryable:
            delay = outcome.retry_after if outcome.retry_after is not None else self._backoff.delay(attempts)
            due_at = time.time() + delay
            # The first attempt is not a retry: attempts - 1 retries have been made.
            condition = exhausted(policy, attempts - 1, due_at - delivery.ingested_at)
            if condition is None:
                await self._store.retry_delivery(
                    delivery.id, attempts, due_at, outcome.error_code, outcome.error_message
                )
                self._schedule(_with_attempts(delivery, attempts), due_at)
                return
        await self._dead_letter(delivery, attempts, outcome, condition)

    def _finish(self, delivery_id: int) -> None:
        # A crash before the flush commits means the delivery is sent again after the
        # restart: at-least-once, as promised, and far fewer writes under load.
        self._finished.append(delivery_id)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                await self._store.finish_deliveries(batch)
            except Exception:  # noqa: BLE001 - still pending in the store: they will be sent again
                log.exception("recording finished deliveries failed", extra={"count": len(batch)})
                for delivery_id in batch:
                    self._spill(time.time(), delivery_id)
                continue
            self._release(batch)

    async def _dead_letter(self, delivery: Delivery, attempts: int, outcome: Outcome, condition: str | None) -> None:
        attrs = deadletter.attributes(delivery, attempts - 1, outcome.error_code, outcome.error_message, condition)
        forward = None
        arn = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        message = outcome.error_message
        if arn:
            found = find_bus_by_arn(self._store, arn)
            if found is not None:
                forward = deadletter.dead_letter_event(delivery, found[0], attrs, arn)
            else:
                message = f"{message} (dead-letter bus {arn} does not exist)"
        log.warning(
            "delivery dead-lettered",
            extra={
                "event_id": delivery.event_id,
                "rule": delivery.rule_arn,
                "target": delivery.target["Arn"],
                "error_code": outcome.error_code,
                "attempts": attempts,
                "condition": condition,
                "to": "bus" if forward else "store",
            },
        )
        await self._store.dead_letter(delivery.id, attempts, outcome.error_code, message, forward)
        self._release([delivery.id])


async def _woken_or_timed_out(wake: asyncio.Event, timeout: float | None) -> None:
    """Wait until ``wake`` is set from now on, or ``timeout`` seconds (None: no limit) pass."""
    wake.clear()
    try:
        await asyncio.wait_for(wake.wait(), timeout)
    except TimeoutError:
        pass


def _with_attempts(delivery: Delivery, attempts: int) -> Delivery:
    return dataclasses.replace(delivery, attempts=attempts)
