"""Targets of rules: PutTargets, RemoveTargets, ListTargetsByRule.

Every target is checked before any is stored: its ARN must have AWS's form and name
a kind busbar delivers to, with the parameters AWS requires
(:mod:`busbar.api.target_checks`), and its input shaping must compile.  A request
with a bad target changes nothing.  The rule's targets change in one
compare-and-set, so concurrent calls never lose a target and the quota of targets
per rule holds.
"""

from __future__ import annotations

from typing import Any

from busbar.api.context import Context
from busbar.api.errors import LimitExceededException, ValidationException
from busbar.api.paging import listing
from busbar.api.quota import LIMIT_EXCEEDED
from busbar.api.resources import check_unmanaged, managed_rule
from busbar.api.rules import change_rule, get_rule
from busbar.api.target_checks import PARAMETERS, InvalidTarget, check_target
from busbar.model import arns
from busbar.model.arns import TargetKind
from busbar.transform import InvalidTargetInput, compile_target_input

# Target members busbar keeps (the *Parameters of kinds it refuses never get stored).
_KEPT = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "HttpParameters",
    *PARAMETERS,
    "DeadLetterConfig",
    "RetryPolicy",
)
_SHAPING = ("Input", "InputPath", "InputTransformer")


def _check_target(ctx: Context, target: dict[str, Any]) -> None:
    target_id = target["Id"]
    try:
        kind = check_target(target, aws_targets=ctx.settings.aws_targets, account=ctx.account, region=ctx.region)
    except InvalidTarget as error:
        raise ValidationException(str(error)) from None
    if kind is TargetKind.EVENT_BUS and any(target.get(key) is not None for key in _SHAPING):
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
        if dlq is not None and dlq.kind is TargetKind.SQS and ctx.settings.aws_targets:
            if dlq.name.endswith(".fifo"):
                raise ValidationException("SQS FIFO is not supported by Dead Letter Queues.")
        elif dlq is None or dlq.kind is not TargetKind.EVENT_BUS:
            raise ValidationException(
                f"Target {target_id}: DeadLetterConfig.Arn must be an SQS queue ARN (with --aws-targets) or an "
                "event bus ARN (busbar puts dead letters on a bus)."
                if ctx.settings.aws_targets
                else f"Target {target_id}: DeadLetterConfig.Arn must be an event bus ARN: busbar has no SQS "
                "without --aws-targets, it puts dead letters on a bus."
            )


async def put_targets(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    check_unmanaged(get_rule(ctx, body["Rule"], body.get("EventBusName")))
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
    force = bool(body.get("Force"))

    def remove(rule: dict[str, Any]) -> dict[str, Any]:
        if rule.get("ManagedBy") and not force:
            raise managed_rule(rule["Name"], force_helps=True)
        rule["Targets"] = [target for target in rule["Targets"] if target["Id"] not in ids]
        return rule

    await change_rule(ctx, body["Rule"], body.get("EventBusName"), remove, managed=True)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = get_rule(ctx, body["Rule"], body.get("EventBusName"))
    return listing("Targets", [(target["Id"], target) for target in rule["Targets"]], body)
