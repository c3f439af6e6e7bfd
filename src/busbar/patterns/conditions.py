"""What one entry of a pattern's value list asks of one event value: the definition of every
condition kind, written once.

A pattern field such as ``"state": ["on", {"prefix": "off"}]`` compiles to a tuple of ``Cond``
(a kind and its argument); the field is satisfied when any of them accepts any value found at the
field's path. A ``Kind`` is defined by three short Python expressions:

- ``gate``: which values it can accept, over ``v`` (the value) and ``t`` (its type). Strings only
  meet string operators, numbers only numbers and ``numeric``, and ``true``, ``false`` and
  ``null`` only themselves; ``exists`` accepts any value.
- ``key``: what of the value it compares (the value itself, its ASCII-folded spelling, or the
  double it stands for).
- ``relation``: how the key ``k`` meets the argument ``a`` (``a0``, ``a1``... when the argument
  is a tuple spread over several constants).

A negative kind (anything-but) accepts exactly the values the positive test refuses, so a value of
another type is never refused. Everything that matches derives from these expressions:
``Kind.test`` (the condition-by-condition evaluator, ``evaluate``) is compiled from them; the
Matcher's generated code writes them inline (``codegen``); and a kind whose relation is
``EQUALS``, ``STARTS``, ``ENDS`` or ``WITHIN`` can be indexed (``tables``): a dict keyed by ``key``,
one dict per prefix or suffix length, or a sorted table of range boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import pysource
from .ignorecase import ascii_fold

# -- gates: which values a kind can accept (v: the value, t: its type) ---------------------------
STRING = "{t} is str"
NUMBER = "({t} is int or {t} is float)"  # a JSON true is not the number 1 (type(True) is bool)
LITERAL_VALUE = "({v} is None or {t} is bool)"
ANY = "True"

# -- keys: what of the value a kind compares ------------------------------------------------------
ITSELF = "{v}"
# ASCII letters lower-cased, every other character unchanged (``ignorecase.ascii_fold``; writing
# its ASCII case inline here saved under 3% on any set).
FOLDED = "ascii_fold({v})"
# The double a JSON number stands for: NaN when a double cannot hold it exactly (event-ruler
# refuses to compare such numbers, e.g. 17-digit ids), so that no range holds it.
DOUBLE = "({v} if {t} is float or -TWO53 <= {v} <= TWO53 else as_double({v}))"

# -- relations: how the key k meets the argument a -----------------------------------------------
EQUALS = "{k} == {a}"
STARTS = "{k}.startswith({a})"
ENDS = "{k}.endswith({a})"
WITHIN = "{a0} <= {k} <= {a1}"  # a closed range of doubles: (low, high)

TWO53 = 2**53
_NAN = float("nan")


def as_double(number: int | float) -> float:
    """``number`` as the double that holds it exactly, or NaN when there is none."""
    try:
        f = float(number)
    except OverflowError:
        return _NAN
    return f if f == number else _NAN


# What generated tests may name besides their constants.
NAMESPACE: dict[str, Any] = {"ascii_fold": ascii_fold, "as_double": as_double, "TWO53": TWO53}


class AnyOf:
    """The several arguments of one anything-but condition (wildcards, ignore-case patterns):
    ``holds(value)`` when any of them does, by their method ``test``."""

    __slots__ = ("items", "holds")

    def __init__(self, items: Iterable[Any], test: str) -> None:
        self.items = tuple(dict.fromkeys(items))
        # One argument (the usual case): its own method, without a loop around it.
        self.holds = getattr(self.items[0], test) if len(self.items) == 1 else self._any(test)

    def _any(self, test: str) -> Callable[[Any], bool]:
        tests = [getattr(item, test) for item in self.items]
        return lambda value: any(t(value) for t in tests)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyOf) and other.items == self.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return repr(list(self.items))


@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of condition (see the module): ``gate``, ``key`` and ``relation`` define it."""

    name: str  # as AWS spells the operator, for describe() and messages
    gate: str
    key: str
    relation: str
    # How many values it lets through, for ordering a rule's steps (see matcher.steps_of): 0
    # exact values, 1 prefixes, suffixes and ignore-case, 2 ranges, CIDR and wildcards, 3 exists,
    # 4 anything-but.
    rank: int
    negative: bool = False
    arity: int = 1  # constants the argument spreads over in generated code (a0, a1, ...)
    test: Any = field(init=False, repr=False)  # (value, argument) -> bool, compiled from the above

    def __post_init__(self) -> None:
        args = ["a"] if self.arity == 1 else [f"a[{i}]" for i in range(self.arity)]
        name = "test_" + self.name.replace(" ", "_").replace("-", "_") + ("_not" if self.negative else "")
        source = f"def {name}(v, a):\n    t = type(v)\n    return {self.source('v', 't', args)}\n"
        object.__setattr__(self, "test", pysource.define(source, name, dict(NAMESPACE)))

    def positive(self, v: str, t: str, args: list[str]) -> str:
        """The expression that is true when the value ``v`` (of type ``t``) meets the relation;
        ``args`` are the expressions of the argument's constants."""
        names = {"a": args[0]} if self.arity == 1 else {f"a{i}": a for i, a in enumerate(args)}
        key = self.key.format(v=v, t=t)
        return f"{self.gate.format(v=v, t=t)} and {self.relation.format(k=key, **names)}"

    def source(self, v: str, t: str, args: list[str]) -> str:
        """The expression that is true when the condition accepts ``v`` (of type ``t``)."""
        test = self.positive(v, t, args)
        return f"not ({test})" if self.negative else test

    def __repr__(self) -> str:
        return f"Kind({self.name!r}{', negative' if self.negative else ''})"


EXACT = Kind("exact", STRING, ITSELF, EQUALS, 0)
EXACT_NUMBER = Kind("exact number", NUMBER, ITSELF, EQUALS, 0)
LITERAL = Kind("literal", LITERAL_VALUE, ITSELF, EQUALS, 0)  # argument: True, False or None
PREFIX = Kind("prefix", STRING, ITSELF, STARTS, 1)
SUFFIX = Kind("suffix", STRING, ITSELF, ENDS, 1)
# Ignore-case patterns written in ASCII: the argument is the pattern lower-cased (see ignorecase).
EQUALS_IC = Kind("equals-ignore-case", STRING, FOLDED, EQUALS, 1)
PREFIX_IC = Kind("prefix equals-ignore-case", STRING, FOLDED, STARTS, 1)
SUFFIX_IC = Kind("suffix equals-ignore-case", STRING, FOLDED, ENDS, 1)
# Ignore-case patterns with other letters: the argument is an ignorecase.CaseVariants.
EQUALS_IC_VARIANTS = Kind("equals-ignore-case", STRING, ITSELF, "{a}.equals({k})", 1)
PREFIX_IC_VARIANTS = Kind("prefix equals-ignore-case", STRING, ITSELF, "{a}.begins({k})", 1)
SUFFIX_IC_VARIANTS = Kind("suffix equals-ignore-case", STRING, ITSELF, "{a}.ends({k})", 1)
WILDCARD = Kind("wildcard", STRING, ITSELF, "{a}.matches({k})", 2)  # argument: wildcard.Wildcard
NUMERIC = Kind("numeric", NUMBER, DOUBLE, WITHIN, 2, arity=2)  # argument: (low, high), both included
EXISTS = Kind("exists", ANY, ITSELF, "{a}", 3)  # argument: True (exists: false is the value's absence)
CIDR = Kind("cidr", STRING, ITSELF, "{a}.contains({k})", 2)  # argument: cidr.Block
ANYTHING_BUT = Kind("anything-but", STRING, ITSELF, "{k} in {a}", 4, negative=True)  # frozenset
ANYTHING_BUT_NUMBER = Kind("anything-but", NUMBER, ITSELF, "{k} in {a}", 4, negative=True)  # frozenset
ANYTHING_BUT_IC = Kind("anything-but equals-ignore-case", STRING, FOLDED, "{k} in {a}", 4, negative=True)
ANYTHING_BUT_IC_VARIANTS = Kind(  # argument: AnyOf(CaseVariants)
    "anything-but equals-ignore-case", STRING, ITSELF, "{a}.holds({k})", 4, negative=True
)
ANYTHING_BUT_PREFIX = Kind("anything-but prefix", STRING, ITSELF, STARTS, 4, negative=True)  # a tuple
ANYTHING_BUT_SUFFIX = Kind("anything-but suffix", STRING, ITSELF, ENDS, 4, negative=True)  # a tuple
ANYTHING_BUT_WILDCARD = Kind("anything-but wildcard", STRING, ITSELF, "{a}.holds({k})", 4, negative=True)  # AnyOf

# Every kind, in the order a state tests them on one path.
KINDS = (
    EXACT,
    EXACT_NUMBER,
    LITERAL,
    EQUALS_IC,
    PREFIX,
    PREFIX_IC,
    SUFFIX,
    SUFFIX_IC,
    NUMERIC,
    EXISTS,
    CIDR,
    WILDCARD,
    EQUALS_IC_VARIANTS,
    PREFIX_IC_VARIANTS,
    SUFFIX_IC_VARIANTS,
    ANYTHING_BUT,
    ANYTHING_BUT_NUMBER,
    ANYTHING_BUT_IC,
    ANYTHING_BUT_PREFIX,
    ANYTHING_BUT_SUFFIX,
    ANYTHING_BUT_WILDCARD,
    ANYTHING_BUT_IC_VARIANTS,
)


class Cond(NamedTuple):
    """One compiled value condition: its kind and its (hashable) argument."""

    kind: Kind
    arg: Any

    def accepts(self, value: Any) -> bool:
        """Does the leaf ``value`` (str, int, float, bool or None) satisfy this condition?"""
        return bool(self.kind.test(value, self.arg))

    def __repr__(self) -> str:
        return f"Cond({self.kind.name}{' (not)' if self.kind.negative else ''}, {self.arg!r})"


ABSENT = Cond(EXISTS, False)  # "exists": false, met by a field's absence
