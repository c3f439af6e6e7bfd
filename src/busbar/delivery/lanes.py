"""Lanes and fair scheduling: one target's trouble never holds up another's.

A *lane* is the work of one target (one target ARN): its deliveries in memory,
those being sent, and whether the store holds more of it.  Two shares keep lanes
apart:

* **the window** — memory holds at most ``window`` deliveries, and a lane at most its
  share of them (:meth:`Lanes.window_of`: the window divided by the lanes with work);
  the rest of its backlog waits in the store, so a dead target with a million
  pending deliveries holds no more memory than a healthy one.  When the window is
  full and a lane below its share needs room, lanes over their share (say, one that
  had the whole window to itself a moment ago) give their surplus back to the store
  (:meth:`Lanes.surplus`);
* **the workers** — a lane has at most its share of the sends in flight
  (:meth:`FairScheduler.cap`: the workers divided by one more than the lanes that
  have work, so that a share is always free for a lane that has none yet), and the
  scheduler serves lanes in turn: a target that hangs for its full timeout ties up
  its share only, and a healthy target's delivery waits for one turn at most.

A lane with an invocation rate (an API destination's ``InvocationRateLimitPerSecond``)
is served only when its token bucket allows: throttled invocations are delayed,
never dropped, and delaying them holds no worker.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from busbar.delivery.base import Delivery
from busbar.ratelimit import TokenBucket

# A lane loads from the store when it has room for at least this many deliveries (or
# its whole share), so that loads come in batches rather than one delivery at a time.
MIN_LOAD = 64


@dataclass(eq=False)
class Lane:
    """The work of one target in this node's memory."""

    key: str
    ready: deque[Delivery] = field(default_factory=deque)  # due, waiting for a worker
    held: set[int] = field(default_factory=set)  # every delivery id in memory: ready or in flight
    reserved: int = 0  # room promised to a take from the store still under way
    in_flight: int = 0
    # The store may hold due (or soon due) deliveries of this lane that memory does not.
    spilled: bool = False
    wake_at: float = float("inf")  # when the store's next delivery of this lane comes due
    bucket: TokenBucket | None = None
    cap: int | None = None  # the most deliveries it holds (a rated lane: what it sends in a few seconds)
    paced_at: float = float("-inf")  # when the target's rate was last looked up (monotonic)
    queued: bool = False  # in the scheduler's turn order
    parked: bool = False  # waiting for its token bucket
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # tells the lane's loader to look again
    loader: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return bool(self.ready) or self.in_flight > 0

    @property
    def idle(self) -> bool:
        """Nothing in memory and nothing known in the store: the lane may be forgotten."""
        return not self.held and not self.spilled


class Lanes:
    """Every lane of this node, and how the window is shared between them.  Change a
    lane's holdings only through these methods: they keep the count of active lanes."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("the delivery window must hold at least 1 delivery")
        self.window = window
        self._lanes: dict[str, Lane] = {}
        self._active: set[Lane] = set()  # lanes that are not idle
        self.held = 0  # deliveries in memory, over every lane
        self.reserved = 0  # room promised to takes from the store still under way
        self.peak_held = 0

    def get(self, key: str) -> Lane:
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(key)
        return lane

    def __iter__(self) -> Iterator[Lane]:
        return iter(list(self._lanes.values()))

    def window_of(self, lane: Lane) -> int:
        """The most deliveries *lane* may hold: an equal share of the window among the
        lanes with work (counting *lane*), and no more than its cap (a rated lane)."""
        active = len(self._active) + (lane not in self._active)
        share = max(1, self.window // active)
        return share if lane.cap is None else min(share, lane.cap)

    def room(self, lane: Lane) -> int:
        """How many more deliveries *lane* may hold within its share (the window as a
        whole may need :meth:`surplus` given back first)."""
        return max(0, self.window_of(lane) - len(lane.held) - lane.reserved)

    def free(self) -> int:
        """How many more deliveries the window holds."""
        return max(0, self.window - self.held - self.reserved)

    def surplus(self, wanted: int, newcomer: Lane) -> list[tuple[Lane, Delivery]]:
        """Take up to *wanted* deliveries out of the lanes holding more than their share
        once *newcomer* has one too, from the end of their ready queues (never one being
        sent), fullest lanes first; the caller gives them back to the store."""
        share = max(1, self.window // (len(self._active) + (newcomer not in self._active)))
        taken: list[tuple[Lane, Delivery]] = []
        for lane in sorted(self._active, key=lambda other: len(other.held), reverse=True):
            over = len(lane.held) - share
            while over > 0 and lane.ready and len(taken) < wanted:
                delivery = lane.ready.pop()
                self.release(lane, delivery.id)
                taken.append((lane, delivery))
                over -= 1
            if len(taken) >= wanted:
                break
        return taken

    def reserve(self, lane: Lane, count: int) -> None:
        """Promise *count* deliveries' room to a take of *lane* that awaits the store (other
        lanes' loaders run meanwhile); :meth:`unreserve` once it has admitted what it took."""
        lane.reserved += count
        self.reserved += count

    def unreserve(self, lane: Lane, count: int) -> None:
        lane.reserved -= count
        self.reserved -= count

    def hold(self, lane: Lane, delivery_id: int) -> None:
        if delivery_id not in lane.held:
            lane.held.add(delivery_id)
            self.held += 1
            self.peak_held = max(self.peak_held, self.held)
            self._active.add(lane)

    def release(self, lane: Lane, delivery_id: int) -> None:
        """Memory forgets a delivery (the store has recorded what became of it)."""
        if delivery_id in lane.held:
            lane.held.discard(delivery_id)
            self.held -= 1
            self._settle(lane)
            if lane.spilled:
                lane.wake.set()  # room for the lane's loader

    def spill(self, lane: Lane, due_at: float) -> None:
        """The store holds work of *lane* that memory does not, due at *due_at*."""
        lane.spilled = True
        lane.wake_at = min(lane.wake_at, due_at)
        self._active.add(lane)
        lane.wake.set()

    def drained(self, lane: Lane) -> None:
        """The store holds no work of *lane* beyond what memory holds."""
        lane.spilled = False
        lane.wake_at = float("inf")
        self._settle(lane)

    def _settle(self, lane: Lane) -> None:
        if lane.idle:
            self._active.discard(lane)


class FairScheduler:
    """Hands due deliveries to workers, lane by lane in turn, each lane within its share."""

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("delivery concurrency must be at least 1")
        self.concurrency = concurrency
        self._turns: deque[Lane] = deque()
        self._tickets: asyncio.Queue[None] = asyncio.Queue()  # one per entry of _turns: wakes one worker
        self._busy: set[Lane] = set()
        self.in_flight = 0
        # busbar.observe hook: told of each delivery that waits for its lane's token bucket.
        self.on_throttled: Callable[[Delivery], None] | None = None

    def cap(self) -> int:
        """The most sends one lane may have in flight now.  Sends already in flight are
        not taken back, so the share keeps one free for a lane that has no work yet:
        lanes that hang cannot hold every worker when a healthy one comes along."""
        return max(1, self.concurrency // (len(self._busy) + 1))

    def offer(self, lane: Lane) -> None:
        """*lane* may have work a worker can take: put it in the turn order if so."""
        if lane.busy:
            self._busy.add(lane)
        else:
            self._busy.discard(lane)
        if lane.queued or lane.parked or not lane.ready or lane.in_flight >= self.cap():
            return
        lane.queued = True
        self._turns.append(lane)
        self._tickets.put_nowait(None)

    async def next(self) -> tuple[Lane, Delivery]:
        """The next delivery to send (waits for one); the caller reports :meth:`done`."""
        while True:
            await self._tickets.get()
            if not self._turns:
                continue
            lane = self._turns.popleft()
            lane.queued = False
            if not lane.ready or lane.in_flight >= self.cap():
                continue  # its share changed while it waited its turn; offered again when it frees
            if lane.bucket is not None and not lane.bucket.take(1):
                self._park(lane)
                continue
            delivery = lane.ready.popleft()
            lane.in_flight += 1
            self.in_flight += 1
            self.offer(lane)  # back to the end of the turn order, if it has more within its share
            return lane, delivery

    def done(self, lane: Lane) -> None:
        """A send of *lane* ended."""
        lane.in_flight -= 1
        self.in_flight -= 1
        self.offer(lane)
        if len(self._busy) and lane not in self._busy:
            # A lane going quiet raises the others' share: let waiting lanes take their turn.
            for other in list(self._busy):
                self.offer(other)

    def _park(self, lane: Lane) -> None:
        """Wait for *lane*'s token bucket, holding no worker, then offer it again."""
        assert lane.bucket is not None
        lane.parked = True
        if self.on_throttled is not None:  # busbar.observe hook: ThrottledRules
            self.on_throttled(lane.ready[0])

        def unpark() -> None:
            lane.parked = False
            self.offer(lane)

        asyncio.get_running_loop().call_later(lane.bucket.delay(1), unpark)

    @property
    def waiting(self) -> int:
        """Deliveries due and waiting for a worker, over every lane."""
        return sum(len(lane.ready) for lane in self._busy)
