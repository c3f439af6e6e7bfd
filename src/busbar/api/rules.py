"""Rules: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
ListRuleNamesByTarget.

A rule is stored as one document under ``(rule, "<bus>/<name>")`` holding its
targets too, so PutTargets/RemoveTargets change a rule in one write.  After
every write the in-memory :class:`busbar.ruleindex.RuleIndex` is updated, so
routing follows rule changes without a restart.
"""

from __future__ import annotations

import re
import time
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import LimitExceededException, ResourceNotFoundException, ValidationException
from busbar.api.paging import listing
from busbar.api.patterns import compile_pattern
from busbar.api.resources import DEFAULT_BUS, RULE, TAGS, bus_name, get_bus
from busbar.api.tags import tag_dict
from busbar.model.arns import rule_arn

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
# rate(5 minutes) / cron(0 12 * * ? *): the forms EventBridge accepts.
_RATE = re.compile(r"rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((\S+ ){5}\S+\)")


def rule_key(bus: str, name: str) -> str:
    return f"{bus}/{name}"


def rule_not_found(name: str, bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")


def get_rule(ctx: Context, name: str, bus_or_arn: str | None) -> dict[str, Any]:
    """The stored rule, or ResourceNotFoundException in AWS's words."""
    bus = bus_name(ctx, bus_or_arn)
    rule = ctx.store.get_resource(RULE, rule_key(bus, name))
    if rule is None:
        raise rule_not_found(name, bus)
    return rule


def rules_of_bus(ctx: Context, bus: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, rule) of every rule on *bus*, sorted by name."""
    prefix = f"{bus}/"
    return [
        (key[len(prefix) :], rule)
        for key, rule in ctx.store.list_resources(RULE)
        if key.startswith(prefix) and "/" not in key[len(prefix) :]
    ]


async def save_rule(ctx: Context, rule: dict[str, Any]) -> None:
    """Store *rule* and bring routing up to date."""
    await ctx.store.put_resource(RULE, rule_key(rule["EventBusName"], rule["Name"]), rule)
    ctx.rules.update(rule)


def _check_schedule(expression: str, bus: str) -> None:
    if bus != DEFAULT_BUS:
        raise ValidationException("ScheduleExpression is supported only on the default event bus.")
    if not (_RATE.fullmatch(expression) or _CRON.fullmatch(expression)):
        raise ValidationException("Parameter ScheduleExpression is not valid.")
    match = _RATE.fullmatch(expression)
    if match and (match.group(1) == "1") != (not match.group(2).endswith("s")):
        # AWS wants "rate(1 minute)" and "rate(5 minutes)", never the other number.
        raise ValidationException("Parameter ScheduleExpression is not valid.")


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
    existing = ctx.store.get_resource(RULE, rule_key(bus, name))
    if existing is None and len(rules_of_bus(ctx, bus)) >= ctx.settings.limits.max_rules_per_bus:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.")
    now = time.time()
    rule: dict[str, Any] = {
        "Name": name,
        "Arn": rule_arn(ctx.region, ctx.account, bus, name),
        "EventBusName": bus,
        "State": body.get("State") or "ENABLED",
        "CreatedBy": ctx.account,
        "CreationTime": existing["CreationTime"] if existing else now,
        "LastModifiedTime": now,
        "Targets": existing["Targets"] if existing else [],
    }
    for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
        if body.get(key) is not None:
            rule[key] = body[key]
    await save_rule(ctx, rule)
    if body.get("Tags"):
        tags = dict(ctx.store.get_resource(TAGS, rule["Arn"]) or {})
        tags.update(tag_dict(body["Tags"]))
        await ctx.store.put_resource(TAGS, rule["Arn"], tags)
    return {"RuleArn": rule["Arn"]}


async def describe_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = get_rule(ctx, body["Name"], body.get("EventBusName"))
    return {key: rule[key] for key in _DESCRIBED if key in rule}


async def list_rules(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    prefix = body.get("NamePrefix") or ""
    rules = [
        (name, {key: rule[key] for key in _LISTED if key in rule})
        for name, rule in rules_of_bus(ctx, bus)
        if name.startswith(prefix)
    ]
    return listing("Rules", rules, body)


async def delete_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    rule = ctx.store.get_resource(RULE, rule_key(bus, body["Name"]))
    if rule is None:
        return {}  # as AWS: deleting a rule that does not exist succeeds
    if rule["Targets"]:
        raise ValidationException("Rule can't be deleted since it has targets.")
    await ctx.store.delete_resource(RULE, rule_key(bus, rule["Name"]))
    await ctx.store.delete_resource(TAGS, rule["Arn"])
    ctx.rules.remove(bus, rule["Name"])
    return {}


async def _set_state(ctx: Context, body: dict[str, Any], state: str) -> dict[str, Any]:
    rule = dict(get_rule(ctx, body["Name"], body.get("EventBusName")))
    rule["State"] = state
    rule["LastModifiedTime"] = time.time()
    await save_rule(ctx, rule)
    return {}


async def enable_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return await _set_state(ctx, body, "ENABLED")


async def disable_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return await _set_state(ctx, body, "DISABLED")


async def list_rule_names_by_target(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    bus = get_bus(ctx, body.get("EventBusName"))["Name"]
    arn = body["TargetArn"]
    names = [
        (name, name) for name, rule in rules_of_bus(ctx, bus) if any(target["Arn"] == arn for target in rule["Targets"])
    ]
    return listing("RuleNames", names, body)
