"""The dispatcher's bounded window: a real Dispatcher, a real SqliteStore and a real
HTTP target (tests/httptarget.py), with a window far smaller than the backlog.
Every delivery must arrive, none twice while healthy, and memory must never hold
more than the window."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from busbar.api import connections, destinations
from busbar.api.context import Context
from busbar.config import Settings
from busbar.delivery.dispatcher import Dispatcher, delivery_of
from busbar.delivery.http import HttpSender
from busbar.delivery.retry import Backoff
from busbar.model.arns import TargetKind
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.base import NewDelivery
from busbar.store.sqlite import SqliteStore

from httptarget import HttpTarget, Reply

WINDOW = 20

SCOPE = Scope("000000000000", "us-east-1")


@pytest.fixture(scope="module")
def target() -> Iterator[HttpTarget]:
    server = HttpTarget().start()
    yield server
    server.stop()


class Rig:
    """A store with API destinations on the target, and a dispatcher made on demand."""

    def __init__(self, data_dir: Path, target: HttpTarget) -> None:
        self.store = SqliteStore(data_dir, sync="normal")
        self.ctx = Context(settings=Settings(data_dir=data_dir), store=self.store, rules=RuleIndex(), scope=SCOPE)
        self.target = target
        self.sender: HttpSender
        self._seq = 0

    async def destination(self, path: str, rate: int = 300) -> str:
        name = f"c-{uuid.uuid4().hex[:8]}"
        await connections.create_connection(
            self.ctx,
            {
                "Name": name,
                "AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
            },
        )
        connection_arn = self.store.get_resource("connection", SCOPE.key(name))["ConnectionArn"]  # type: ignore[index]
        return (
            await destinations.create_api_destination(
                self.ctx,
                {
                    "Name": f"d-{uuid.uuid4().hex[:8]}",
                    "ConnectionArn": connection_arn,
                    "InvocationEndpoint": self.target.url + path,
                    "HttpMethod": "POST",
                    "InvocationRateLimitPerSecond": rate,
                },
            )
        )["ApiDestinationArn"]

    async def record(self, arn: str, numbers: range) -> list[int]:
        """Record one pending delivery per number (its payload names it), as the router does."""
        self._seq += 1
        return await self.store.record_deliveries(
            [
                NewDelivery(
                    event_id=f"e{n}",
                    bus="default",
                    rule_name="r",
                    rule_arn="arn:aws:events:r",
                    target={"Id": "t", "Arn": arn},
                    envelope=b"{}",
                    payload=json.dumps({"n": n}).encode(),
                    trace_header=None,
                    ingested_at=time.time(),
                )
                for n in numbers
            ],
            "router",
            self._seq,
        )

    async def route(self, dispatcher: Dispatcher, arn: str, numbers: range, batch: int = 50) -> None:
        """Record and submit in batches, like the router, so the window fills mid-stream."""
        for start in range(numbers.start, numbers.stop, batch):
            ids = await self.record(arn, range(start, min(start + batch, numbers.stop)))
            dispatcher.submit(
                delivery_of(stored) for stored in sorted(self.store.pending_by_id(ids), key=lambda d: d.id)
            )

    def dispatcher(self, base_delay: float = 0.02) -> Dispatcher:
        return Dispatcher(
            self.store,
            {TargetKind.API_DESTINATION: self.sender},
            backoff=Backoff(base_delay, max(base_delay, 0.2)),
            concurrency=8,
            window=WINDOW,
        )


def run(tmp_path: Path, target: HttpTarget, body: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        rig = Rig(tmp_path / "data", target)
        await rig.store.start()
        rig.sender = HttpSender(rig.store, rig.ctx.settings, timeout=5.0)
        try:
            await body(rig)
        finally:
            await rig.sender.close()
            await rig.store.close()

    asyncio.run(main())


def numbers_at(target: HttpTarget, path: str) -> Counter[int]:
    return Counter(request.json()["n"] for request in target.requests_to(path))


async def settle(rig: Rig, dispatcher: Dispatcher, timeout: float = 10.0) -> None:
    """Wait until nothing is pending in the store, checking the window all along."""
    deadline = time.monotonic() + timeout
    while rig.store.pending_schedule(None, 1):
        assert dispatcher.held <= WINDOW
        assert time.monotonic() < deadline, f"{len(rig.store.pending_deliveries())} deliveries still pending"
        await asyncio.sleep(0.02)


def test_a_healthy_target_gets_everything_exactly_once(tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path, rate=10_000)
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            await rig.route(dispatcher, arn, range(400))
            assert dispatcher.spilled  # the window really overflowed
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.peak_held <= WINDOW
        assert not dispatcher.spilled and dispatcher.held == 0

    run(tmp_path, target, body)
    assert numbers_at(target, path) == Counter(range(400))


def test_a_target_that_fails_then_recovers_gets_everything(tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"
    failures = 250
    target.script(path, *[Reply(503)] * failures)

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path)
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            await rig.route(dispatcher, arn, range(300))
            await settle(rig, dispatcher, timeout=15)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.peak_held <= WINDOW

    run(tmp_path, target, body)
    answered_ok = target.requests_to(path)[failures:]  # the script answered 503 first, then 200
    assert Counter(request.json()["n"] for request in answered_ok) == Counter(range(300))


def test_deliveries_due_now_pass_retries_due_later(tmp_path, target):
    """A target that is down fills the store with retries due later; another target's
    deliveries, due now, must not wait for them, and the retries are sent when due."""
    down, up = f"/w/{uuid.uuid4().hex[:8]}", f"/w/{uuid.uuid4().hex[:8]}"
    target.script(down, *[Reply(503)] * 60)

    async def body(rig: Rig) -> None:
        down_arn, up_arn = await rig.destination(down), await rig.destination(up)
        dispatcher = rig.dispatcher(base_delay=2.0)
        await dispatcher.start()
        try:
            await rig.route(dispatcher, down_arn, range(60))
            await asyncio.sleep(0.3)  # all 60 failed once; their retries are 1 to 2 s away
            started = time.monotonic()
            await rig.route(dispatcher, up_arn, range(100, 200))
            while sum(numbers_at(target, up).values()) < 100:
                assert time.monotonic() - started < 1.0, "deliveries due now waited behind retries"
                await asyncio.sleep(0.02)
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.peak_held <= WINDOW

    run(tmp_path, target, body)
    assert numbers_at(target, up) == Counter(range(100, 200))
    assert set(numbers_at(target, down)) == set(range(60))
    assert Counter(r.json()["n"] for r in target.requests_to(down)[60:]) == Counter(range(60))


def test_start_up_with_more_pending_than_the_window(tmp_path, target):
    path = f"/w/{uuid.uuid4().hex[:8]}"

    async def body(rig: Rig) -> None:
        arn = await rig.destination(path, rate=10_000)
        ids = await rig.record(arn, range(250))
        # Some were retried before the restart and are due a little later.
        due_later = time.time() + 0.5
        for delivery_id in ids[::10]:
            await rig.store.retry_delivery(delivery_id, 1, due_later, "E", "failed before the restart")
        dispatcher = rig.dispatcher()
        await dispatcher.start()
        try:
            assert dispatcher.held == WINDOW and dispatcher.spilled
            await settle(rig, dispatcher)
        finally:
            await dispatcher.stop(close_senders=False)
        assert dispatcher.peak_held <= WINDOW
        late = [r for r in target.requests_to(path) if r.json()["n"] % 10 == 0]
        assert len(late) == 25 and all(r.at >= started_at(due_later) for r in late)

    run(tmp_path, target, body)
    assert numbers_at(target, path) == Counter(range(250))


def started_at(epoch: float) -> float:
    """*epoch* (wall clock) on the monotonic clock the target stamps requests with."""
    return epoch - time.time() + time.monotonic() - 0.01


def test_store_pages_pending_deliveries_by_due_time(tmp_path, target):
    async def body(rig: Rig) -> None:
        ids = await rig.record("arn:aws:events:us-east-1:000000000000:api-destination/x/y", range(5))
        await rig.store.retry_delivery(ids[0], 1, time.time() + 60, "E", "m")
        keys = rig.store.pending_schedule(None, 10)
        assert [i for _, i in keys] == [*ids[1:], ids[0]]
        assert [i for _, i in rig.store.pending_schedule(keys[1], 2)] == ids[3:5]
        await rig.store.finish_deliveries([ids[2]])
        assert sorted(d.id for d in rig.store.pending_by_id(ids)) == [ids[0], ids[1], ids[3], ids[4]]

    run(tmp_path, target, body)
