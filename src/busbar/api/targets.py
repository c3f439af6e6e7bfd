"""Targets of rules: PutTargets, RemoveTargets, ListTargetsByRule.

Every target is checked before any is stored: its ARN must have AWS's form and name
a kind busbar delivers to (:class:`busbar.model.arns.TargetKind`), and its input
shaping must compile.  A request with a bad target changes nothing.  The rule's
targets change in one compare-and-set, so concurrent calls never lose a target and
the quota of targets per rule holds.
"""

from __future__ import annotations

from typing import Any

from busbar.api.context import Context
from busbar.api.errors import LimitExceededException, ValidationException
from busbar.api.paging import listing
from busbar.api.rules import LIMIT_EXCEEDED, change_rule, get_rule
from busbar.model import arns
from busbar.model.arns import TargetKind
from busbar.transform import InvalidTargetInput, compile_target_input

# Target members busbar delivers with; the rest (Kinesis, ECS, ...) belong to kinds it refuses.
_KEPT = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "HttpParameters",
    "DeadLetterConfig",
    "RetryPolicy",
)
_SHAPING = ("Input", "InputPath", "InputTransformer")
# The kinds busbar delivers to, and how its refusal names them.
DELIVERED = frozenset({TargetKind.API_DESTINATION, TargetKind.EVENT_BUS, TargetKind.LOG_GROUP})
SUPPORTED = "API destinations, event buses and CloudWatch log groups"


def arn_not_valid(arn: str) -> ValidationException:
    return ValidationException(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")


def _check_target(ctx: Context, target: dict[str, Any]) -> None:
    target_id, arn = target["Id"], target["Arn"]
    parsed = arns.parse_target(arn)
    if parsed is None:
        generic = arns.parse(arn)
        if generic is None or generic.service == "logs":  # a log group's name is part of its ARN's format
            raise arn_not_valid(arn)
        raise ValidationException(f"Target {target_id}: busbar cannot deliver to {arn}. It delivers to {SUPPORTED}.")
    if parsed.kind not in DELIVERED:
        raise ValidationException(f"Target {target_id}: busbar cannot deliver to {arn}. It delivers to {SUPPORTED}.")
    if (parsed.region, parsed.account) != (ctx.region, ctx.account):
        raise ValidationException(
            f"Target {target_id}: {arn} is not in this busbar's account {ctx.account} and region {ctx.region}."
        )
    if parsed.kind is TargetKind.EVENT_BUS and any(target.get(key) is not None for key in _SHAPING):
        raise ValidationException(
            f"Target {target_id}: Input, InputPath and InputTransformer are not supported for event bus targets; "
            "the event is forwarded as it is."
        )
    try:
        compile_target_input(target)
    except InvalidTargetInput as error:
        raise ValidationException(str(error)) from None
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None:
        dlq = arns.parse_target(dead_letter)
        if dlq is None or dlq.kind is not TargetKind.EVENT_BUS:
            raise ValidationException(
                f"Target {target_id}: DeadLetterConfig.Arn must be an event bus ARN: busbar has no SQS, "
                "it puts dead letters on a bus."
            )


async def put_targets(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    get_rule(ctx, body["Rule"], body.get("EventBusName"))
    new = [{key: target[key] for key in _KEPT if target.get(key) is not None} for target in body["Targets"]]
    for target in new:
        _check_target(ctx, target)
    limit = ctx.settings.limits.max_targets_per_rule

    def add(rule: dict[str, Any]) -> dict[str, Any]:
        by_id = {target["Id"]: target for target in rule["Targets"]}
        by_id.update({target["Id"]: target for target in new})
        if len(by_id) > limit:
            raise LimitExceededException(LIMIT_EXCEEDED)
        rule["Targets"] = sorted(by_id.values(), key=lambda target: target["Id"])
        return rule

    await change_rule(ctx, body["Rule"], body.get("EventBusName"), add)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def remove_targets(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    ids = set(body["Ids"])

    def remove(rule: dict[str, Any]) -> dict[str, Any]:
        rule["Targets"] = [target for target in rule["Targets"] if target["Id"] not in ids]
        return rule

    await change_rule(ctx, body["Rule"], body.get("EventBusName"), remove)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = get_rule(ctx, body["Rule"], body.get("EventBusName"))
    return listing("Targets", [(target["Id"], target) for target in rule["Targets"]], body)
