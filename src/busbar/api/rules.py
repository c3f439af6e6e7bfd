"""Rules: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
ListRuleNamesByTarget.

A rule is stored as one document under ``(rule, "<account>/<region>/<bus>/<name>")``
holding its targets too, so PutTargets/RemoveTargets change a rule in one
compare-and-set.  Routing follows every change at once: the rule index listens to
the store's changes (:meth:`busbar.ruleindex.RuleIndex.follow`), on every node, and
so does the scheduler (:mod:`busbar.scheduler`) for rules with a ``ScheduleExpression``.

A ``rate(...)`` schedule counts from its *anchor* (``ScheduleAnchor``, epoch seconds,
never answered): set when the schedule is set or changed and whenever the rule is
enabled.  Rules an AWS service made for the user (an archive's) carry ``ManagedBy``;
users may not change them, and may delete them or their targets only with ``Force``,
as in AWS.
"""

from __future__ import annotations

import time
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import (
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import listing
from busbar.api.patterns import compile_pattern
from busbar.api.resources import bus_name, check_unmanaged, get_bus, managed_rule
from busbar.api.tags import add_tags
from busbar.model.arns import rule_arn
from busbar.resources import quotas
from busbar.resources.kinds import DEFAULT_BUS, RULE, TAGS, bus_key, rule_key
from busbar.resources.lookup import find_rule, rules_of_bus
from busbar.schedules import InvalidScheduleExpression, parse_schedule

_DESCRIBED = (
    "Name",
    "Arn",
    "EventPattern",
    "ScheduleExpression",
    "State",
    "Description",
    "RoleArn",
    "ManagedBy",
    "EventBusName",
    "CreatedBy",
)
_LISTED = (
    "Name",
    "Arn",
    "EventPattern",
    "State",
    "Description",
    "ScheduleExpression",
    "RoleArn",
    "ManagedBy",
    "EventBusName",
)
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."


def rule_not_found(name: str, bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")


def get_rule(ctx: Context, name: str, bus_or_arn: str | None) -> dict[str, Any]:
    """The stored rule, or ResourceNotFoundException in AWS's words."""
    bus = bus_name(ctx, bus_or_arn)
    rule = find_rule(ctx.store, ctx.scope, bus, name)
    if rule is None:
        raise rule_not_found(name, bus)
    return rule


async def change_rule(
    ctx: Context, name: str, bus_or_arn: str | None, change: Any, managed: bool = False
) -> dict[str, Any]:
    """Apply *change* (stored rule -> new rule) to an existing rule atomically; a managed
    rule only when *managed* (the caller checked it may)."""
    bus = bus_name(ctx, bus_or_arn)

    def apply(rule: dict[str, Any] | None) -> dict[str, Any]:
        if rule is None:
            raise rule_not_found(name, bus)
        if not managed:
            check_unmanaged(rule)
        new: dict[str, Any] = change(dict(rule))
        new["LastModifiedTime"] = time.time()
        return new

    rule = await ctx.store.modify(RULE, rule_key(ctx.scope, bus, name), apply)
    assert rule is not None
    return rule


def _check_schedule(expression: str, bus: str) -> None:
    if bus != DEFAULT_BUS:
        raise ValidationException("ScheduleExpression is supported only on the default event bus.")
    try:
        parse_schedule(expression)
    except InvalidScheduleExpression as error:
        raise ValidationException(error.message) from None


def _anchor(rule: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Set the rule's rate anchor: now, when its schedule is new or changed or the rule
    was just enabled; else the anchor it had (its ticks keep their times)."""
    schedule = rule.get("ScheduleExpression")
    if schedule is None:
        rule.pop("ScheduleAnchor", None)
        return
    if (
        previous is not None
        and previous.get("ScheduleExpression") == schedule
        and "ScheduleAnchor" in previous
        and not (previous.get("State") == "DISABLED" and rule["State"] != "DISABLED")
    ):
        rule["ScheduleAnchor"] = previous["ScheduleAnchor"]
    else:
        rule["ScheduleAnchor"] = time.time()


async def put_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    pattern, schedule = body.get("EventPattern"), body.get("ScheduleExpression")
    if not pattern and not schedule:
        raise ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
    if pattern:
        compile_pattern(ctx, pattern)
    if schedule:
        _check_schedule(schedule, bus)
    store, scope = ctx.store, ctx.scope
    existing = find_rule(store, scope, bus, name)
    if existing is not None:
        check_unmanaged(existing)
    else:
        try:
            await quotas.reserve(
                store,
                RULE,
                bus_key(scope, bus),
                name,
                ctx.settings.limits.max_rules_per_bus,
                lambda kept: find_rule(store, scope, bus, kept) is not None,
            )
        except quotas.QuotaExceeded:
            raise LimitExceededException(LIMIT_EXCEEDED) from None
    arn = rule_arn(scope.region, scope.account, bus, name)

    def upsert(existing: dict[str, Any] | None) -> dict[str, Any]:
        if existing is not None:
            check_unmanaged(existing)
        now = time.time()
        rule: dict[str, Any] = {
            "Name": name,
            "Arn": arn,
            "EventBusName": bus,
            "State": body.get("State") or "ENABLED",
            "CreatedBy": scope.account,
            "CreationTime": existing["CreationTime"] if existing else now,
            "LastModifiedTime": now,
            "Targets": existing["Targets"] if existing else [],
        }
        for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
            if body.get(key) is not None:
                rule[key] = body[key]
        _anchor(rule, existing)
        return rule

    await store.modify(RULE, rule_key(scope, bus, name), upsert)
    if body.get("Tags"):
        await add_tags(ctx, arn, body["Tags"])
    return {"RuleArn": arn}


async def describe_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = get_rule(ctx, body["Name"], body.get("EventBusName"))
    return {key: rule[key] for key in _DESCRIBED if key in rule}


async def list_rules(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    prefix = body.get("NamePrefix") or ""
    rules = [
        (name, {key: rule[key] for key in _LISTED if key in rule})
        for name, rule in rules_of_bus(ctx.store, ctx.scope, bus)
        if name.startswith(prefix)
    ]
    return listing("Rules", rules, body)


async def delete_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    name = body["Name"]
    deleted: list[dict[str, Any]] = []

    def delete(rule: dict[str, Any] | None) -> None:
        if rule is not None and rule.get("ManagedBy"):
            if not body.get("Force"):
                raise managed_rule(name, force_helps=True)
        elif rule is not None and rule["Targets"]:
            raise ValidationException("Rule can't be deleted since it has targets.")
        deleted[:] = [rule] if rule is not None else []

    # As AWS: deleting a rule that does not exist succeeds.
    await ctx.store.modify(RULE, rule_key(ctx.scope, bus, name), delete)
    await quotas.release(ctx.store, RULE, bus_key(ctx.scope, bus), name)
    if deleted:
        await ctx.store.delete_resource(TAGS, deleted[0]["Arn"])
    return {}


def _state(state: str) -> Any:
    def change(rule: dict[str, Any]) -> dict[str, Any]:
        previous = dict(rule)
        rule["State"] = state
        _anchor(rule, previous)
        return rule

    return change


async def enable_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    await change_rule(ctx, body["Name"], body.get("EventBusName"), _state("ENABLED"))
    return {}


async def disable_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    await change_rule(ctx, body["Name"], body.get("EventBusName"), _state("DISABLED"))
    return {}


async def list_rule_names_by_target(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    arn = body["TargetArn"]
    names = [
        (name, name)
        for name, rule in rules_of_bus(ctx.store, ctx.scope, bus)
        if any(target["Arn"] == arn for target in rule["Targets"])
    ]
    return listing("RuleNames", names, body)
