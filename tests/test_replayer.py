"""The replayer with several nodes on one store: one node runs a replay, another takes it
over when the first stops beating, and every event is stored once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from busbar.api.archives import create_archive
from busbar.api.buses import ensure_default_bus
from busbar.api.context import Context
from busbar.api.replays import start_replay
from busbar.config import Settings
from busbar.replayer import Replayer
from busbar.resources.kinds import REPLAY
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.base import Capabilities, NewArchivedEvent
from busbar.store.memory import MemoryStore

SCOPE = Scope("111122223333", "eu-west-1")
BUS_ARN = "arn:aws:events:eu-west-1:111122223333:event-bus/default"
KEY = SCOPE.key("again")


class TwoNodeStore(MemoryStore):
    """The memory store, saying it is shared by two nodes (as a cluster store would)."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(handoff=False, nodes=lambda: 2)


async def replay_of(store: MemoryStore, count: int) -> None:
    """An archive of the default bus holding *count* events, and a replay of them."""
    ctx = Context(settings=Settings(), store=store, rules=RuleIndex(), scope=SCOPE)
    await ensure_default_bus(store, SCOPE, 100)
    archive = await create_archive(ctx, {"ArchiveName": "kept", "EventSourceArn": BUS_ARN})
    storage = store.get_resource("archive", SCOPE.key("kept"))["Storage"]  # type: ignore[index]
    await store.archive_events(
        storage, [NewArchivedEvent(f"e{n}", 1000.0 + n, json.dumps({"id": f"e{n}"}).encode()) for n in range(count)]
    )
    await start_replay(
        ctx,
        {
            "ReplayName": "again",
            "EventSourceArn": archive["ArchiveArn"],
            "EventStartTime": 0,
            "EventEndTime": time.time(),
            "Destination": {"Arn": BUS_ARN},
        },
    )


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def replayed(store: MemoryStore) -> list[str]:
    return [e.event_id for e in store.read_events(0, 100_000) if "replay-name" in json.loads(e.envelope)]


def test_one_node_runs_a_replay_while_another_waits() -> None:
    async def main() -> None:
        store = TwoNodeStore()
        await store.start()
        owners: set[str] = set()
        store.watch(
            lambda kind, key, value: (
                owners.add(value["Owner"]) if kind == REPLAY and value and value.get("Owner") else None
            )
        )
        await replay_of(store, 250)
        one, two = (
            Replayer(store, events_per_second=1000, node="one"),
            Replayer(store, events_per_second=1000, node="two"),
        )
        await one.start()
        await two.start()
        await until(lambda: store.get_resource(REPLAY, KEY)["State"] == "COMPLETED")  # type: ignore[index]
        assert len(owners) == 1
        assert sorted(replayed(store)) == sorted(f"e{n}" for n in range(250))
        done = store.get_resource(REPLAY, KEY)
        assert done is not None and (done["Replayed"], done["Total"], done["Owner"]) == (250, 250, None)
        await one.stop()
        await two.stop()

    asyncio.run(main())


def test_a_replay_whose_node_stops_beating_is_taken_over_and_stored_once() -> None:
    async def main() -> None:
        store = TwoNodeStore()
        await store.start()
        await replay_of(store, 300)
        first = Replayer(store, events_per_second=100, stale_after=0.6, node="first")
        await first.start()
        await until(lambda: len(replayed(store)) >= 100)
        await first.stop()  # it dies: its claim stays in the store, its heartbeat ages
        stopped = store.get_resource(REPLAY, KEY)
        assert stopped is not None and stopped["Owner"] == "first" and stopped["State"] == "RUNNING"
        # The batch after the cursor was appended before the cursor moved: it comes again, once.
        second = Replayer(store, events_per_second=100, stale_after=0.6, node="second")
        await second.start()
        await until(lambda: store.get_resource(REPLAY, KEY)["State"] == "COMPLETED")  # type: ignore[index]
        assert sorted(replayed(store)) == sorted(f"e{n}" for n in range(300))
        await second.stop()

    asyncio.run(main())
