"""Event buses: CreateEventBus, DescribeEventBus, ListEventBuses, UpdateEventBus,
DeleteEventBus.  The bus ``default`` always exists."""

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
from busbar.api.resources import BUS, DEFAULT_BUS, RULE, TAGS, get_bus
from busbar.api.tags import tag_dict
from busbar.model.arns import bus_arn
from busbar.store.base import AlreadyExists

# Members of a bus that UpdateEventBus may change and Describe answers.
_OPTIONAL = ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig")


async def ensure_default_bus(ctx: Context) -> None:
    """Create ``default`` on a new store."""
    if ctx.store.get_resource(BUS, DEFAULT_BUS) is None:
        await ctx.store.put_resource(BUS, DEFAULT_BUS, _new_bus(ctx, DEFAULT_BUS, {}))


def _new_bus(ctx: Context, name: str, body: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    bus = {"Name": name, "Arn": bus_arn(ctx.region, ctx.account, name), "CreationTime": now, "LastModifiedTime": now}
    bus.update({key: body[key] for key in _OPTIONAL if body.get(key) is not None})
    return bus


async def create_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    if body.get("EventSourceName") is not None:
        # Partner event sources come from SaaS partners through AWS; none exist here.
        raise ResourceNotFoundException(f"Event source {body['EventSourceName']} does not exist.")
    if "/" in name:
        raise ValidationException(
            f"Event bus name {name} is not valid: '/' is allowed only in the names of partner event buses."
        )
    if ctx.store.get_resource(BUS, name) is not None:
        raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
    if len(ctx.store.list_resources(BUS)) >= ctx.settings.limits.max_event_buses:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.")
    bus = _new_bus(ctx, name, body)
    try:
        await ctx.store.create_resource(BUS, name, bus)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Event bus {name} already exists.") from None
    if body.get("Tags"):
        await ctx.store.put_resource(TAGS, bus["Arn"], tag_dict(body["Tags"]))
    answer = {"EventBusArn": bus["Arn"]}
    answer.update({key: bus[key] for key in _OPTIONAL if key in bus})
    return answer


async def describe_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return dict(get_bus(ctx, body.get("Name")))


async def list_event_buses(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("NamePrefix") or ""
    buses = [(name, _listed(bus)) for name, bus in ctx.store.list_resources(BUS) if name.startswith(prefix)]
    return listing("EventBuses", buses, body)


def _listed(bus: dict[str, Any]) -> dict[str, Any]:
    return {
        key: bus[key]
        for key in ("Name", "Arn", "Description", "Policy", "CreationTime", "LastModifiedTime")
        if key in bus
    }


async def update_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = dict(get_bus(ctx, body.get("Name")))
    for key in _OPTIONAL:
        if body.get(key) is not None:
            bus[key] = body[key]
    bus["LastModifiedTime"] = time.time()
    await ctx.store.put_resource(BUS, bus["Name"], bus)
    answer = {"Arn": bus["Arn"], "Name": bus["Name"]}
    answer.update({key: bus[key] for key in _OPTIONAL if key in bus})
    return answer


async def delete_event_bus(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    if name == DEFAULT_BUS:
        raise ValidationException("Cannot delete event bus default.")
    bus = ctx.store.get_resource(BUS, name)
    # Like AWS, deleting a bus that does not exist succeeds: the caller's goal is met.
    if bus is not None:
        if any(key.startswith(f"{name}/") for key, _ in ctx.store.list_resources(RULE)):
            raise ValidationException(f"Cannot delete event bus {name} while it has rules: delete them first.")
        await ctx.store.delete_resource(BUS, name)
        await ctx.store.delete_resource(TAGS, bus["Arn"])
    return {}
