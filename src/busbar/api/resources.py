"""Resources as operations find them: by name or ARN in the request's scope, or an
AWS error in AWS's words (the lookups themselves are :mod:`busbar.resources.lookup`)."""

from __future__ import annotations

from typing import Any

from busbar.api.context import Context
from busbar.api.errors import ManagedRuleException, ResourceNotFoundException
from busbar.model import arns
from busbar.resources.kinds import BUS, DEFAULT_BUS, RULE, bus_key
from busbar.resources.scope import Scope


def bus_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Event bus {name} does not exist.")


def bus_ref(ctx: Context, name_or_arn: str | None) -> tuple[Scope, str]:
    """(scope, name) of the bus an operation's ``Name``/``EventBusName`` refers to
    (``default`` when absent).  An ARN names a bus of its own account and region; only
    the request's own account may be named (other accounts' buses are reached through
    their policies, see PutEvents)."""
    if not name_or_arn:
        return ctx.scope, DEFAULT_BUS
    parts = arns.parse_events(name_or_arn, "event-bus")
    if parts is None:
        return ctx.scope, name_or_arn
    return Scope(parts.account, parts.region), parts.name


def bus_name(ctx: Context, name_or_arn: str | None) -> str:
    """The name of a bus of the request's own scope; an ARN of another scope names a bus
    that does not exist here."""
    scope, name = bus_ref(ctx, name_or_arn)
    if scope != ctx.scope:
        raise bus_not_found(name_or_arn or name)
    return name


def get_bus(ctx: Context, name_or_arn: str | None) -> dict[str, Any]:
    """The stored bus of the request's scope, or ResourceNotFoundException in AWS's words."""
    name = bus_name(ctx, name_or_arn)
    bus = ctx.store.get_resource(BUS, bus_key(ctx.scope, name))
    if bus is None:
        raise bus_not_found(name)
    return bus


def managed_rule(name: str, force_helps: bool = False) -> ManagedRuleException:
    """AWS's answer to changing a rule an AWS service manages (DeleteRule and
    RemoveTargets may, with ``Force``; the other operations never may)."""
    if force_helps:
        return ManagedRuleException(f"{name} is a managed rule. Set 'force' parameter to true to override.")
    return ManagedRuleException(f"{name} is a managed rule: only the service that made it may change it.")


def check_unmanaged(rule: dict[str, Any]) -> None:
    """Refuse to change a managed rule (PutRule, PutTargets, EnableRule, DisableRule, tags)."""
    if rule.get("ManagedBy"):
        raise managed_rule(rule["Name"])


def check_taggable(ctx: Context, arn: str, changing: bool = False) -> None:
    """Raise ResourceNotFoundException unless *arn* names a resource that can carry tags
    (and, when *changing* them, is not a managed rule)."""
    parts = arns.parse_events(arn)
    if parts is not None and parts.kind == "event-bus":
        get_bus(ctx, arn)
        return
    if parts is not None and parts.kind == "rule" and (parts.region, parts.account) == (ctx.region, ctx.account):
        rule = ctx.store.get_resource(RULE, ctx.scope.key(parts.bus, parts.name))
        if rule is None:
            raise ResourceNotFoundException(f"Rule {parts.name} does not exist on EventBus {parts.bus}.")
        if changing:
            check_unmanaged(rule)
        return
    raise ResourceNotFoundException(f"Resource {arn} does not exist.")
