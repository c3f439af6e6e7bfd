"""Global endpoints' state on every store backend: the lifecycle settles CREATING, UPDATING
and DELETING; the health a poller records decides the route; an event and its replica are
appended together."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from busbar.endpoints.health import Health, HealthPoller
from busbar.endpoints.lifecycle import Lifecycle
from busbar.model.arns import bus_arn, endpoint_arn
from busbar.resources import quotas
from busbar.resources.endpoints import route_of
from busbar.resources.kinds import BUS, ENDPOINT, QUOTA
from busbar.resources.scope import Scope
from busbar.store.base import NewEvent

ACCOUNT = "123456789012"
EAST, WEST = Scope(ACCOUNT, "us-east-1"), Scope(ACCOUNT, "us-west-2")
HEALTH_CHECK = "arn:aws:route53:::healthcheck/abc"
KEY = EAST.key("ep")


def endpoint(state: str) -> dict[str, Any]:
    return {
        "Name": "ep",
        "Arn": endpoint_arn("us-east-1", ACCOUNT, "ep"),
        "RoutingConfig": {
            "FailoverConfig": {"Primary": {"HealthCheck": HEALTH_CHECK}, "Secondary": {"Route": "us-west-2"}}
        },
        "ReplicationConfig": {"State": "ENABLED"},
        "EventBuses": [
            {"EventBusArn": bus_arn("us-east-1", ACCOUNT, "orders")},
            {"EventBusArn": bus_arn("us-west-2", ACCOUNT, "orders")},
        ],
        "EndpointId": "abcde.xyz",
        "State": state,
    }


async def settled(store: Any, state: str) -> dict[str, Any] | None:
    """The endpoint once it has left *state* (the lifecycle follows the store's changes)."""
    for _ in range(1000):  # a bound, not a timing claim
        found = store.get_resource(ENDPOINT, KEY)
        if found is None or found["State"] != state:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"the endpoint stayed {state}")


def test_the_lifecycle_settles_endpoints(backend):
    async def scenario() -> None:
        async with backend() as store:
            lifecycle = Lifecycle(store)
            await lifecycle.start()
            try:
                await store.create_resource(BUS, EAST.key("orders"), {"Name": "orders"})
                await store.create_resource(ENDPOINT, KEY, endpoint("CREATING"))
                failed = await settled(store, "CREATING")
                assert failed is not None
                assert (failed["State"], failed["StateReason"]) == (
                    "CREATE_FAILED",
                    f"Event bus {bus_arn('us-west-2', ACCOUNT, 'orders')} does not exist.",
                )
                await store.create_resource(BUS, WEST.key("orders"), {"Name": "orders"})
                await store.put_resource(ENDPOINT, KEY, endpoint("UPDATING"))
                active = await settled(store, "UPDATING")
                assert active is not None and active["State"] == "ACTIVE" and "StateReason" not in active

                await quotas.reserve(store, ENDPOINT, EAST.prefix, "ep", 100, lambda name: True)
                await store.put_resource(ENDPOINT, KEY, endpoint("DELETING"))
                assert await settled(store, "DELETING") is None
                # Its name leaves the quota ledger in the write after the deletion.
                for _ in range(1000):
                    if store.get_resource(QUOTA, quotas.ledger_key(ENDPOINT, EAST.prefix)) is None:
                        break
                    await asyncio.sleep(0.01)
                assert store.get_resource(QUOTA, quotas.ledger_key(ENDPOINT, EAST.prefix)) is None
            finally:
                await lifecycle.stop()

    asyncio.run(scenario())


def test_an_endpoint_left_unsettled_is_settled_at_start(backend):
    async def scenario() -> None:
        async with backend() as store:
            await store.create_resource(ENDPOINT, KEY, endpoint("CREATING"))
        async with backend() as store:
            lifecycle = Lifecycle(store)
            await lifecycle.start()
            try:
                found = await settled(store, "CREATING")
                assert found is not None and found["State"] == "CREATE_FAILED"
            finally:
                await lifecycle.stop()

    asyncio.run(scenario())


def test_the_recorded_health_decides_the_route(backend):
    async def scenario() -> None:
        async with backend() as store:
            poller = HealthPoller(store, 1.0)
            try:
                ep = endpoint("ACTIVE")
                route = route_of(store, ep)
                assert (route.active.region, route.replica and route.replica.region, route.failed_over) == (
                    "us-east-1",
                    "us-west-2",
                    False,
                )
                await poller.record(HEALTH_CHECK, Health(False, "inverted"), [ep])
                route = route_of(store, ep)
                assert (route.active.region, route.replica and route.replica.region, route.failed_over) == (
                    "us-west-2",
                    "us-east-1",
                    True,
                )
                await poller.record(HEALTH_CHECK, Health(True, "ok"), [ep])
                assert route_of(store, ep).active.region == "us-east-1"
                assert route_of(store, {**ep, "ReplicationConfig": {"State": "DISABLED"}}).replica is None
            finally:
                await poller.stop()

    asyncio.run(scenario())


def test_an_event_and_its_replica_are_appended_together(backend):
    async def scenario() -> None:
        async with backend() as store:
            original = NewEvent("e1", EAST.key("orders"), json.dumps({"id": "e1"}).encode(), 1.0, 1.0)
            replica = NewEvent(
                "e1", WEST.key("orders"), json.dumps({"id": "e1"}).encode(), 1.0, 1.0, dedup_id="replica/e1"
            )
            await store.append_events([original, replica])
            await store.append_events([replica])  # tried again: stored once
            stored = await store.next_events(10, wait=5)  # (a cluster's consumer may answer a moment later)
            assert sorted((e.event_id, e.bus) for e in stored) == [
                ("e1", EAST.key("orders")),
                ("e1", WEST.key("orders")),
            ]

    asyncio.run(scenario())
