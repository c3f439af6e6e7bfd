"""The embedded store, used directly: resources, the event log, deliveries, and
what PutEvents answers when the disk refuses a write."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from busbar.api.buses import ensure_default_bus
from busbar.api.context import Context
from busbar.api.events import put_events
from busbar.config import Settings
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.base import AlreadyExists, NewDelivery, NewEvent
from busbar.store.sqlite import SqliteStore


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(coroutine)


def event(n: int, bus: str = "default", at: float = 1000.0) -> NewEvent:
    return NewEvent(event_id=f"e{n}", bus=bus, envelope=json.dumps({"id": f"e{n}"}).encode(), time=at, ingested_at=at)


def delivery(n: int) -> NewDelivery:
    return NewDelivery(
        event_id=f"e{n}",
        bus="default",
        rule_name="r",
        rule_arn="arn:r",
        target={"Id": "t", "Arn": "arn:t"},
        envelope=b"{}",
        payload=None,
        trace_header=None,
        ingested_at=1000.0,
    )


def test_resources_log_and_positions(tmp_path: Path):
    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        await store.create_resource("k", "a", {"v": 1})
        try:
            await store.create_resource("k", "a", {"v": 2})
            raise AssertionError("a taken key was created again")
        except AlreadyExists:
            pass
        await store.put_resource("k", "b", {"v": 3})
        assert store.list_resources("k") == [("a", {"v": 1}), ("b", {"v": 3})]
        assert await store.delete_resource("k", "a") and not await store.delete_resource("k", "a")
        assert await store.append_events([event(1), event(2)]) == [1, 2]
        assert await store.append_events([event(3)]) == [3]
        assert [e.event_id for e in store.read_events(1)] == ["e2", "e3"]
        assert await store.wait_for_events(2, timeout=0.01)
        assert not await store.wait_for_events(3, timeout=0.01)
        await store.ack("router", 2)
        await store.ack("router", 1)  # positions never go back
        assert store.position("router") == 2
        await store.close()
        reopened = SqliteStore(tmp_path)
        await reopened.start()
        assert reopened.position("router") == 2 and reopened.last_seq() == 3
        assert reopened.get_resource("k", "b") == {"v": 3}
        await reopened.close()

    run(main())


def test_prune_keeps_what_the_router_has_not_acknowledged(tmp_path: Path):
    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        await store.append_events([event(n, at=100.0) for n in range(1, 6)])
        assert await store.prune_events(up_to_seq=3, ingested_before=200.0) == 3
        assert [e.seq for e in store.read_events(0)] == [4, 5]
        assert await store.prune_events(up_to_seq=5, ingested_before=50.0) == 0  # too young
        await store.append_events([event(9)])
        assert store.read_events(5)[0].seq == 6  # numbers are never reused
        await store.close()

    run(main())


def test_deliveries_lifecycle(tmp_path: Path):
    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        await store.append_events([event(1)])
        ids = await store.record_deliveries([delivery(1), delivery(2), delivery(3)], "router", 1)
        assert ids == [1, 2, 3] and store.position("router") == 1
        await store.finish_deliveries([1])
        await store.retry_delivery(2, attempts=1, due_at=5000.0, error_code="E", error_message="m")
        await store.dead_letter(3, attempts=4, error_code="X", error_message="gone", forward=None)
        pending = store.pending_deliveries()
        assert [(d.id, d.attempts, d.due_at, d.error_code) for d in pending] == [(2, 1, 5000.0, "E")]
        [dead] = store.dead_deliveries()
        assert (dead.id, dead.state, dead.attempts, dead.error_message) == (3, "dead", 4, "gone")
        [revived] = await store.redrive()
        assert (revived.id, revived.state, revived.attempts) == (3, "pending", 0)
        # A dead letter forwarded to a bus: the event appears and the delivery goes, in one commit.
        await store.dead_letter(2, attempts=2, error_code="E", error_message="m", forward=event(7, bus="dlq"))
        assert [d.id for d in store.pending_deliveries()] == [3]
        assert store.read_events(1)[0].bus == "dlq"
        await store.close()

    run(main())


def test_put_events_on_a_full_disk_answers_retryable_failures(tmp_path: Path):
    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        scope = Scope("000000000000", "us-east-1")
        ctx = Context(settings=Settings(data_dir=tmp_path), store=store, rules=RuleIndex(), scope=scope)
        await ensure_default_bus(store, scope, 100)
        # SQLite's own "disk is full": no page may be added to the file.
        await store._submit(lambda conn: conn.execute("PRAGMA max_page_count = 1"))  # noqa: SLF001
        big = json.dumps({"a": "x" * 100_000})
        answer = await put_events(
            ctx, {"Entries": [{"Source": "s", "DetailType": "d", "Detail": big}, {"Source": "s", "DetailType": "d"}]}
        )
        assert answer["FailedEntryCount"] == 2
        assert answer["Entries"][0]["ErrorCode"] == "InternalFailure"
        assert answer["Entries"][1]["ErrorCode"] == "InvalidArgument"
        assert store.last_seq() == 0
        await store.close()

    run(main())
