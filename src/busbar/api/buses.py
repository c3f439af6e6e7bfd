"""Event buses: CreateEventBus, DescribeEventBus, ListEventBuses, UpdateEventBus,
DeleteEventBus.  The bus ``default`` of every account and region always exists (it
is made when a request first acts there)."""

from __future__ import annotations

import time
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import listing
from busbar.api.resources import get_bus
from busbar.api.tags import add_tags
from busbar.model.arns import bus_arn
from busbar.resources import quotas
from busbar.resources.kinds import BUS, DEFAULT_BUS, QUOTA, RULE, TAGS, bus_key
from busbar.resources.lookup import find_bus
from busbar.resources.scope import Scope
from busbar.store.base import AlreadyExists, Store

# Members of a bus that UpdateEventBus may change and Describe answers.
_OPTIONAL = ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig")
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."


async def ensure_default_bus(store: Store, scope: Scope, limit: int) -> None:
    """Create the ``default`` bus of *scope* unless it exists (safe to race with other nodes)."""
    if find_bus(store, scope, DEFAULT_BUS) is not None:
        return
    await quotas.reserve(store, BUS, scope.prefix, DEFAULT_BUS, limit, lambda name: True)
    try:
        await store.create_resource(BUS, bus_key(scope, DEFAULT_BUS), _new_bus(scope, DEFAULT_BUS, {}))
    except AlreadyExists:
        pass


def _new_bus(scope: Scope, name: str, body: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    bus = {
        "Name": name,
        "Arn": bus_arn(scope.region, scope.account, name),
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    bus.update({key: body[key] for key in _OPTIONAL if body.get(key) is not None})
    return bus


async def create_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    if body.get("EventSourceName") is not None:
        # Partner event sources come from SaaS partners through AWS; none exist here.
        raise ResourceNotFoundException(f"Event source {body['EventSourceName']} does not exist.")
    if "/" in name:
        raise ValidationException("Event bus name must not contain '/'.")
    store, key = ctx.store, bus_key(ctx.scope, name)
    if store.get_resource(BUS, key) is not None:
        raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
    try:
        await quotas.reserve(
            store,
            BUS,
            ctx.scope.prefix,
            name,
            ctx.settings.limits.max_event_buses,
            lambda kept: find_bus(store, ctx.scope, kept) is not None,
        )
    except quotas.QuotaExceeded:
        raise LimitExceededException(LIMIT_EXCEEDED) from None
    bus = _new_bus(ctx.scope, name, body)
    try:
        await store.create_resource(BUS, key, bus)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Event bus {name} already exists.") from None
    if body.get("Tags"):
        await add_tags(ctx, bus["Arn"], body["Tags"])
    answer = {"EventBusArn": bus["Arn"]}
    answer.update({key: bus[key] for key in _OPTIONAL if key in bus})
    return answer


async def describe_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return dict(get_bus(ctx, body.get("Name")))


async def list_event_buses(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("NamePrefix") or ""
    scope_prefix = ctx.scope.prefix
    buses = [
        (key[len(scope_prefix) :], _listed(bus)) for key, bus in ctx.store.list_resources(BUS, scope_prefix + prefix)
    ]
    return listing("EventBuses", buses, body)


def _listed(bus: dict[str, Any]) -> dict[str, Any]:
    return {
        key: bus[key]
        for key in ("Name", "Arn", "Description", "Policy", "CreationTime", "LastModifiedTime")
        if key in bus
    }


async def update_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name = get_bus(ctx, body.get("Name"))["Name"]

    def update(bus: dict[str, Any] | None) -> dict[str, Any]:
        if bus is None:
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        bus = dict(bus)
        for key in _OPTIONAL:
            if body.get(key) is not None:
                bus[key] = body[key]
        bus["LastModifiedTime"] = time.time()
        return bus

    bus = await ctx.store.modify(BUS, bus_key(ctx.scope, name), update)
    assert bus is not None
    answer = {"Arn": bus["Arn"], "Name": bus["Name"]}
    answer.update({key: bus[key] for key in _OPTIONAL if key in bus})
    return answer


async def delete_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    if name == DEFAULT_BUS:
        raise ValidationException("Cannot delete event bus default.")
    key = bus_key(ctx.scope, name)
    bus = ctx.store.get_resource(BUS, key)
    # Like AWS, deleting a bus that does not exist succeeds: the caller's goal is met.
    if bus is not None:
        # The rule ledger counts rules being created too, not only those already stored.
        counted = ctx.store.get_resource(QUOTA, quotas.ledger_key(RULE, key))
        if counted or ctx.store.list_resources(RULE, ctx.scope.key(name, "")):
            raise ValidationException(f"Cannot delete event bus {name} while it has rules: delete them first.")
        await ctx.store.delete_resource(BUS, key)
        await quotas.release(ctx.store, BUS, ctx.scope.prefix, name)
        await ctx.store.delete_resource(TAGS, bus["Arn"])
    return {}
