"""The dispatcher: sends every recorded delivery until it succeeds or is dead-lettered.

It composes small parts, each with one job:

* :mod:`busbar.delivery.lanes` — one lane per target, each with its share of the
  in-memory window and of the workers, served in turn (so one target's trouble
  never holds up another's), and paced by its invocation rate;
* a *loader* per lane with work in the store — it takes the lane's due deliveries
  from the store when the lane has room, and sleeps until the next one comes due;
* workers — they send the deliveries the scheduler hands out, through the
  :class:`~busbar.delivery.base.Sender` of the target's kind;
* :mod:`busbar.delivery.outcomes` — it records what became of each attempt.

Deliveries reach a lane in two ways: the router hands over those it just recorded
(when the store can lease them to this node at once, and the lane has room), and
the lane's loader takes the rest from the store.  Memory never holds more than the
window; the store holds everything.  A retry always goes back to the store, due at
its next attempt, and is taken again by its lane's loader then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from busbar.delivery.base import Delivery, Outcome, RateLimitedSender, Sender
from busbar.delivery.lanes import MIN_LOAD, FairScheduler, Lane, Lanes
from busbar.delivery.outcomes import Outcomes
from busbar.delivery.retry import Backoff
from busbar.model.arns import TargetKind, parse_target
from busbar.observe import Observer
from busbar.observe.shapes import delivery_fields
from busbar.ratelimit import TokenBucket
from busbar.store.base import NewDelivery, Store, StoredDelivery
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.delivery")

# Seconds of sending a lane with an invocation rate holds in memory at most.
RATED_HOLD = 2.0
# Shortest wait between two loads of one lane: retries that come due one by one are
# loaded in groups instead of one store read each.
_LOAD_GAP = 0.05


def delivery_of(record: StoredDelivery | NewDelivery, delivery_id: int | None = None) -> Delivery:
    """A delivery as the senders see it: from the store, or just recorded by the router
    (then with the id the store gave it, and no attempt made yet)."""
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
        budget=record.budget,
    )


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
        observer: Observer | None = None,
    ) -> None:
        self._store = store
        self._capabilities = store.capabilities
        self._senders = dict(senders)
        # The senders whose targets have an invocation rate, by kind.
        self._rated = {kind: sender for kind, sender in self._senders.items() if isinstance(sender, RateLimitedSender)}
        self.lanes = Lanes(window)
        self._scheduler = FairScheduler(concurrency)
        self._outcomes = Outcomes(
            store, backoff or Backoff(), self._forget, self._resend, observer, queues=TargetKind.SQS in self._senders
        )
        if observer is not None:  # busbar.observe hook: ThrottledRules
            self._scheduler.on_throttled = observer.throttled
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the workers, and a loader for every lane the store holds work of."""
        self._running = True
        self._store.on_lane_work(self._work_in_store)
        self._tasks = [
            asyncio.create_task(self._work(), name=f"busbar-delivery-{n}") for n in range(self._scheduler.concurrency)
        ]
        self._work_in_store(self._store.lanes_with_work())

    async def stop(self, close_senders: bool = True) -> None:
        """Stop sending.  Deliveries not finished stay pending in the store."""
        self._running = False
        loaders = [lane.loader for lane in self.lanes if lane.loader is not None]
        await cancel_and_wait([*self._tasks, *loaders])
        await self._outcomes.flush()
        # What memory still holds is pending in the store: let it be taken (by another node) at once.
        await self._store.release([delivery_id for lane in self.lanes for delivery_id in lane.held])
        if close_senders:
            for sender in self._senders.values():
                await sender.close()

    # -- what memory holds ---------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Deliveries in memory: due and waiting for a worker, or being sent."""
        return self._scheduler.waiting + self._scheduler.in_flight

    @property
    def held(self) -> int:
        """Deliveries in memory, never more than the window (``lanes.peak_held`` is the most so far)."""
        return self.lanes.held

    @property
    def spilled(self) -> bool:
        """Whether some lanes have due or pending deliveries in the store that memory does not hold."""
        return any(lane.spilled for lane in self.lanes)

    # -- deliveries coming in ------------------------------------------------------
    async def submit(self, deliveries: Iterable[Delivery]) -> None:
        """Deliveries due now, just recorded by the router and leased to this node: held
        when their lane has room, else given back to the store for the lane's loader."""
        declined: list[int] = []
        lanes = self.lanes
        for delivery in deliveries:
            lane = lanes.get(delivery.target["Arn"])
            if not lane.spilled and len(lane.held) < lanes.window_of(lane) and lanes.held < lanes.window:
                self._admit(lane, delivery)  # the common case: room in the lane and in the window
                continue
            if lane.spilled or await self._room(lane, 1) <= 0:
                # Memory is full for this lane, or older work of it waits in the store:
                # nothing may overtake that work, so this one waits there too.
                declined.append(delivery.id)
                self.lanes.spill(lane, time.time())
                self._ensure_loader(lane)
                continue
            self._admit(lane, delivery)
        if declined:
            await self._store.release(declined)

    async def _room(self, lane: Lane, wanted: int) -> int:
        """Room for up to *wanted* more deliveries in *lane*: within its share, and within
        the window, which lanes over their share make by giving their surplus back."""
        room = min(wanted, self.lanes.room(lane))
        if room > self.lanes.free():
            surplus = self.lanes.surplus(room - self.lanes.free(), lane)
            if surplus:
                now = time.time()
                for other, _ in surplus:
                    self.lanes.spill(other, now)
                    self._ensure_loader(other)
                await self._store.release([delivery.id for _, delivery in surplus])
        return min(room, self.lanes.free())

    def _work_in_store(self, lanes: AbstractSet[str]) -> None:
        """The store says these lanes may have due work memory does not hold."""
        now = time.time()
        for key in lanes:
            lane = self.lanes.get(key)
            self.lanes.spill(lane, now)
            self._ensure_loader(lane)

    def _admit(self, lane: Lane, delivery: Delivery) -> None:
        self.lanes.hold(lane, delivery.id)
        self._pace(lane)
        lane.ready.append(delivery)
        self._scheduler.offer(lane)

    def _pace(self, lane: Lane) -> None:
        """Give *lane* the token bucket of its target's invocation rate (shared by the nodes),
        looked up again at most once a second (UpdateApiDestination may change it)."""
        now = time.monotonic()
        if now - lane.paced_at < 1.0:
            return
        lane.paced_at = now
        to = parse_target(lane.key)
        sender = self._rated.get(to.kind) if to is not None else None
        limit = sender.rate_of(lane.key) if sender is not None else None
        if limit is None:
            lane.bucket = None
            lane.cap = None
            return
        nodes = max(1, self._capabilities.nodes())
        rate = limit / nodes
        if lane.bucket is None or lane.bucket.rate != rate:  # new, or UpdateApiDestination changed it
            # Alone, a second's burst; with other nodes a fifth of one, so that the nodes'
            # bursts together keep the cluster's sum near its limit in any window.
            lane.bucket = TokenBucket(rate, None if nodes == 1 else max(1.0, rate / 5))
        # With other nodes, hold no more than this one sends in a few seconds: the rest waits
        # in the store, where the others (each sending its share of the rate) take it too.
        lane.cap = max(1, math.ceil(rate * RATED_HOLD)) if nodes > 1 else None

    # -- loading from the store ----------------------------------------------------
    def _ensure_loader(self, lane: Lane) -> None:
        lane.wake.set()
        if self._running and (lane.loader is None or lane.loader.done()):
            lane.loader = asyncio.create_task(self._load(lane), name=f"busbar-lane-loader-{lane.key}")

    async def _load(self, lane: Lane) -> None:
        """Keep *lane* filled from the store while the store holds work of it."""
        # Python 3.11's wait_for may swallow a cancellation that comes as its wait ends:
        # stop() also says so through _running.
        while lane.spilled and self._running:
            lane.wake.clear()
            self._pace(lane)  # a rated lane holds only what it sends soon: known before its first take
            room = self.lanes.room(lane)
            due = lane.wake_at <= time.time()
            if due and room > 0 and (room >= min(MIN_LOAD, self.lanes.window_of(lane)) or not lane.held):
                room = await self._room(lane, room)
                if (room <= 0 or not await self._take(lane, room)) and lane.spilled:
                    # Everything due is in memory: let retries that come due one by one gather.
                    # Or the window is full of deliveries being sent (or being taken by other
                    # lanes' loaders): look again in a moment, or when told of new work, never
                    # in a loop that does not yield.
                    with contextlib.suppress(TimeoutError):  # (news that came during the take counts)
                        await asyncio.wait_for(lane.wake.wait(), _LOAD_GAP)
                continue
            # Due but short of room: wait for deliveries to leave memory (that wakes the lane).
            timeout = None if due or lane.wake_at == float("inf") else lane.wake_at - time.time()
            try:
                await asyncio.wait_for(lane.wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _take(self, lane: Lane, room: int) -> bool:
        """Fill *lane* with up to *room* due deliveries; answer whether it took all it had
        room for (then more may be due)."""
        self.lanes.reserve(lane, room)  # a cluster store's take awaits the network: other lanes load meanwhile
        try:
            taken = await self._store.take(lane.key, room)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the deliveries stay in the store; try again
            log.exception("loading pending deliveries failed", extra={"target": lane.key})
            lane.wake_at = time.time() + 1.0
            return False
        finally:
            self.lanes.unreserve(lane, room)
        for stored in taken:
            self._admit(lane, delivery_of(stored))
        if len(taken) >= room:
            return True
        # Everything due now is in memory; sleep until the next one comes due.
        next_due = self._store.next_due(lane.key)
        if next_due is None:
            self.lanes.drained(lane)
        else:
            lane.wake_at = next_due
        return False

    # -- sending -------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            lane, delivery = await self._scheduler.next()
            try:
                await self._attempt(lane, delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug must not kill the worker; the delivery stays pending
                log.exception("delivery failed unexpectedly", extra=delivery_fields(delivery))
                await self._store.release([delivery.id])
                self._resend([delivery])
            finally:
                self._scheduler.done(lane)

    async def _attempt(self, lane: Lane, delivery: Delivery) -> None:
        started = time.time()
        outcome = await self._send(delivery)
        if outcome.ok:
            self._outcomes.finish(delivery, started)  # recorded in a batch; memory forgets it then
            return
        due_at = await self._outcomes.record(delivery, outcome, started)
        if due_at is not None:
            # The retry waits in the store; the lane's loader takes it again when due.
            self.lanes.release(lane, delivery.id)
            self.lanes.spill(lane, due_at)
            self._ensure_loader(lane)
        elif not outcome.ok:
            self.lanes.release(lane, delivery.id)  # dead-lettered: recorded already

    async def _send(self, delivery: Delivery) -> Outcome:
        if delivery.shaping_error is not None:
            return Outcome.fail("InputTransformationFailed", delivery.shaping_error)
        sender = self._senders.get(delivery.to.kind) if delivery.to else None
        if sender is None:
            return Outcome.fail("UnsupportedTarget", f"busbar cannot deliver to {delivery.target['Arn']}.")
        try:
            return await sender.send(delivery)
        except Exception as error:  # noqa: BLE001 - a sender bug is a retryable failure, not a loss
            log.exception("sender raised", extra=delivery_fields(delivery))
            return Outcome.retry("InternalError", f"busbar failed to send: {type(error).__name__}")

    # -- outcomes told back --------------------------------------------------------
    def _forget(self, deliveries: Sequence[Delivery]) -> None:
        """Their success is stored: memory may forget them."""
        for delivery in deliveries:
            lane = self.lanes.get(delivery.target["Arn"])
            self.lanes.release(lane, delivery.id)
            if lane.spilled:
                lane.wake.set()  # room for the loader

    def _resend(self, deliveries: Sequence[Delivery]) -> None:
        """Still pending in the store (their outcome could not be recorded): take them again."""
        now = time.time()
        for delivery in deliveries:
            lane = self.lanes.get(delivery.target["Arn"])
            self.lanes.release(lane, delivery.id)
            self.lanes.spill(lane, now + 1.0)
            self._ensure_loader(lane)
