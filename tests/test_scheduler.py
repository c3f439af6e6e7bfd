"""The scheduler against real stores: one event per tick, whichever node (or how many
times) fires it, for that rule only."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from busbar.resources.kinds import RULE
from busbar.scheduler import Scheduler
from busbar.store.memory import MemoryStore
from busbar.store.sqlite import SqliteStore

ARN = "arn:aws:events:us-east-1:111122223333:rule/every-minute"
KEY = "111122223333/us-east-1/default/every-minute"


def rule(**changes: Any) -> dict[str, Any]:
    stored = {
        "Name": "every-minute",
        "Arn": ARN,
        "EventBusName": "default",
        "State": "ENABLED",
        "ScheduleExpression": "rate(1 minute)",
        "ScheduleAnchor": 1_700_000_000.4,
        "Targets": [],
    }
    stored.update(changes)
    return stored


def test_two_nodes_firing_one_tick_store_one_event(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "data", sync="normal")
        await store.start()
        anchor = time.time()
        await store.put_resource(RULE, KEY, rule(ScheduleAnchor=anchor))
        one, two = Scheduler(store), Scheduler(store)
        one.follow()
        two.follow()
        tick = one.next_tick(ARN)
        assert tick is not None and tick == two.next_tick(ARN)
        assert tick == int(anchor) + 60  # counted from the anchor, on its whole second
        assert await one.fire_due(tick) == 1 and await two.fire_due(tick) == 1
        [event] = store.read_events(0)
        envelope = json.loads(event.envelope)
        assert (event.rules, event.direct, event.bus) == ((ARN,), True, "111122223333/us-east-1/default")
        assert envelope["detail-type"] == "Scheduled Event" and envelope["source"] == "aws.events"
        assert envelope["resources"] == [ARN] and envelope["detail"] == {} and envelope["account"] == "111122223333"
        assert envelope["region"] == "us-east-1" and envelope["id"] == event.event_id
        assert one.next_tick(ARN) == tick + 60
        await store.close()
        # A node restarted before the tick comes round to the same tick: it stores nothing new.
        store = SqliteStore(tmp_path / "data", sync="normal")
        await store.start()
        again = Scheduler(store)
        again.follow()
        assert again.next_tick(ARN) == tick
        await again.fire_due(tick)
        assert len(store.read_events(0)) == 1
        await again.fire_due(tick + 60)  # the next tick is another event
        assert [json.loads(e.envelope)["time"][-4:] for e in store.read_events(0)] == [
            time.strftime(":%SZ", time.gmtime(tick))
        ] * 2
        await store.close()

    asyncio.run(main())


def test_disabled_and_changed_rules_follow_the_store() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.start()
        scheduler = Scheduler(store)
        scheduler.follow()
        await store.put_resource(RULE, KEY, rule())
        first = scheduler.next_tick(ARN)
        assert first is not None
        await store.put_resource(RULE, KEY, rule(Description="targets or a description change nothing"))
        assert scheduler.next_tick(ARN) == first
        await store.put_resource(RULE, KEY, rule(State="DISABLED"))
        assert scheduler.next_tick(ARN) is None
        assert await scheduler.fire_due(first + 3600) == 0
        await store.put_resource(RULE, KEY, rule(ScheduleExpression="cron(30 12 * * ? *)"))
        tick = scheduler.next_tick(ARN)
        assert tick is not None and tick % 86400 == 12 * 3600 + 30 * 60
        await store.delete_resource(RULE, KEY)
        assert scheduler.next_tick(ARN) is None

    asyncio.run(main())


def test_a_stalled_node_fires_once_then_skips_the_ticks_it_missed() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.start()
        await store.put_resource(RULE, KEY, rule())
        scheduler = Scheduler(store)
        scheduler.follow()
        tick = scheduler.next_tick(ARN)
        assert tick is not None
        assert await scheduler.fire_due(tick + 600) == 1  # ten minutes late: the one due tick, once
        assert scheduler.next_tick(ARN) == tick + 660
        assert len(store.read_events(0)) == 1

    asyncio.run(main())
