"""IAM condition operators, evaluated against a request's context keys.

A statement's ``Condition`` is ``{operator: {key: value or [values]}}``; every operator block and
every key in it must hold. The string and ARN operators are supported, with the ``...IfExists``
suffix, the ``ForAnyValue:`` / ``ForAllValues:`` prefixes (every context key here has one value)
and ``Null``; policy variables (``${aws:PrincipalAccount}``) are replaced by the request's values.
Any other operator (numeric, date, IP, ``Bool``, binary) is *unknown*: ``condition_holds`` then
answers None and the caller decides (busbar fails closed).

Semantics, from IAM's documentation: a key missing from the request makes a positive operator
false and a negated one (``StringNotEquals``, ``ArnNotLike``, ...) true; ``...IfExists`` makes
a missing key true; several values for one key are ORed (for a negated operator: none matches).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .matching import arn_like, like

Context = Mapping[str, str]
"""Context keys of a request, lower case (``aws:principalaccount``), and their values."""

_Compare = Callable[[str, str], bool]

_POSITIVE: dict[str, _Compare] = {
    "StringEquals": lambda policy, request: policy == request,
    "StringEqualsIgnoreCase": lambda policy, request: policy.casefold() == request.casefold(),
    "StringLike": lambda policy, request: like(policy, request),
    "ArnEquals": arn_like,
    "ArnLike": arn_like,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def known_operator(operator: str) -> bool:
    """Whether busbar evaluates *operator* (``StringEquals``, ``ForAnyValue:ArnLike``, ...)."""
    return _split(operator) is not None


def condition_holds(condition: Mapping[str, Any], context: Context) -> bool | None:
    """Whether every block of a statement's ``Condition`` holds for *context*; None when one uses
    an operator busbar does not evaluate and none of the others is false."""
    unknown = False
    for operator, clauses in condition.items():
        result = _block_holds(operator, clauses, context)
        if result is False:
            return False
        unknown = unknown or result is None
    return None if unknown else True


def _split(operator: str) -> tuple[str, str, bool] | None:
    """(set prefix, base operator, IfExists) of a known operator, else None."""
    prefix, _, base = operator.rpartition(":")
    if prefix not in ("", "ForAnyValue", "ForAllValues"):
        return None
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        return (prefix, base, False) if not (prefix or if_exists) else None
    if base in _POSITIVE or base in _NEGATED:
        return prefix, base, if_exists
    return None


def _block_holds(operator: str, clauses: Any, context: Context) -> bool | None:
    parts = _split(operator)
    if parts is None or not isinstance(clauses, Mapping):
        return None
    prefix, base, if_exists = parts
    for key, raw in clauses.items():
        values = _values(raw)
        if values is None:
            return None
        name = str(key).lower()
        if base == "Null":
            if (name not in context) != (values == ["true"]):
                return False
            continue
        if name not in context:
            if if_exists or prefix == "ForAllValues":
                continue
            if prefix == "ForAnyValue" or base in _POSITIVE:
                return False
            continue  # a negated operator holds for a missing key
        compare = _POSITIVE[_NEGATED.get(base, base)]
        request = context[name]
        hit = any(compare(value, request) for value in _substituted(values, context))
        if hit == (base in _NEGATED):
            return False
    return True


def _values(raw: Any) -> list[str] | None:
    """A condition's values as strings (IAM reads ``true`` and ``12`` as text), or None."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        else:
            return None
    return out


def _substituted(values: list[str], context: Context) -> list[str]:
    """*values* with ``${key}`` replaced by the request's value; a value naming a key the request
    does not have is dropped (it cannot match)."""
    out: list[str] = []
    for value in values:
        missing = False

        def replace(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1).strip()
            if name in _SPECIAL:
                return _SPECIAL[name]
            if name.lower() in context:
                return context[name.lower()]
            missing = True
            return ""

        substituted = _VARIABLE.sub(replace, value)
        if not missing:
            out.append(substituted)
    return out
