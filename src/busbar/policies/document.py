"""An event bus's policy document, changed as ``PutPermission`` and ``RemovePermission`` change it.

The functions take the stored document (a dict, or None for a bus without a policy) and return
the new one; they never change their argument. ``policy_text`` is what ``DescribeEventBus``
answers as ``Policy``.

What ``PutPermission`` builds from ``Action``, ``Principal``, ``StatementId`` and ``Condition``
(AWS's recorded answers, tests/data/conformance/permissions-aws.snapshot.json)::

    {"Version": "2012-10-17",
     "Statement": [{"Sid": "<StatementId>", "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::<account>:root"}   (or "*"),
                    "Action": "events:PutEvents",
                    "Resource": "<the bus's ARN>",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "<Value>"}}}]}  (when given)

A statement whose ``Sid`` is already there replaces it; ``Policy`` replaces the whole document.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from .conditions import known_operator
from .errors import NOT_FOUND, TOO_LONG, VALIDATION, PolicyError
from .evaluate import PUT_EVENTS
from .matching import like

MAX_POLICY_CHARS = 10_240
"""EventBridge's quota on a bus policy ("cannot exceed 10 KB"), in characters of the stored JSON."""

VERSION = "2012-10-17"
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_AWS_PRINCIPAL = re.compile(r"\*|[0-9]{12}|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
# The model's constraints (botocore's service model), which the server checks before an
# operation runs; repeated here so that the library never builds a statement from values AWS
# would have refused, with the words the server would have used.
_MODEL = {
    "Action": ("action", r"events:[a-zA-Z]+", 1, 64),
    "Principal": ("principal", r"(\d{12}|\*)", 1, 12),
    "StatementId": ("statementId", r"[a-zA-Z0-9-_]+", 1, 64),
}


def policy_text(policy: Mapping[str, Any] | None) -> str | None:
    """The policy as ``DescribeEventBus`` answers it: compact JSON text, or None (no ``Policy``
    member) for a bus without one."""
    return None if policy is None else json.dumps(policy, separators=(",", ":"), ensure_ascii=False)


def put_permission(
    policy: Mapping[str, Any] | None,
    bus_arn: str,
    *,
    action: str | None = None,
    principal: str | None = None,
    statement_id: str | None = None,
    condition: Mapping[str, Any] | None = None,
    policy_document: str | None = None,
) -> dict[str, Any]:
    """The bus's policy after ``PutPermission``: either the statement that ``Action``,
    ``Principal``, ``StatementId`` and ``Condition`` describe, added to *policy* (or replacing the
    statement with the same ``Sid``), or the whole ``Policy`` document *policy_document*.
    Raise :class:`PolicyError` with AWS's code and message when AWS would refuse the request."""
    if policy_document is not None:
        if any(v is not None for v in (action, principal, statement_id, condition)):
            raise PolicyError(
                VALIDATION, "Action, Principal, StatementId and Condition could not be combined with Policy parameter."
            )
        new = validate_policy_document(policy_document, bus_arn)
    else:
        new = _with_statement(policy, _statement(bus_arn, action, principal, statement_id, condition))
    if len(policy_text(new) or "") > MAX_POLICY_CHARS:
        raise PolicyError(TOO_LONG, "Policy size would be larger than the maximum allowed.")
    return new


def remove_permission(
    policy: Mapping[str, Any] | None, *, statement_id: str | None = None, remove_all: bool = False
) -> dict[str, Any] | None:
    """The bus's policy after ``RemovePermission``: without the statement *statement_id*, or
    with none at all (*remove_all*). A policy left without statements is removed (None)."""
    if remove_all:
        if statement_id is not None:
            raise PolicyError(VALIDATION, "StatementId could not be combined with All parameter.")
        if policy is None:
            raise PolicyError(NOT_FOUND, "EventBus does not have a policy.")
        return None
    if statement_id is None:
        raise PolicyError(VALIDATION, "Parameter(s) StatementId must be specified.")
    statements = _statements(policy)
    kept = [s for s in statements if not (isinstance(s, Mapping) and s.get("Sid") == statement_id)]
    if len(kept) == len(statements):
        raise PolicyError(NOT_FOUND, "Statement with the provided id does not exist.")
    if not kept:
        return None
    assert policy is not None  # it had the statement
    new = copy.deepcopy(dict(policy))
    new["Statement"] = copy.deepcopy(kept)
    return new


def _statements(policy: Mapping[str, Any] | None) -> list[Any]:
    if policy is None:
        return []
    statements = policy.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _check_model(member: str, value: str | None) -> str:
    name, pattern, low, high = _MODEL[member]
    if value is None:
        raise PolicyError(VALIDATION, "Parameter(s) Action, Principal and StatementId must be specified.")
    if not low <= len(value) <= high:
        bound = f"greater than or equal to {low}" if len(value) < low else f"less than or equal to {high}"
        raise PolicyError(
            VALIDATION,
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have length {bound}",
        )
    if not re.fullmatch(pattern, value):
        raise PolicyError(
            VALIDATION,
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}",
        )
    return value


def _statement(
    bus_arn: str,
    action: str | None,
    principal: str | None,
    statement_id: str | None,
    condition: Mapping[str, Any] | None,
) -> dict[str, Any]:
    for member, value in (("Action", action), ("Principal", principal), ("StatementId", statement_id)):
        _check_model(member, value)
    if action != PUT_EVENTS:
        raise PolicyError(VALIDATION, "Provided value in parameter 'action' is not supported.")
    assert principal is not None and statement_id is not None  # checked above
    if condition is not None and principal != "*":
        raise PolicyError(
            VALIDATION, "Value of the parameter 'principal' must be '*' when the parameter 'condition' is set."
        )
    partition = bus_arn.split(":", 2)[1] if bus_arn.count(":") >= 2 else "aws"
    statement: dict[str, Any] = {
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:{partition}:iam::{principal}:root"},
        "Action": PUT_EVENTS,
        "Resource": bus_arn,
    }
    if condition is not None:
        statement["Condition"] = _condition(condition)
    return statement


def _condition(condition: Mapping[str, Any]) -> dict[str, Any]:
    """``Condition{Type, Key, Value}``: the only one EventBridge supports is membership of an
    organization, ``StringEquals`` on ``aws:PrincipalOrgID``."""
    for member in ("Type", "Key", "Value"):
        if not isinstance(condition.get(member), str):
            raise PolicyError(
                VALIDATION,
                f"1 validation error detected: Value null at 'condition.{member[0].lower() + member[1:]}' "
                "failed to satisfy constraint: Member must not be null",
            )
    if condition["Type"] != "StringEquals":
        raise PolicyError(VALIDATION, "Provided value in parameter 'condition.type' is not supported.")
    if condition["Key"] != "aws:PrincipalOrgID":
        raise PolicyError(VALIDATION, "Provided value in parameter 'condition.key' is not supported.")
    if not _ORG_ID.fullmatch(condition["Value"]):
        raise PolicyError(VALIDATION, "Provided value in parameter 'condition.value' is invalid.")
    return {"StringEquals": {"aws:PrincipalOrgID": condition["Value"]}}


def _with_statement(policy: Mapping[str, Any] | None, statement: dict[str, Any]) -> dict[str, Any]:
    new: dict[str, Any] = {"Version": VERSION, "Statement": []} if policy is None else copy.deepcopy(dict(policy))
    statements = _statements(new)
    for index, existing in enumerate(statements):
        if isinstance(existing, Mapping) and existing.get("Sid") == statement["Sid"]:
            statements[index] = statement  # AWS updates a statement in place (see the notes)
            break
    else:
        statements.append(statement)
    new["Statement"] = statements
    return new


def validate_policy_document(text: str, bus_arn: str) -> dict[str, Any]:
    """The ``Policy`` parameter as a document; raise :class:`PolicyError` (``ValidationException``)
    when it is not a policy EventBridge would attach to the bus *bus_arn*."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise PolicyError(VALIDATION, "This policy contains invalid Json")
    if set(document) - {"Version", "Id", "Statement"}:
        raise _syntax()
    if document.get("Version", VERSION) not in (VERSION, "2008-10-17"):
        raise PolicyError(VALIDATION, "The policy failed legacy parsing")
    statements = document.get("Statement")
    if not statements:
        raise PolicyError(VALIDATION, "Missing required field Statement")
    sids: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        _check_statement(statement, bus_arn)
        sid = statement.get("Sid")
        if sid is not None and sid in sids:
            raise PolicyError(VALIDATION, "Statement IDs (SID) in a single policy must be unique.")
        if sid is not None:
            sids.add(sid)
    return document


def _syntax() -> PolicyError:
    return PolicyError(VALIDATION, "Syntax errors in policy.")


def _strings(value: Any) -> list[str] | None:
    items = value if isinstance(value, list) else [value]
    return items if items and all(isinstance(i, str) for i in items) else None


def _check_statement(statement: Any, bus_arn: str) -> None:
    if not isinstance(statement, dict) or set(statement) - _STATEMENT_KEYS:
        raise _syntax()
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _syntax()
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(VALIDATION, f"Invalid effect: {statement.get('Effect')}")
    _check_element(statement, "Principal", "NotPrincipal", "Missing required field Principal")
    _check_principal(statement.get("Principal", statement.get("NotPrincipal")))
    _check_element(statement, "Action", "NotAction", "Policy statement must contain actions.")
    for action in _strings(statement.get("Action", statement.get("NotAction"))) or []:
        if action != "*" and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", action):
            raise PolicyError(VALIDATION, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    _check_element(statement, "Resource", "NotResource", "Policy statement must contain resources.")
    for resource in _strings(statement.get("Resource", statement.get("NotResource"))) or []:
        _check_resource(resource, bus_arn)
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict) or not all(isinstance(block, dict) for block in condition.values()):
        raise _syntax()
    for operator, block in condition.items():
        if not known_operator(operator) and not re.fullmatch(r"[A-Za-z:]+", operator):
            raise _syntax()
        for values in block.values():
            items = values if isinstance(values, list) else [values]
            if not all(isinstance(v, (str, bool, int, float)) for v in items):
                raise _syntax()


def _check_element(statement: dict[str, Any], name: str, negated: str, missing: str) -> None:
    present = [key for key in (name, negated) if key in statement]
    if not present:
        raise PolicyError(VALIDATION, missing)
    if len(present) == 2:
        raise _syntax()
    if name != "Principal" and _strings(statement[present[0]]) is None:
        raise _syntax()


def _check_principal(principal: Any) -> None:
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal or set(principal) - _PRINCIPAL_TYPES:
        raise _syntax()
    for kind, values in principal.items():
        names = _strings(values)
        if names is None:
            raise _syntax()
        for name in names:
            if kind == "AWS" and not _AWS_PRINCIPAL.fullmatch(name):
                raise PolicyError(VALIDATION, f'Invalid principal in policy: "AWS":"{name}"')


def _check_resource(resource: str, bus_arn: str) -> None:
    """``*``, the bus itself, or rules (the documentation's templates grant ``rule/...``); a
    resource naming another bus is refused as AWS refuses it."""
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise PolicyError(VALIDATION, f'Resource {resource} must be in ARN format or "*".')
    relative_id = parts[5]
    bus_relative_id = bus_arn.split(":", 5)[-1]  # event-bus/<name>
    if not (like(relative_id, bus_relative_id) or relative_id.startswith("rule/")):
        raise PolicyError(VALIDATION, f'The relative-id "{relative_id}" is invalid for ARN "{resource}"')
    if not _ACCOUNT.fullmatch(parts[4]) and "*" not in parts[4] and "?" not in parts[4]:
        raise PolicyError(VALIDATION, f'Resource {resource} must be in ARN format or "*".')
