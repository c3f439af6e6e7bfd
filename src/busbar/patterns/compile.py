"""Pattern tree -> ``CompiledPattern``, refusing what EventBridge refuses with AWS's words.

The walk follows the order in which EventBridge's compiler (event-ruler's JsonRuleCompiler, as
deployed with "last duplicate wins") reads the JSON, so that when a pattern has several problems
the one reported is the one AWS reports. ``$or`` multiplies the alternatives: each alternative
is a plain AND of fields, and the pattern matches when any alternative does.
"""

from __future__ import annotations

import json
from typing import Any

from .cidr import CidrSyntaxError, ip_to_int, parse_cidr
from .conditions import (
    AB_IC,
    AB_NUM,
    AB_PREFIX,
    AB_STR,
    AB_SUFFIX,
    AB_WILDCARD,
    CIDR,
    EQ_IC,
    EXACT_LIT,
    EXACT_NUM,
    EXACT_STR,
    EXISTS,
    NUMERIC,
    PREFIX,
    PREFIX_IC,
    SUFFIX,
    SUFFIX_IC,
    WILDCARD,
    Cond,
    fold,
    literal_key,
)
from .errors import InvalidEventPattern, PatternLimits
from .parse import Members, parse_pattern_text, to_members
from .wildcard import Wildcard, WildcardSyntaxError, complexity

Path = tuple[str, ...]
Alternative = dict[Path, tuple[Cond, ...]]

OR_KEY = "$or"
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
    }
)
_INF = float("inf")


class CompiledPattern:
    """A validated pattern: ``alternatives`` (from ``$or``), each mapping a field path (the key
    split at dots, so ``{"a": {"b.c": ...}}`` is ``("a", "b", "c")``) to its conditions."""

    __slots__ = ("alternatives", "paths", "text")

    def __init__(self, alternatives: list[Alternative], text: str | None) -> None:
        self.alternatives: tuple[Alternative, ...] = tuple(alternatives)
        self.paths: frozenset[Path] = frozenset(p for alt in alternatives for p in alt)
        self.text = text

    def __repr__(self) -> str:
        return f"CompiledPattern({self.alternatives!r})"


def split_key(key: str) -> Path:
    """A pattern or event key as path segments: EventBridge joins nested keys with dots, so a
    dotted key and the same keys nested are one field."""
    return tuple(key.split(".")) if "." in key else (key,)


def compile_pattern(pattern: Any, limits: PatternLimits | None = None) -> CompiledPattern:
    """Validate and compile ``pattern`` (JSON text, bytes, a dict, or a CompiledPattern)."""
    if isinstance(pattern, CompiledPattern):
        return pattern
    limits = limits or PatternLimits()
    if isinstance(pattern, (bytes, bytearray, memoryview)):
        pattern = bytes(pattern).decode("utf-8")
    if isinstance(pattern, str):
        text = pattern
        if len(text) > limits.max_pattern_chars:
            raise InvalidEventPattern(
                f"Event pattern is {len(text)} characters long; the limit is {limits.max_pattern_chars}"
            )
        try:
            tree = parse_pattern_text(text)
        except ValueError as exc:
            raise InvalidEventPattern(str(exc)) from None
    elif isinstance(pattern, dict):
        text = json.dumps(pattern)
        if len(text) > limits.max_pattern_chars:
            raise InvalidEventPattern(
                f"Event pattern is {len(text)} characters long; the limit is {limits.max_pattern_chars}"
            )
        tree = to_members(pattern)
    else:
        raise InvalidEventPattern("Filter is not an object")
    if not isinstance(tree, Members):
        raise InvalidEventPattern("Filter is not an object")
    alternatives: list[Alternative] = []
    try:
        _Compiler(limits).object(alternatives, (), tree, in_or=False)
    except _Refused as exc:
        raise InvalidEventPattern(exc.reason) from None
    for alt in alternatives:
        if len(alt) > limits.max_fields:
            raise InvalidEventPattern(
                f"Event pattern has {len(alt)} fields in one alternative; the limit is {limits.max_fields}"
            )
    _check_wildcard_complexity(alternatives, limits)
    return CompiledPattern(alternatives, text)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _token_text(value: Any) -> str:
    """How Jackson would print the token ``value`` starts with, for messages that quote it."""
    if isinstance(value, Members):
        return "{"
    if isinstance(value, list):
        return "["
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _is_array(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, Members)


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


class _Compiler:
    def __init__(self, limits: PatternLimits) -> None:
        self.limits = limits

    # -- structure ---------------------------------------------------------------------------
    def object(self, rules: list[Alternative], path: Path, members: Members, in_or: bool) -> None:
        for key, value in members:
            if key == OR_KEY:
                self.or_(rules, path, value)
                continue
            if in_or and key in _RESERVED_IN_OR:
                raise _Refused(f"{key} is Ruler reserved fieldName which cannot be used inside {OR_KEY}.")
            if isinstance(value, Members):
                self.object(rules, path + split_key(key), value, in_or)
            elif _is_array(value):
                self.field(rules, path + split_key(key), value)
            else:
                raise _Refused(f'"{key}" must be an object or an array')
        if not members:
            raise _Refused("Empty objects are not allowed")

    def or_(self, rules: list[Alternative], path: Path, value: Any) -> None:
        before = [dict(r) for r in rules]
        rules.clear()
        if not _is_array(value):
            raise _Refused(f"It must be an Array followed with {OR_KEY}.")
        for item in value:
            if not isinstance(item, Members):
                raise _Refused(f"Only JSON object is allowed in array of {OR_KEY} relationship.")
            branch = [dict(r) for r in before] or [{}]
            self.object(branch, path, item, in_or=True)
            rules.extend(branch)
            if len(rules) > self.limits.max_or_combinations:
                raise _Refused(
                    f"The $or in this pattern expands to more than {self.limits.max_or_combinations} combinations"
                )
        if len(value) < 2:
            raise _Refused(f"There must have at least 2 Objects in {OR_KEY} relationship.")

    def field(self, rules: list[Alternative], path: Path, items: list[Any]) -> None:
        conds: list[Cond] = []
        for item in items:
            if isinstance(item, Members):
                conds.append(self.match_expression(item))
            elif isinstance(item, str):
                conds.append(Cond(EXACT_STR, item))
                ip = ip_to_int(item)
                if ip is not None:
                    # An address also matches its other spellings (e.g. IPv6 zero compression).
                    conds.append(Cond(CIDR, (ip[0], ip[1], ip[1])))
            elif _is_number(item):
                conds.append(Cond(EXACT_NUM, item))
            elif item is None or item is True or item is False:
                conds.append(Cond(EXACT_LIT, literal_key(item)))
            else:
                raise _Refused("Match value must be String, number, true, false, or null")
        if not conds:
            raise _Refused("Empty arrays are not allowed")
        if not rules:
            rules.append({})
        final = tuple(dict.fromkeys(conds))  # order kept, duplicates dropped
        for rule in rules:
            rule[path] = final  # a later duplicate of the same field replaces the earlier one

    # -- match expressions {"op": value} -----------------------------------------------------
    def match_expression(self, members: Members) -> Cond:
        if not members:
            raise _Refused("Match expression name not found")
        op, value = members[0]
        extra = len(members) > 1
        one_key = "Only one key allowed in match expression"
        if op == "exactly":
            if not isinstance(value, str):
                raise _Refused("exact match pattern must be a string")
            cond = Cond(EXACT_STR, value)
        elif op in ("prefix", "suffix"):
            if isinstance(value, Members):
                return self.affix_ignore_case(op, value, extra)
            if not isinstance(value, str):
                raise _Refused(f"{op} match pattern must be a string")
            cond = Cond(PREFIX if op == "prefix" else SUFFIX, value)
        elif op == "numeric":
            if not _is_array(value):
                raise _Refused("Value of numeric must be an array.")
            cond = self.numeric(value)
            if extra:
                raise _Refused("Too many elements in numeric expression")
            return cond
        elif op == "anything-but":
            return self.anything_but(value, extra)
        elif op == "exists":
            if value is not True and value is not False:
                raise _Refused("exists match pattern must be either true or false.")
            cond = Cond(EXISTS, value)
        elif op == "cidr":
            if not isinstance(value, str):
                raise _Refused("prefix match pattern must be a string")  # AWS's words for cidr too
            try:
                cond = Cond(CIDR, parse_cidr(value))
            except CidrSyntaxError as exc:
                raise _Refused(str(exc)) from None
        elif op == "equals-ignore-case":
            if not isinstance(value, str):
                raise _Refused("equals-ignore-case match pattern must be a string")
            cond = Cond(EQ_IC, fold(value))
        elif op == "wildcard":
            if not isinstance(value, str):
                raise _Refused("wildcard match pattern must be a string")
            cond = Cond(WILDCARD, self.wildcard(value))
        else:
            raise _Refused(f"Unrecognized match type {op}")
        if extra:
            raise _Refused(one_key)
        return cond

    def affix_ignore_case(self, op: str, members: Members, extra: bool) -> Cond:
        label = "Prefix" if op == "prefix" else "Suffix"
        if not members:
            raise _Refused(f"{label} expression name not found")
        inner_op, value = members[0]
        if inner_op != "equals-ignore-case":
            raise _Refused(f"Unsupported {op} pattern: {inner_op}")
        if not isinstance(value, str):
            raise _Refused("equals-ignore-case match pattern must be a string")
        if len(members) > 1 or extra:
            raise _Refused("Only one key allowed in match expression")
        return Cond(PREFIX_IC if op == "prefix" else SUFFIX_IC, fold(value))

    def wildcard(self, text: str) -> Wildcard:
        try:
            return Wildcard(text)
        except WildcardSyntaxError as exc:
            raise _Refused(str(exc)) from None

    def anything_but(self, value: Any, extra: bool) -> Cond:
        too_many = "Too many elements in numeric expression"  # event-ruler's words, sic
        kind = AB_STR
        inner_extra = False
        if isinstance(value, Members):
            if not value:
                raise _Refused("Anything-But expression name not found")
            op, inner = value[0]
            kinds = {"equals-ignore-case": AB_IC, "prefix": AB_PREFIX, "suffix": AB_SUFFIX, "wildcard": AB_WILDCARD}
            if op not in kinds:
                raise _Refused(f"Unsupported anything-but pattern: {op}")
            kind = kinds[op]
            inner_extra = len(value) > 1
            value = inner
        if not (_is_array(value) or isinstance(value, str) or _is_number(value)):
            raise _Refused("Value of anything-but must be an array or single string/number value.")
        items = value if _is_array(value) else [value]
        if kind == AB_STR:
            if any(not (isinstance(v, str) or _is_number(v)) for v in items):
                which = "anything but list" if _is_array(value) else "anything-but list"
                raise _Refused(f"Inside {which}, start|null|boolean is not supported.")
            has_num = any(_is_number(v) for v in items)
            has_str = any(isinstance(v, str) for v in items)
            if has_num == has_str:
                raise _Refused(
                    "Inside anything but list, either all values are number or string, mixed type is not supported"
                )
            cond = Cond(AB_NUM, frozenset(items)) if has_num else Cond(AB_STR, frozenset(items))
        else:
            for v in items:
                if isinstance(v, str):
                    if kind in (AB_PREFIX, AB_SUFFIX) and v == "":
                        raise _Refused("Null prefix/suffix not allowed")
                    continue
                if kind == AB_IC:
                    raise _Refused(
                        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
                    )
                if kind == AB_WILDCARD:
                    raise _Refused("wildcard match pattern must be a string")
                raise _Refused("prefix/suffix match pattern must be a string")
            if kind == AB_IC:
                cond = Cond(AB_IC, frozenset(fold(v) for v in items))
            elif kind == AB_WILDCARD:
                cond = Cond(AB_WILDCARD, tuple(dict.fromkeys(self.wildcard(v) for v in items)))
            else:
                cond = Cond(kind, tuple(dict.fromkeys(items)))
        if inner_extra or extra:
            raise _Refused(too_many)
        return cond

    def numeric(self, items: list[Any]) -> Cond:
        def at(i: int) -> Any:
            return items[i] if i < len(items) else _END

        def operand(i: int, op: str) -> float:
            v = at(i)
            if not _is_number(v):
                raise _Refused(f"Value of {'equals' if op == '=' else op} must be numeric")
            return _comparable_operand(v)

        first = at(0)
        if not isinstance(first, str) or first is _END:
            raise _Refused(f"Invalid member in numeric match: {_END_TEXT if first is _END else _token_text(first)}")
        op = first
        if op == "=":
            x = operand(1, op)
            if len(items) > 2:
                raise _Refused("Too many elements in numeric expression")
            return Cond(EXACT_NUM, x)
        if op in (">", ">="):
            low = operand(1, op)
            if len(items) == 2:
                return Cond(NUMERIC, (low, op == ">", _INF, False))
            op2 = at(2)
            if not isinstance(op2, str):
                raise _Refused(f"Bad value in numeric range: {_token_text(op2)}")
            if op2 not in ("<", "<="):
                raise _Refused(f"Bad numeric range operator: {op2}")
            high = operand(3, op2)
            if len(items) > 4:
                raise _Refused("Too many terms in numeric range expression")
            if not low < high:
                raise _Refused("Bottom must be less than top")
            return Cond(NUMERIC, (low, op == ">", high, op2 == "<"))
        if op in ("<", "<="):
            high = operand(1, op)
            if len(items) > 2:
                raise _Refused("Too many elements in numeric expression")
            return Cond(NUMERIC, (-_INF, False, high, op == "<"))
        raise _Refused(f"Unrecognized numeric range operator: {op}")


class _End:
    """Stands for the ``]`` that ends a numeric array when an operand is missing."""


_END: Any = _End()
_END_TEXT = "]"


def _comparable_operand(v: int | float) -> float:
    """``v`` as a float64, refusing numbers a double cannot hold exactly (as event-ruler does)."""
    try:
        f = float(v)
    except OverflowError:
        raise _Refused(f"Cannot compare number : {v}") from None
    # A float came from the pattern text already rounded; an int must survive the round trip.
    if f != f or f in (_INF, -_INF) or (type(v) is int and f != v):
        raise _Refused(f"Cannot compare number : {v}")
    return f


def _check_wildcard_complexity(alternatives: list[Alternative], limits: PatternLimits) -> None:
    per_path: dict[Path, list[str]] = {}
    for alt in alternatives:
        for path, conds in alt.items():
            for cond in conds:
                if cond.kind == WILDCARD:
                    per_path.setdefault(path, []).append(cond.arg.text)
                elif cond.kind == AB_WILDCARD:
                    per_path.setdefault(path, []).extend(w.text for w in cond.arg)
    for texts in per_path.values():
        if complexity(dict.fromkeys(texts), limits.max_wildcard_complexity) > limits.max_wildcard_complexity:
            raise InvalidEventPattern(
                "Rule is too complex - try using fewer wildcard characters or fewer repeating "
                "character sequences after a wildcard character"
            )
