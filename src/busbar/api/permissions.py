"""Event bus policies: PutPermission and RemovePermission (DescribeEventBus answers the
policy as ``Policy``).

The documents are built by :mod:`busbar.policies` exactly as AWS builds them; a bus
keeps its policy as the JSON text DescribeEventBus answers, changed by compare-and-set.
PutEvents consults it (:func:`put_events_refusal`) when an account puts events on a bus
of another account, named by ARN, and whenever the bus has a policy (an explicit
``Deny`` holds for the bus's own account too).
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import (
    AwsError,
    PolicyLengthExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.resources import bus_not_found, get_bus
from busbar.model.entries import EntryError
from busbar.policies import (
    NOT_FOUND,
    TOO_LONG,
    BusPolicy,
    Caller,
    PolicyError,
    policy_text,
    put_events_denial,
    put_permission,
    remove_permission,
)
from busbar.resources.kinds import BUS, bus_key

_ERRORS: dict[str, type[AwsError]] = {
    NOT_FOUND: ResourceNotFoundException,
    TOO_LONG: PolicyLengthExceededException,
}


def _aws_error(error: PolicyError) -> AwsError:
    return _ERRORS.get(error.code, ValidationException)(error.message)


async def _change_policy(ctx: Context, bus_name: str | None, change: Any) -> None:
    """Apply *change* (policy document or None -> new document or None) to a bus's policy."""
    name = get_bus(ctx, bus_name)["Name"]

    def apply(bus: dict[str, Any] | None) -> dict[str, Any]:
        if bus is None:
            raise bus_not_found(name)
        stored = bus.get("Policy")
        try:
            new = change(json.loads(stored) if stored else None, bus["Arn"])
        except PolicyError as error:
            raise _aws_error(error) from None
        bus = dict(bus)
        text = policy_text(new)
        if text is None:
            bus.pop("Policy", None)
        else:
            bus["Policy"] = text
        bus["LastModifiedTime"] = time.time()
        return bus

    await ctx.store.modify(BUS, bus_key(ctx.scope, name), apply)


async def put_permission_op(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    await _change_policy(
        ctx,
        body.get("EventBusName"),
        lambda policy, arn: put_permission(
            policy,
            arn,
            action=body.get("Action"),
            principal=body.get("Principal"),
            statement_id=body.get("StatementId"),
            condition=body.get("Condition"),
            policy_document=body.get("Policy"),
        ),
    )
    return {}


async def remove_permission_op(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    await _change_policy(
        ctx,
        body.get("EventBusName"),
        lambda policy, arn: remove_permission(
            policy, statement_id=body.get("StatementId"), remove_all=bool(body.get("RemoveAllPermissions"))
        ),
    )
    return {}


@lru_cache(maxsize=1024)
def _policy(text: str) -> BusPolicy:
    """A bus's policy, read once per text (PutEvents consults it for every entry)."""
    return BusPolicy(text)


def put_events_refusal(ctx: Context, bus: dict[str, Any], source: str, detail_type: str) -> EntryError | None:
    """Why the request's account may not put this entry on *bus* (another account's, or
    one with a policy), or None when it may."""
    text = bus.get("Policy")
    denial = put_events_denial(
        _policy(text) if text else None, bus["Arn"], Caller(ctx.account), source=source, detail_type=detail_type
    )
    return EntryError(denial.code, denial.message) if denial is not None else None
