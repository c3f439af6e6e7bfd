"""May this caller put events on that bus? An event bus's resource-based policy, evaluated as IAM
evaluates one for ``events:PutEvents``.

IAM's order: an applicable ``Deny`` wins; otherwise an applicable ``Allow`` allows; otherwise the
answer is an implicit deny. A statement applies when its principal, action, resource and
condition all match the request. busbar has no identity-based policies, so:

- a caller of **another account** may put events only where the bus policy allows it;
- a caller of **the bus's own account** may, unless the bus policy denies it explicitly.

A condition busbar cannot evaluate (a numeric, date or IP operator) fails closed: its ``Allow``
does not apply and its ``Deny`` does.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .conditions import Context, condition_holds
from .matching import action_like, arn_like

PUT_EVENTS = "events:PutEvents"
ACCESS_DENIED = "AccessDeniedException"


class Decision(enum.Enum):
    """IAM's three answers."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Caller:
    """Who is asking: an account, the organization it belongs to (when known) and the IAM
    principal's ARN (the account's root when busbar knows only the account)."""

    account: str
    org_id: str | None = None
    principal_arn: str | None = None
    partition: str = "aws"

    @property
    def arn(self) -> str:
        return self.principal_arn or f"arn:{self.partition}:iam::{self.account}:root"


@dataclass(frozen=True)
class Request:
    """One action on one resource by one caller, with the context keys conditions may test."""

    caller: Caller
    action: str
    resource: str
    extra_context: Mapping[str, str] = field(default_factory=dict)

    def context(self) -> Context:
        keys = {
            "aws:principalaccount": self.caller.account,
            "aws:principalarn": self.caller.arn,
        }
        if self.caller.org_id:
            keys["aws:principalorgid"] = self.caller.org_id
        keys.update({k.lower(): v for k, v in self.extra_context.items()})
        return keys


@dataclass(frozen=True)
class EntryError:
    """How a refused ``PutEvents`` entry is answered: ``ErrorCode`` and ``ErrorMessage``."""

    code: str
    message: str


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class _Statement:
    effect: str
    principal: Any
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    condition: Mapping[str, Any]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Statement:
        principal_key = "NotPrincipal" if "NotPrincipal" in raw else "Principal"
        action_key = "NotAction" if "NotAction" in raw else "Action"
        resource_key = "NotResource" if "NotResource" in raw else "Resource"
        return cls(
            effect=str(raw.get("Effect")),
            principal=raw.get(principal_key),
            not_principal=principal_key == "NotPrincipal",
            actions=tuple(str(a) for a in _as_list(raw.get(action_key, []))),
            not_action=action_key == "NotAction",
            resources=tuple(str(r) for r in _as_list(raw.get(resource_key, []))),
            not_resource=resource_key == "NotResource",
            condition=raw.get("Condition") or {},
        )

    def applies(self, request: Request, context: Context) -> bool | None:
        """Whether this statement covers *request*; None when only an unknown condition
        operator stands between it and a yes."""
        if _principal_matches(self.principal, request.caller) == self.not_principal:
            return False
        if any(action_like(a, request.action) for a in self.actions) == self.not_action:
            return False
        if any(arn_like(r, request.resource) for r in self.resources) == self.not_resource:
            return False
        return condition_holds(self.condition, context)


def _principal_matches(principal: Any, caller: Caller) -> bool:
    """``"*"``, ``{"AWS": "*"}``, an account (``"123456789012"`` or its ``:root`` ARN) or a
    principal's own ARN. Service and federated principals never match an account's caller."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _as_list(principal.get("AWS", [])):
        if value in ("*", caller.account, caller.arn):
            return True
        if isinstance(value, str) and value.startswith("arn:") and value.endswith(f":iam::{caller.account}:root"):
            return True
    return False


class BusPolicy:
    """An event bus's policy, read once and ready to answer requests. Build it from the stored
    document (dict) or the JSON text ``DescribeEventBus`` shows; ``None`` is a bus without a
    policy."""

    def __init__(self, document: Mapping[str, Any] | str | None) -> None:
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = _as_list(parsed.get("Statement", [])) if isinstance(parsed, Mapping) else []
        self._statements = tuple(_Statement.of(s) for s in statements if isinstance(s, Mapping))

    def decide(self, request: Request) -> Decision:
        """IAM's answer for *request* from this policy alone."""
        context = request.context()
        allowed = False
        for statement in self._statements:
            applies = statement.applies(request, context)
            if statement.effect == "Deny" and applies is not False:
                return Decision.EXPLICIT_DENY  # an unknown condition on a Deny: fail closed
            if statement.effect == "Allow" and applies is True:
                allowed = True
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


PolicyLike = BusPolicy | Mapping[str, Any] | str | None


def _policy(policy: PolicyLike) -> BusPolicy:
    return policy if isinstance(policy, BusPolicy) else BusPolicy(policy)


def _bus_account(bus_arn: str) -> str:
    parts = bus_arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def _put_events_request(
    bus_arn: str, caller: Caller, source: str | None, detail_type: str | None, extra: Mapping[str, str] | None
) -> Request:
    context = dict(extra or {})
    if source is not None:
        context["events:source"] = source
    if detail_type is not None:
        context["events:detail-type"] = detail_type
    return Request(caller, PUT_EVENTS, bus_arn, context)


def put_events_denial(
    policy: PolicyLike,
    bus_arn: str,
    caller: Caller,
    *,
    source: str | None = None,
    detail_type: str | None = None,
    extra_context: Mapping[str, str] | None = None,
) -> EntryError | None:
    """None when *caller* may put an event (with *source* and *detail_type*) on the bus
    *bus_arn* under *policy*; otherwise the entry's error: ``AccessDeniedException`` with IAM's
    wording of why."""
    decision = _policy(policy).decide(_put_events_request(bus_arn, caller, source, detail_type, extra_context))
    same_account = caller.account == _bus_account(bus_arn)
    if decision is Decision.ALLOW or (same_account and decision is Decision.IMPLICIT_DENY):
        return None
    why = (
        "with an explicit deny in a resource-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no resource-based policy allows the {PUT_EVENTS} action"
    )
    return EntryError(
        ACCESS_DENIED, f"User: {caller.arn} is not authorized to perform: {PUT_EVENTS} on resource: {bus_arn} {why}"
    )


def allows_put_events(
    policy: PolicyLike,
    bus_arn: str,
    caller_account: str,
    caller_org: str | None = None,
    *,
    source: str | None = None,
    detail_type: str | None = None,
) -> bool:
    """Whether account *caller_account* (of organization *caller_org*, when known) may put an
    event on the bus *bus_arn* whose policy is *policy* (``None``: the bus has none)."""
    caller = Caller(caller_account, caller_org, partition=bus_arn.split(":", 2)[1] if ":" in bus_arn else "aws")
    return put_events_denial(policy, bus_arn, caller, source=source, detail_type=detail_type) is None
