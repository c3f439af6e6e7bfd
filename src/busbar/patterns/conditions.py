"""What one entry of a pattern's value list asks of one event value.

A pattern field such as ``"state": ["on", {"prefix": "off"}]`` compiles to a tuple of ``Cond``;
the field is satisfied when any of them accepts any value found at the field's path. ``test``
is the plain, one-condition-at-a-time definition used by ``pattern_matches`` and to confirm
candidates; the Matcher indexes the same conditions so that it rarely needs to call it.

Value types follow event-ruler: strings only match string operators (exact, prefix, suffix,
equals-ignore-case, wildcard, cidr); numbers match exact numbers and ``numeric``; ``true``,
``false`` and ``null`` only match themselves; ``exists`` accepts any value; an ``anything-but``
is refused only by a value of its own type that it lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .cidr import ip_to_int

# Condition kinds. Small ints so the index can dispatch on them cheaply.
EXACT_STR = 0
EXACT_NUM = 1
EXACT_LIT = 2  # arg: "true" | "false" | "null"
PREFIX = 3
PREFIX_IC = 4  # arg is lower-cased
SUFFIX = 5
SUFFIX_IC = 6
EQ_IC = 7
WILDCARD = 8  # arg: Wildcard
NUMERIC = 9  # arg: (low, low_open, high, high_open) as floats (+-inf when unbounded)
EXISTS = 10  # arg: bool
CIDR = 11  # arg: (version, low, high)
AB_STR = 12  # anything-but over strings, arg: frozenset[str]
AB_NUM = 13  # anything-but over numbers, arg: frozenset[number]
AB_IC = 14  # arg: frozenset of lower-cased strings
AB_PREFIX = 15  # arg: tuple[str, ...]
AB_SUFFIX = 16
AB_WILDCARD = 17  # arg: tuple[Wildcard, ...]

KIND_NAMES = {
    EXACT_STR: "exact",
    EXACT_NUM: "exact-number",
    EXACT_LIT: "literal",
    PREFIX: "prefix",
    PREFIX_IC: "prefix-ignore-case",
    SUFFIX: "suffix",
    SUFFIX_IC: "suffix-ignore-case",
    EQ_IC: "equals-ignore-case",
    WILDCARD: "wildcard",
    NUMERIC: "numeric",
    EXISTS: "exists",
    CIDR: "cidr",
    AB_STR: "anything-but",
    AB_NUM: "anything-but-number",
    AB_IC: "anything-but-ignore-case",
    AB_PREFIX: "anything-but-prefix",
    AB_SUFFIX: "anything-but-suffix",
    AB_WILDCARD: "anything-but-wildcard",
}

_TWO53 = 2**53


class Cond(NamedTuple):
    """One compiled value condition: its kind and its (hashable) argument."""

    kind: int
    arg: Any

    def __repr__(self) -> str:
        return f"Cond({KIND_NAMES[self.kind]}, {self.arg!r})"


def fold(text: str) -> str:
    """Case folding used by every ignore-case operator, on both sides."""
    return text.lower()


def literal_key(value: Any) -> str | None:
    """``"true"``/``"false"``/``"null"`` for JSON literals, None for anything else."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return None


def comparable(value: Any) -> float | None:
    """The float64 a JSON number compares as, or None when it has none (event-ruler refuses to
    compare numbers that a double cannot hold exactly, such as 17-digit account ids)."""
    t = type(value)
    if t is float:
        return value
    if t is int:
        if -_TWO53 <= value <= _TWO53:
            return float(value)
        try:
            f = float(value)
        except OverflowError:
            return None
        return f if f == value else None
    return None


def in_range(x: float, arg: tuple[float, bool, float, bool]) -> bool:
    """True when ``x`` lies in the numeric range ``arg``."""
    low, low_open, high, high_open = arg
    if x < low or (low_open and x == low):
        return False
    if x > high or (high_open and x == high):
        return False
    return True


def test(cond: Cond, value: Any) -> bool:
    """Does the leaf ``value`` (str, int, float, bool or None) satisfy ``cond``?"""
    kind, arg = cond
    t = type(value)
    if kind == EXISTS:
        return arg
    if t is str:
        if kind == EXACT_STR:
            return value == arg
        if kind == PREFIX:
            return value.startswith(arg)
        if kind == SUFFIX:
            return value.endswith(arg)
        if kind == PREFIX_IC:
            return fold(value).startswith(arg)
        if kind == SUFFIX_IC:
            return fold(value).endswith(arg)
        if kind == EQ_IC:
            return fold(value) == arg
        if kind == WILDCARD:
            return arg.matches(value)
        if kind == CIDR:
            ip = ip_to_int(value)
            return ip is not None and ip[0] == arg[0] and arg[1] <= ip[1] <= arg[2]
        if kind == AB_STR:
            return value not in arg
        if kind == AB_IC:
            return fold(value) not in arg
        if kind == AB_PREFIX:
            return not any(value.startswith(p) for p in arg)
        if kind == AB_SUFFIX:
            return not any(value.endswith(s) for s in arg)
        if kind == AB_WILDCARD:
            return not any(w.matches(value) for w in arg)
        return kind == AB_NUM
    if t is int or t is float:
        if kind == EXACT_NUM:
            return value == arg
        if kind == NUMERIC:
            x = comparable(value)
            return x is not None and in_range(x, arg)
        if kind == AB_NUM:
            return value not in arg
        return kind in (AB_STR, AB_IC, AB_PREFIX, AB_SUFFIX, AB_WILDCARD)
    # true, false, null
    if kind == EXACT_LIT:
        return literal_key(value) == arg
    return kind in (AB_STR, AB_NUM, AB_IC, AB_PREFIX, AB_SUFFIX, AB_WILDCARD)


def value_test(cond: Cond) -> Callable[[Any], bool]:
    """``test`` for one fixed ``cond``, specialised for wildcards (the common indexed case)."""
    kind, arg = cond
    if kind == WILDCARD:
        return lambda v: type(v) is str and arg.matches(v)
    if kind == AB_WILDCARD:
        if len(arg) == 1:
            (one,) = arg
            return lambda v: type(v) is not str or not one.matches(v)
        return lambda v: type(v) is not str or not any(w.matches(v) for w in arg)
    return lambda v: test(cond, v)


def field_checker(conds: tuple[Cond, ...]) -> Callable[[list[Any]], bool]:
    """A function telling whether any of a field's values meets any of ``conds``, specialised
    for the common shapes (exact strings; one numeric range) and general otherwise."""
    kinds = {c.kind for c in conds}
    if kinds == {EXACT_STR}:
        wanted = frozenset(c.arg for c in conds)
        # Only a str can equal a str, so plain set membership is type-exact here.
        return lambda vals: any(v in wanted for v in vals if type(v) is str)
    if len(conds) == 1 and kinds == {NUMERIC}:
        arg = conds[0].arg

        def in_numeric(vals: list[Any]) -> bool:
            for v in vals:
                x = comparable(v)
                if x is not None and in_range(x, arg):
                    return True
            return False

        return in_numeric

    if len(conds) == 1:
        (cond,) = conds
        kind, arg = cond
        one = _SINGLE.get(kind)
        if one is not None:
            return one(arg)

    def general(vals: list[Any]) -> bool:
        return any(test(c, v) for v in vals for c in conds)

    return general


def _str_check(pred: Callable[[str], bool]) -> Callable[[list[Any]], bool]:
    return lambda vals: any(pred(v) for v in vals if type(v) is str)


def _cidr_check(arg: tuple[int, int, int]) -> Callable[[list[Any]], bool]:
    version, low, high = arg

    def check(vals: list[Any]) -> bool:
        for v in vals:
            if type(v) is str:
                ip = ip_to_int(v)
                if ip is not None and ip[0] == version and low <= ip[1] <= high:
                    return True
        return False

    return check


def _ab_str_check(arg: frozenset[str]) -> Callable[[list[Any]], bool]:
    # Values of other types are never refused by a string anything-but.
    return lambda vals: any(type(v) is not str or v not in arg for v in vals)


# One-condition fields whose check can skip the general dispatch in ``test``.
_SINGLE: dict[int, Callable[[Any], Callable[[list[Any]], bool]]] = {
    PREFIX: lambda a: _str_check(lambda v: v.startswith(a)),
    SUFFIX: lambda a: _str_check(lambda v: v.endswith(a)),
    PREFIX_IC: lambda a: _str_check(lambda v: v.lower().startswith(a)),
    SUFFIX_IC: lambda a: _str_check(lambda v: v.lower().endswith(a)),
    EQ_IC: lambda a: _str_check(lambda v: v.lower() == a),
    WILDCARD: lambda a: _str_check(a.matches),
    CIDR: _cidr_check,
    AB_STR: _ab_str_check,
}
