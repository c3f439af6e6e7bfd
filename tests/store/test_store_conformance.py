"""The store contract (busbar.store.base), held against every backend."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from busbar.store.base import (
    AlreadyExists,
    ArchiveStats,
    Conflict,
    NewArchivedEvent,
    NewDelivery,
    NewEvent,
    NotFound,
    Store,
    StoredDelivery,
    StoredEvent,
    Versioned,
)

LANE = "arn:aws:events:us-east-1:000000000000:api-destination/d/1"
OTHER_LANE = "arn:aws:logs:us-east-1:000000000000:log-group:g"


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def event(n: int, bus: str = "acct/region/default", at: float = 1000.0, dedup: str | None = None) -> NewEvent:
    return NewEvent(
        event_id=f"e{n}",
        bus=bus,
        envelope=json.dumps({"id": f"e{n}"}).encode(),
        time=at,
        ingested_at=at,
        dedup_id=dedup,
    )


def delivery(n: int, lane: str = LANE) -> NewDelivery:
    return NewDelivery(
        event_id=f"e{n}",
        bus="acct/region/default",
        rule_name="r",
        rule_arn="arn:r",
        target={"Id": "t", "Arn": lane},
        envelope=b"{}",
        payload=json.dumps({"n": n}).encode(),
        trace_header=None,
        ingested_at=1000.0,
    )


async def settled(count: Any, expected: int, within: float = 10.0) -> bool:
    """Whether *count()* comes to *expected* (polled; a bound, not a timing claim)."""
    deadline = time.monotonic() + within
    while count() != expected:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def next_events(store: Store, count: int, limit: int | None = None) -> list[StoredEvent]:
    """*count* events from ``next_events`` (asking for *limit* at a time, default *count*),
    over as many calls as it takes: the contract hands out up to *limit*, and a cluster's
    consumer hands out at first only what its server has applied."""
    found: list[StoredEvent] = []
    deadline = time.monotonic() + 10.0
    while len(found) < count and time.monotonic() < deadline:
        found += await store.next_events(limit or count - len(found), wait=5)
    return found


async def take(store: Store, lane: str, count: int, limit: int = 10) -> list[StoredDelivery]:
    """*count* deliveries of *lane* from ``take`` (up to *limit* a call), over as many
    calls as it takes (see :func:`next_events`)."""
    found: list[StoredDelivery] = []
    deadline = time.monotonic() + 10.0
    while len(found) < count and time.monotonic() < deadline:
        found += await store.take(lane, limit)
    return found


async def recorded(store: Store, deliveries: list[NewDelivery]) -> list[int]:
    """Record deliveries; whatever the backend, end with none of them leased."""
    ids = await store.record_deliveries(deliveries, [])
    await store.release(ids)
    return ids


# -- resources -----------------------------------------------------------------------


def test_resources_create_update_delete_with_revisions(backend):
    async def main() -> None:
        async with backend() as store:
            # Revisions grow with every change (a cluster store numbers them across keys).
            first = await store.create_resource("k", "a/1", {"v": 1})
            with pytest.raises(AlreadyExists):
                await store.create_resource("k", "a/1", {"v": 2})
            second = await store.update_resource("k", "a/1", {"v": 2}, revision=first)
            assert second > first
            with pytest.raises(Conflict):
                await store.update_resource("k", "a/1", {"v": 3}, revision=first)
            with pytest.raises(NotFound):
                await store.update_resource("k", "nope", {"v": 3}, revision=first)
            assert await store.put_resource("k", "b/1", {"v": 9}) >= 1
            assert store.get_versioned("k", "a/1").revision == second  # type: ignore[union-attr]
            assert store.list_resources("k") == [("a/1", {"v": 2}), ("b/1", {"v": 9})]
            assert store.list_resources("k", "b/") == [("b/1", {"v": 9})]
            with pytest.raises(Conflict):
                await store.delete_resource("k", "a/1", revision=first)
            assert await store.delete_resource("k", "a/1", revision=second)
            assert not await store.delete_resource("k", "a/1")
        if backend.durable:
            async with backend() as store:
                assert store.list_resources("k") == [("b/1", {"v": 9})]

    run(main())


def test_watchers_hear_every_change_before_the_writer_resumes(backend):
    async def main() -> None:
        async with backend() as store:
            heard: list[tuple[str, str, Any]] = []
            stop = store.watch(lambda kind, key, value: heard.append((kind, key, value)))
            await store.create_resource("k", "a", {"v": 1})
            assert heard == [("k", "a", {"v": 1})]
            await store.modify("k", "a", lambda value: {"v": (value or {})["v"] + 1})
            await store.delete_resource("k", "a")
            assert heard[1:] == [("k", "a", {"v": 2}), ("k", "a", None)]
            stop()
            await store.put_resource("k", "b", {})
            assert len(heard) == 3

    run(main())


def test_concurrent_modifications_lose_nothing(backend):
    async def main() -> None:
        async with backend() as store:

            def add(n: int) -> Any:
                return lambda value: {"n": [*(value or {"n": []})["n"], n]}

            await asyncio.gather(*(store.modify("k", "list", add(n)) for n in range(40)))
            assert sorted(store.get_resource("k", "list")["n"]) == list(range(40))  # type: ignore[index]

    run(main())


def test_a_refused_modification_writes_nothing(backend):
    async def main() -> None:
        async with backend() as store:
            revision = await store.create_resource("k", "a", {"v": 1})

            def refuse(value: Any) -> Any:
                raise ValueError("no")

            with pytest.raises(ValueError):
                await store.modify("k", "a", refuse)
            assert store.get_versioned("k", "a") == Versioned({"v": 1}, revision)

    run(main())


# -- the event log ---------------------------------------------------------------------


def test_events_are_handed_out_once_and_routed_ones_never_again(backend):
    async def main() -> None:
        async with backend() as store:
            await store.append_events([event(1), event(2)])
            await store.append_events([event(3)])
            assert store.unrouted() == 3
            first = await next_events(store, 2)
            assert [e.event_id for e in first] == ["e1", "e2"]
            rest = await next_events(store, 1, limit=10)
            assert [e.event_id for e in rest] == ["e3"]
            assert await store.next_events(10, wait=0.05) == []
            await store.record_deliveries([], first)
            assert store.unrouted() == 1
            assert [e.event_id for e in store.read_events(0)] == ["e1", "e2", "e3"]
        if backend.durable:
            async with backend() as store:  # e3 was handed out, not routed: it comes back
                assert [e.event_id for e in await next_events(store, 1, limit=10)] == ["e3"]

    run(main())


def test_waiting_for_events_wakes_on_append(backend):
    async def main() -> None:
        async with backend() as store:
            waiting = asyncio.create_task(store.next_events(10, wait=5))
            await asyncio.sleep(0.05)
            await store.append_events([event(1)])
            assert [e.event_id for e in await asyncio.wait_for(waiting, 2)] == ["e1"]

    run(main())


def test_an_event_with_a_stored_dedup_id_is_stored_once(backend):
    async def main() -> None:
        async with backend() as store:
            await store.append_events([event(1, dedup="forward/7")])
            await store.append_events([event(2, dedup="forward/7"), event(3, dedup="forward/8"), event(4)])
            assert [e.event_id for e in store.read_events(0)] == ["e1", "e3", "e4"]

    run(main())


def test_an_event_keeps_the_rules_it_is_for(backend):
    async def main() -> None:
        async with backend() as store:
            tick = NewEvent("t", "a/r/default", b"{}", 1.0, 1.0, rules=("arn:rule/x",), direct=True)
            replayed = NewEvent("p", "a/r/default", b"{}", 1.0, 1.0, rules=("arn:rule/y", "arn:rule/z"))
            await store.append_events([tick, replayed, event(3)])
            read = [(e.event_id, e.rules, e.direct) for e in await next_events(store, 3, limit=10)]
            assert read == [
                ("t", ("arn:rule/x",), True),
                ("p", ("arn:rule/y", "arn:rule/z"), False),
                ("e3", None, False),
            ]
        if backend.durable:
            async with backend() as store:
                assert [(e.rules, e.direct) for e in store.read_events(0)][:1] == [(("arn:rule/x",), True)]

    run(main())


def test_prune_deletes_only_routed_old_events(backend):
    async def main() -> None:
        async with backend() as store:
            await store.append_events([event(n, at=100.0) for n in range(1, 6)])
            routed = await next_events(store, 3)
            await store.record_deliveries([], routed)
            assert await store.prune_events(ingested_before=50.0) == 0  # too young
            assert await store.prune_events(ingested_before=200.0) == 3
            assert [e.event_id for e in store.read_events(0)] == ["e4", "e5"]

    run(main())


# -- deliveries ------------------------------------------------------------------------


def test_taking_leases_due_deliveries_of_one_lane(backend):
    async def main() -> None:
        async with backend() as store:
            ids = await recorded(store, [delivery(1), delivery(2), delivery(3, OTHER_LANE)])
            assert store.lanes_with_work() == {LANE, OTHER_LANE} and store.pending_count() == 3
            taken = await take(store, LANE, 2)
            assert [d.id for d in taken] == ids[:2] and json.loads(taken[0].payload or b"") == {"n": 1}
            assert await store.take(LANE, 10) == []  # leased
            await store.release([ids[1]])
            assert [d.id for d in await take(store, LANE, 1)] == [ids[1]]
            await store.finish_deliveries(ids[:2])
            assert store.next_due(LANE) is None
            # A cluster store counts a finished delivery until every replica has removed it
            # (a moment after the acknowledgement is answered): the count settles.
            assert await settled(store.pending_count, 1)

    run(main())


def test_a_retry_is_taken_again_when_due(backend):
    async def main() -> None:
        async with backend() as store:
            [one] = await recorded(store, [delivery(1)])
            await store.take(LANE, 1)
            due = time.time() + 0.3
            await store.retry_delivery(one, 1, due, "E", "failed")
            assert await store.take(LANE, 1) == []  # not due yet
            assert store.next_due(LANE) == pytest.approx(due)
            await asyncio.sleep(0.35)
            [again] = await take(store, LANE, 1, limit=1)
            assert (again.id, again.attempts, again.error_code) == (one, 1, "E")

    run(main())


def test_handed_off_deliveries_are_leased_to_the_recorder(backend):
    async def main() -> None:
        async with backend() as store:
            ids = await store.record_deliveries([delivery(1)], [])
            taken = await store.take(LANE, 10)
            if store.capabilities.handoff:
                assert taken == []  # the router gave it to its own dispatcher already
            else:
                assert [d.id for d in taken] == ids

    run(main())


def test_dead_letters_are_kept_or_forwarded_and_redriven(backend):
    async def main() -> None:
        async with backend() as store:
            lanes_told: list[set[str]] = []
            store.on_lane_work(lambda lanes: lanes_told.append(set(lanes)))
            kept, forwarded = await recorded(store, [delivery(1), delivery(2)])
            await take(store, LANE, 2)
            await store.dead_letter(kept, 4, "X", "gone", None)
            await store.dead_letter(forwarded, 2, "E", "m", event(7, bus="acct/region/dlq"))
            [dead] = store.dead_deliveries()
            assert (dead.id, dead.state, dead.attempts, dead.error_message) == (kept, "dead", 4, "gone")
            assert [e.bus for e in store.read_events(0)] == ["acct/region/dlq"]
            assert await settled(store.pending_count, 0)
            assert await store.redrive([12345]) == []
            assert await store.redrive() == [kept]
            assert lanes_told[-1] == {LANE}
            [revived] = await take(store, LANE, 1)
            assert (revived.id, revived.attempts) == (kept, 0) and store.dead_deliveries() == []

    run(main())


def test_pending_deliveries_and_counts_are_listed_leased_or_not(backend):
    async def main() -> None:
        async with backend() as store:
            ids = await recorded(store, [delivery(1), delivery(2), delivery(3, OTHER_LANE), delivery(4)])
            await take(store, LANE, 3)  # leased deliveries are still pending (outcomes are of leased ones)
            await store.retry_delivery(ids[1], 3, time.time() + 60, "E", "down")
            await store.dead_letter(ids[3], 2, "X", "gone", None)
            listed = store.pending_deliveries()
            assert [d.id for d in listed] == ids[:3]
            assert (listed[1].attempts, listed[1].error_code, listed[1].error_message) == (3, "E", "down")
            assert [d.id for d in store.pending_deliveries(after_id=ids[0], limit=1)] == [ids[1]]
            assert store.delivery_counts() == {("pending", LANE): 2, ("pending", OTHER_LANE): 1, ("dead", LANE): 1}
            await store.finish_deliveries([ids[0]])
            # (a cluster applies the acknowledgement a moment after answering it: the count settles)
            assert await settled(lambda: store.delivery_counts()[("pending", LANE)], 1)

    run(main())


def test_a_delivery_retried_again_and_again_is_listed_once(backend):
    """A retry is stored before what it replaces is gone (on NATS: a message schedule, then
    the message it fires): however the listing falls between them, a delivery is one line."""

    async def main() -> None:
        async with backend() as store:
            [one] = await recorded(store, [delivery(1)])
            deadline = time.monotonic() + 2.0
            attempts = 0
            while time.monotonic() < deadline:
                if [d.id for d in await store.take(LANE, 1)] == [one]:
                    attempts += 1
                    await store.retry_delivery(one, attempts, time.time() + 0.02, "E", f"attempt {attempts}")
                assert [d.id for d in store.pending_deliveries()] == [one]
            assert attempts > 1

    run(main())


def test_commit_latencies_are_told_to_an_observer(backend):
    async def main() -> None:
        async with backend() as store:
            seconds: list[float] = []
            store.observe_commits(seconds.append)
            await store.append_events([event(1)])
            if backend.durable:  # SQLite's commits, JetStream's acknowledgements
                assert len(seconds) >= 1 and all(s >= 0 for s in seconds)
            else:
                assert seconds == []  # nothing to commit in memory

    run(main())


def test_after_a_restart_every_pending_delivery_is_taken_again(backend):
    if not backend.durable:
        pytest.skip("the backend keeps nothing across a restart")

    async def main() -> None:
        async with backend() as store:
            ids = await store.record_deliveries([delivery(n) for n in range(5)], [])
            await store.finish_deliveries(ids[:1])
        async with backend() as store:
            assert store.lanes_with_work() == {LANE}
            assert [d.id for d in await take(store, LANE, 4)] == ids[1:]

    run(main())


# -- archives --------------------------------------------------------------------------


def archived(n: int, at: float, dedup: str | None = None) -> NewArchivedEvent:
    return NewArchivedEvent(event_id=f"e{n}", time=at, envelope=json.dumps({"id": f"e{n}"}).encode(), dedup_id=dedup)


def test_archives_are_read_by_event_time_with_a_cursor(backend):
    async def main() -> None:
        async with backend() as store:
            await store.archive_events("A", [archived(1, 30.0), archived(2, 10.0), archived(3, 20.0)])
            await store.archive_events("A", [archived(4, 20.0), archived(5, 99.0)])
            await store.archive_events("B", [archived(6, 20.0)])
            found = await store.read_archive("A", 10.0, 31.0)
            assert [e.event_id for e in found] == ["e2", "e3", "e4", "e1"]  # by time, then as archived
            assert [e.event_id for e in await store.read_archive("A", 10.0, 30.0)] == ["e2", "e3", "e4"]  # [start, end)
            first = await store.read_archive("A", 10.0, 31.0, limit=2)
            rest = await store.read_archive("A", 10.0, 31.0, after=first[-1].cursor)
            assert [e.event_id for e in first + rest] == ["e2", "e3", "e4", "e1"]
            assert await store.read_archive("A", 10.0, 31.0, after=rest[-1].cursor) == []
            assert json.loads(found[0].envelope) == {"id": "e2"} and found[0].time == 10.0
            size = len(json.dumps({"id": "e1"}).encode())
            assert await store.archive_stats("A") == ArchiveStats(5, 5 * size)
            assert await store.archive_stats("A", 15.0, 25.0) == ArchiveStats(2, 2 * size)
            assert await store.archive_stats("A", 10.0, 20.0) == ArchiveStats(1, size)
            assert await store.archive_stats("nothing") == ArchiveStats(0, 0)
        if backend.durable:
            async with backend() as store:
                assert [e.event_id for e in await store.read_archive("A", 0.0, 100.0)] == ["e2", "e3", "e4", "e1", "e5"]

    run(main())


def test_an_archived_event_with_a_kept_dedup_id_is_kept_once(backend):
    async def main() -> None:
        async with backend() as store:
            await store.archive_events("A", [archived(1, 1.0, dedup="d/1")])
            await store.archive_events("A", [archived(1, 1.0, dedup="d/1"), archived(2, 1.0, dedup="d/2")])
            await store.archive_events("B", [archived(1, 1.0, dedup="d/1")])  # another archive: its own
            assert [e.event_id for e in await store.read_archive("A", 0.0, 2.0)] == ["e1", "e2"]
            assert (await store.archive_stats("B")).count == 1

    run(main())


def test_archives_are_pruned_by_age_and_dropped(backend):
    async def main() -> None:
        async with backend() as store:
            await store.archive_events("A", [archived(n, 1.0) for n in range(3)])
            await store.archive_events("B", [archived(9, 1.0)])
            assert await store.prune_archive("A", archived_before=time.time() - 3600) == 0  # too young
            assert await store.prune_archive("A", archived_before=time.time() + 1, limit=2) == 2
            assert (await store.archive_stats("A")).count == 1
            await store.drop_archive("A")
            assert (await store.archive_stats("A")).count == 0
            assert (await store.archive_stats("B")).count == 1
            await store.archive_events("A", [archived(1, 1.0)])  # a new archive under the name
            assert (await store.archive_stats("A")).count == 1

    run(main())
