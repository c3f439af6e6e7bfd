"""Resource kinds in the store and how operations find them by name or ARN."""

from __future__ import annotations

import re
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import ResourceNotFoundException
from busbar.model.arns import split_bus_arn

# Kinds of resource documents in the store.
BUS = "event-bus"
RULE = "rule"
TAGS = "tags"
CONNECTION = "connection"
API_DESTINATION = "api-destination"

DEFAULT_BUS = "default"


def bus_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Event bus {name} does not exist.")


def bus_name(ctx: Context, name_or_arn: str | None) -> str:
    """The bus name an operation's ``Name``/``EventBusName`` refers to (``default`` when absent).
    An ARN of another account or region names a bus that does not exist here."""
    if not name_or_arn:
        return DEFAULT_BUS
    parts = split_bus_arn(name_or_arn)
    if parts is None:
        return name_or_arn
    region, account, name = parts
    if region != ctx.region or account != ctx.account:
        raise bus_not_found(name_or_arn)
    return name


def get_bus(ctx: Context, name_or_arn: str | None) -> dict[str, Any]:
    """The stored bus, or ResourceNotFoundException in AWS's words."""
    name = bus_name(ctx, name_or_arn)
    bus = ctx.store.get_resource(BUS, name)
    if bus is None:
        raise bus_not_found(name)
    return bus


_RULE_ARN = re.compile(r"arn:aws[\w-]*:events:([\w-]+):(\d{12}):rule/(?:(.+)/)?([^/]+)")


def check_taggable(ctx: Context, arn: str) -> None:
    """Raise ResourceNotFoundException unless *arn* names a resource that can carry tags."""
    if split_bus_arn(arn) is not None:
        get_bus(ctx, arn)
        return
    rule = _RULE_ARN.fullmatch(arn)
    if rule and rule.group(1) == ctx.region and rule.group(2) == ctx.account:
        bus, name = rule.group(3) or DEFAULT_BUS, rule.group(4)
        if ctx.store.get_resource(RULE, f"{bus}/{name}") is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")
        return
    raise ResourceNotFoundException(f"Resource {arn} does not exist.")
