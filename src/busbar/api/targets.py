"""Targets of rules: PutTargets, RemoveTargets, ListTargetsByRule.

Every target is checked before any is stored: its ARN must be a kind busbar can
deliver to (see :mod:`busbar.delivery.kinds`), with the parameters AWS requires
(see :mod:`busbar.delivery.aws.params`), and its input shaping must compile.  A
request with a bad target changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import LimitExceededException, ValidationException
from busbar.api.paging import listing
from busbar.api.rules import get_rule, save_rule
from busbar.delivery.aws.params import PARAMETERS, InvalidTarget, check_target
from busbar.delivery.kinds import TargetKind, target_kind
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
        dlq = target_kind(dead_letter)
        if dlq is None or dlq[0] is not TargetKind.EVENT_BUS:
            raise ValidationException(
                f"Target {target_id}: DeadLetterConfig.Arn must be an event bus ARN: busbar has no SQS, "
                "it puts dead letters on a bus."
            )


async def put_targets(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = dict(get_rule(ctx, body["Rule"], body.get("EventBusName")))
    new = [{key: target[key] for key in _KEPT if target.get(key) is not None} for target in body["Targets"]]
    for target in new:
        _check_target(ctx, target)
    by_id = {target["Id"]: target for target in rule["Targets"]}
    by_id.update({target["Id"]: target for target in new})
    if len(by_id) > ctx.settings.limits.max_targets_per_rule:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.")
    rule["Targets"] = sorted(by_id.values(), key=lambda target: target["Id"])
    rule["LastModifiedTime"] = time.time()
    await save_rule(ctx, rule)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def remove_targets(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = dict(get_rule(ctx, body["Rule"], body.get("EventBusName")))
    ids = set(body["Ids"])
    rule["Targets"] = [target for target in rule["Targets"] if target["Id"] not in ids]
    rule["LastModifiedTime"] = time.time()
    await save_rule(ctx, rule)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    rule = get_rule(ctx, body["Rule"], body.get("EventBusName"))
    return listing("Targets", [(target["Id"], target) for target in rule["Targets"]], body)
