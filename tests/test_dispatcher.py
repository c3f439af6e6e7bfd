"""The dispatcher against a real HTTP target (tests/httptarget.py) and every store
backend: the window holds, every delivery arrives, and one target's trouble (down,
hanging, a huge backlog) never holds up another target.

Assertions are on counts and order, never on wall time: "the healthy target got
everything before the hanging one's first timeout", not "within 100 ms".
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from busbar.api import connections, destinations
from busbar.api.context import Context
from busbar.config import Settings
from busbar.delivery.base import Delivery
from busbar.delivery.dispatcher import Dispatcher, delivery_of
from busbar.delivery.http import HttpSender
from busbar.delivery.lanes import FairScheduler, Lanes
from busbar.delivery.retry import Backoff
from busbar.model.arns import TargetKind
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.base import NewDelivery, Store
from busbar.store.memory import MemoryStore
from busbar.store.nats import NatsOptions, NatsStore
from busbar.store.sqlite import SqliteStore

from httptarget import HttpTarget, Reply
from nats_support import drop_streams, nats_options

WINDOW = 20
SCOPE = Scope("000000000000", "us-east-1")
BACKENDS = ["sqlite", "memory", "memory-take-only", "nats", "nats-cluster"]


@dataclass(frozen=True)
class Backend:
    kind: str
    nats: NatsOptions | None = None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    kind: str = request.param
    options = nats_options(request, kind) if kind.startswith("nats") else None
    yield Backend(kind, options)
    if options is not None:
        drop_streams(options)


def make_store(backend: Backend | str, data_dir: Path) -> Store:
    backend = backend if isinstance(backend, Backend) else Backend(backend)
    if backend.nats is not None:
        return NatsStore(backend.nats)
    if backend.kind == "sqlite":
        return SqliteStore(data_dir, sync="normal")
    return MemoryStore(handoff=backend.kind == "memory")


class Rig:
    """A store with API destinations on the target, and a dispatcher made on demand."""

    def __init__(self, store: Store, data_dir: Path, target: HttpTarget, sender_timeout: float) -> None:
        self.store = store
        self.ctx = Context(settings=Settings(data_dir=data_dir), store=store, rules=RuleIndex(), scope=SCOPE)
        self.target = target
        self.sender_timeout = sender_timeout
        self.sender: HttpSender

    async def destination(self, path: str, rate: int = 10_000) -> str:
        name = f"c-{uuid.uuid4().hex[:8]}"
        auth = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}}
        created = await connections.create_connection(
            self.ctx, {"Name": name, "AuthorizationType": "API_KEY", "AuthParameters": auth}
        )
        body = {
            "Name": f"d-{uuid.uuid4().hex[:8]}",
            "ConnectionArn": created["ConnectionArn"],
            "InvocationEndpoint": self.target.url + path,
            "HttpMethod": "POST",
            "InvocationRateLimitPerSecond": rate,
        }
        return str((await destinations.create_api_destination(self.ctx, body))["ApiDestinationArn"])

    async def route(self, dispatcher: Dispatcher, arn: str, numbers: range, batch: int = 50) -> None:
        """Record deliveries (one per number, named in the payload) in batches, as the router
        does, and hand them over when the store leases them at once."""
        for start in range(numbers.start, numbers.stop, batch):
            found = [
                NewDelivery(
                    event_id=f"e{n}",
                    bus="b",
                    rule_name="r",
                    rule_arn="arn:aws:events:us-east-1:0:rule/r",
                    target={"Id": "t", "Arn": arn},
                    envelope=b"{}",
                    payload=json.dumps({"n": n}).encode(),
                    trace_header=None,
                    ingested_at=time.time(),
                )
                for n in range(start, min(start + batch, numbers.stop))
            ]
            ids = await self.store.record_deliveries(found, [])
            if self.store.capabilities.handoff:
                await dispatcher.submit(delivery_of(d, i) for i, d in zip(ids, found, strict=True))

    def dispatcher(self, base_delay: float = 0.02, concurrency: int = 8, window: int = WINDOW) -> Dispatcher:
        return Dispatcher(
            self.store,
            {TargetKind.API_DESTINATION: self.sender},
            backoff=Backoff(base_delay, max(base_delay, 0.2)),
            concurrency=concurrency,
            window=window,
        )


def run(
    backend: Backend | str,
    tmp_path: Path,
    target: HttpTarget,
    body: Callable[[Rig], Awaitable[None]],
    timeout: float = 5.0,
) -> None:
    async def main() -> None:
        rig = Rig(make_store(backend, tmp_path / "data"), tmp_path / "data", target, timeout)
        await rig.store.start()
        rig.sender = HttpSender(rig.store, rig.ctx.settings, secrets=rig.ctx.secrets, timeout=timeout)
        try:
            await body(rig)
        finally:
            await rig.sender.close()
            await rig.store.close()

    asyncio.run(main())


def numbers_at(target: HttpTarget, path: str) -> Counter[int]:
    return Counter(request.json()["n"] for request in target.requests_to(path))


async def settle(rig: Rig, dispatcher: Dispatcher, window: int = WINDOW, timeout: float = 20.0) -> None:
    """Wait until nothing is pending in the store, checking the window all along."""
    deadline = time.monotonic() + timeout
    while rig.store.pending_count():
        assert dispatcher.held <= window
        assert time.monotonic() < deadline, f"{rig.store.pending_count()} deliveries still pending"
        await asyncio.sleep(0.02)


def test_a_healthy_target_gets_everything_exactly_once(backend, tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path)
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            await rig.route(dispatcher, arn, range(400))
            await settle(rig, dispatcher)
            # A store that cannot tell what is due (a cluster's) lets the lane find out by taking.
            deadline = time.monotonic() + 5
            while dispatcher.spilled and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.lanes.peak_held <= WINDOW
        assert not dispatcher.spilled and dispatcher.held == 0

    run(backend, tmp_path, target, body)
    assert numbers_at(target, path) == Counter(range(400))


def test_a_target_that_fails_then_recovers_gets_everything(backend, tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"
    failures = 250
    target.script(path, *[Reply(503)] * failures)

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path)
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            await rig.route(dispatcher, arn, range(300))
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.lanes.peak_held <= WINDOW

    run(backend, tmp_path, target, body)
    answered_ok = target.requests_to(path)[failures:]  # the script answered 503 first, then 200
    assert Counter(request.json()["n"] for request in answered_ok) == Counter(range(300))


def test_deliveries_due_now_pass_retries_due_later(backend, tmp_path, target):
    """A target that is down fills the store with retries due later; another target's
    deliveries, due now, all arrive before the first of those retries, and the retries
    are sent when due."""
    down, up = f"/w/{uuid.uuid4().hex[:8]}", f"/w/{uuid.uuid4().hex[:8]}"
    target.script(down, *[Reply(503)] * 60)

    async def body(rig: Rig) -> None:
        down_arn, up_arn = await rig.destination(down), await rig.destination(up)
        dispatcher = rig.dispatcher(base_delay=5.0)  # room for a loaded machine: order, not speed
        await dispatcher.start()
        try:
            await rig.route(dispatcher, down_arn, range(60))
            await asyncio.to_thread(target.wait_for, 60, down)  # all 60 failed once; their retries are 2.5 to 5 s away
            await rig.route(dispatcher, up_arn, range(100, 200))
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)

    run(backend, tmp_path, target, body)
    assert numbers_at(target, up) == Counter(range(100, 200))
    retries = target.requests_to(down)[60:]
    assert Counter(r.json()["n"] for r in retries) == Counter(range(60))
    assert max(r.at for r in target.requests_to(up)) < min(r.at for r in retries)


@pytest.mark.parametrize("backend", ["sqlite", "memory-take-only"])
def test_start_up_with_more_pending_than_the_window(backend, tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path)
        starter = rig.dispatcher()  # records only: not started
        await rig.route(starter, arn, range(250))
        await rig.store.release(list(range(1, 251)))  # as after a restart: nothing is leased
        due_later = time.time() + 0.5
        for delivery_id in range(1, 251, 10):  # some failed before the restart and are due later
            await rig.store.retry_delivery(delivery_id, 1, due_later, "E", "failed before the restart")
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.lanes.peak_held <= WINDOW
        late = [r for r in target.requests_to(path) if r.json()["n"] % 10 == 0]
        assert len(late) == 25 and all(r.at >= started_at(due_later) for r in late)

    run(backend, tmp_path, target, body)
    assert numbers_at(target, path) == Counter(range(250))


def started_at(epoch: float) -> float:
    """*epoch* (wall clock) on the monotonic clock the target stamps requests with."""
    return epoch - time.time() + time.monotonic() - 0.01


def test_a_hanging_target_does_not_hold_up_a_healthy_one(backend, tmp_path, target):
    """A target that never answers ties up its share of the workers only: every delivery
    to a healthy target arrives before the hanging target's first timeout."""
    hanging, healthy = f"/w/{uuid.uuid4().hex[:8]}", f"/w/{uuid.uuid4().hex[:8]}"
    # The timeout leaves room for a store whose first take of a lane awaits the network
    # (NATS makes the lane's consumer then): the assertion is about order, not speed.
    target.script(hanging, *[Reply(delay=10.0)] * 40)
    timeout = 6.0

    async def body(rig: Rig) -> None:
        hanging_arn, healthy_arn = await rig.destination(hanging), await rig.destination(healthy)
        dispatcher = rig.dispatcher(concurrency=8, window=200)
        await dispatcher.start()
        try:
            await rig.route(dispatcher, hanging_arn, range(40))
            await asyncio.to_thread(target.wait_for, 4, hanging)  # its share of the 8 workers is busy hanging
            await rig.route(dispatcher, healthy_arn, range(100, 160), batch=5)
            await asyncio.to_thread(target.wait_for, 60, healthy)
        finally:
            await dispatcher.stop(close_senders=False)

    run(backend, tmp_path, target, body, timeout=timeout)
    first_timeout = min(r.at for r in target.requests_to(hanging)) + timeout
    assert numbers_at(target, healthy) == Counter(range(100, 160))
    assert max(r.at for r in target.requests_to(healthy)) < first_timeout
    # Its share, not more: alone, half the 8 workers (the other half kept for a newcomer).
    assert len([r for r in target.requests_to(hanging) if r.at < first_timeout]) <= 4


def test_a_dead_target_with_a_large_backlog_does_not_hold_up_a_healthy_one(backend, tmp_path, target):
    """A dead target's backlog, far larger than the window, waits in the store: a healthy
    target's deliveries all arrive while the dead target's are still pending."""
    dead, healthy = f"/w/{uuid.uuid4().hex[:8]}", f"/w/{uuid.uuid4().hex[:8]}"
    target.script(dead, *[Reply(503)] * 100_000)

    async def body(rig: Rig) -> None:
        dead_arn, healthy_arn = await rig.destination(dead), await rig.destination(healthy)
        dispatcher = rig.dispatcher(base_delay=5.0, window=128)
        await dispatcher.start()
        try:
            await rig.route(dispatcher, dead_arn, range(1000), batch=200)
            await rig.route(dispatcher, healthy_arn, range(5000, 5300))
            await asyncio.to_thread(target.wait_for, 300, healthy)
            still_pending = rig.store.pending_count()
            assert dispatcher.lanes.peak_held <= 128
        finally:
            await dispatcher.stop(close_senders=False)
        assert still_pending >= 900  # the dead target's backlog: still there, untouched by the healthy lane

    run(backend, tmp_path, target, body)
    assert numbers_at(target, healthy) == Counter(range(5000, 5300))


FIELDS: dict = dict(
    to=None,
    event_id="e",
    bus="b",
    rule_name="r",
    rule_arn="arn:r",
    target={"Arn": "a"},
    payload=b"{}",
    envelope=b"{}",
    trace_header=None,
    attempts=0,
    ingested_at=0.0,
)


def test_shares_of_the_window_and_of_the_workers():
    async def main() -> None:
        lanes, scheduler = Lanes(window=1000), FairScheduler(concurrency=12)
        lanes.hold(lanes.get("a"), 1)  # delivery 1, not in a ready queue: being sent
        a, b, c = lanes.get("a"), lanes.get("b"), lanes.get("c")
        assert lanes.window_of(a) == 1000  # alone: the whole window
        assert lanes.window_of(b) == 500  # a newcomer's share counts it in
        lanes.hold(b, 2)
        assert lanes.window_of(a) == 500 and lanes.room(a) == 499
        lanes.spill(c, time.time())
        assert lanes.window_of(a) == 333
        lanes.drained(c)
        lanes.release(b, 2)
        assert lanes.window_of(a) == 1000
        # A lane over its share gives back its surplus (never what is being sent).
        for n in range(10, 900):
            lanes.hold(a, n)
            a.ready.append(Delivery(id=n, **FIELDS))
        assert lanes.window_of(b) == 500 and lanes.free() == 109
        surplus = lanes.surplus(500 - lanes.free(), b)
        assert [d.id for _, d in surplus] == list(range(899, 508, -1)) and lanes.held == 500
        # Workers: 12 over the lanes with work, served in turn.
        a.ready.clear()
        for n in range(20):
            a.ready.append(Delivery(id=n, **FIELDS))
            b.ready.append(Delivery(id=100 + n, **FIELDS))
        scheduler.offer(a)
        scheduler.offer(b)
        order = [(await scheduler.next())[0].key for _ in range(8)]
        assert order == ["a", "b"] * 4 and scheduler.cap() == 4  # 12 workers over 2 busy lanes and a newcomer
        # Both at their share: nothing more until one ends a send.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(scheduler.next(), 0.05)
        scheduler.done(a)
        assert (await scheduler.next())[0] is a

    asyncio.run(main())
