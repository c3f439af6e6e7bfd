"""What a state of the Matcher tests on one field path, as small typed objects that write their own
Python source.

A state's code (``codegen``) is one generated function per *shape* of state, shared by every state
of that shape, and one tuple per state holding its constants. A form says what of that it is
responsible for: its ``shape`` (what the source depends on), its ``constants`` (what the source
reads, in order) and its ``source`` (lines that read constant ``j`` as ``consts[j]``). Probes test
the values found at a path; a ``Field`` is a path with its probes, ``Absent`` a path whose absence
leads somewhere (``exists: false``).

The tests themselves are the condition kinds' own expressions (``conditions.Kind``): a ``Test``
writes its kind's expression inline; a table probe writes the kind's gate and key and looks the
key up, which finds exactly the arguments the kind's relation accepts (see each table).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import inf
from typing import Any

from .conditions import ENDS, EQUALS, STARTS, WITHIN, Kind

Hit = Any  # a rule's name, an alternative to confirm (matcher._Sub), or a state's code (a tuple)
HitList = tuple[Hit, ...]
Take = Callable[[str, str], list[str]]  # (hit list expression, indent) -> lines that take its hits


class Hits(tuple):  # type: ignore[type-arg]
    """A hit list as the generated code holds it, unless it is one state's code (see compact)."""

    __slots__ = ()


def compact(hits: HitList) -> Any:
    """``hits`` as generated code reads it: the code itself when it is one state's code (the usual
    hit of a step that is not an alternative's last), so that taking it is one call, else the
    hit list as ``Hits`` (a tuple, but not of type tuple)."""
    if len(hits) == 1 and type(hits[0]) is tuple:
        return hits[0]
    return Hits(hits)


def _show(arg: Any) -> str:
    if isinstance(arg, frozenset):
        return repr(sorted(arg, key=repr))
    if isinstance(arg, tuple) and len(arg) == 2 and all(isinstance(x, float) for x in arg):
        return f"[{arg[0]!r}, {arg[1]!r}]"
    return str(arg) if hasattr(arg, "contains") else repr(arg)


def show_condition(kind: Kind, arg: Any) -> str:
    """A condition for describe(): its operator as AWS spells it, and its argument."""
    negation = "anything-but " if kind.negative and "anything-but" not in kind.name else ""
    return f"{negation}{kind.name} {_show(arg)}"


def show_hits(hits: Sequence[Hit]) -> str:
    """A hit list for describe(): rule names, and next states by their number."""
    shown = []
    for hit in hits:
        if type(hit) is tuple:
            shown.append(f"state {hit[1].number}")
        else:
            shown.append(repr(getattr(hit, "name", hit)))
    return ", ".join(shown)


class Probe:
    """One test of the values at a path (see the subclasses)."""

    __slots__ = ()
    kind: Kind

    @property
    def shape(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.kind)

    @property
    def label(self) -> str:
        """A short name for generated functions' names."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """How many constants ``constants()`` gives (without building them)."""
        raise NotImplementedError

    def constants(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        """Lines testing the value ``v`` (its type in ``t``)."""
        raise NotImplementedError

    def describe(self) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True, eq=False)
class Test(Probe):
    """One condition, tested by its kind's expression."""

    kind: Kind
    arg: Any
    hits: HitList

    @property
    def label(self) -> str:
        return _ident(self.kind.name) + ("_not" if self.kind.negative else "")

    @property
    def size(self) -> int:
        return self.kind.arity + 1

    def constants(self) -> tuple[Any, ...]:
        args = (self.arg,) if self.kind.arity == 1 else tuple(self.arg)
        return (*args, compact(self.hits))

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        *args, hits = consts
        return [f"{ind}if {self.kind.source('v', 't', args)}:", *take(hits, ind + "    ")]

    def describe(self) -> list[str]:
        return [f"{show_condition(self.kind, self.arg)} -> {show_hits(self.hits)}"]


@dataclass(frozen=True, slots=True, eq=False)
class EqualTable(Probe):
    """Conditions of a kind whose relation is ``EQUALS``: a dict from each argument to its hit
    list, looked up with the value's key."""

    kind: Kind
    table: dict[Any, HitList]

    def __post_init__(self) -> None:
        assert self.kind.relation == EQUALS and not self.kind.negative

    @property
    def label(self) -> str:
        return _ident(self.kind.name) + "_table"

    size = 1

    def constants(self) -> tuple[Any, ...]:
        return ({arg: compact(hits) for arg, hits in self.table.items()},)

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        (table,) = consts
        key = self.kind.key.format(v="v", t="t")
        return [
            f"{ind}if {self.kind.gate.format(v='v', t='t')}:",
            f"{ind}    h = {table}.get({key})",
            f"{ind}    if h is not None:",
            *take("h", ind + "        "),
        ]

    def describe(self) -> list[str]:
        return [f"{self.kind.name} {arg!r} -> {show_hits(hits)}" for arg, hits in self.table.items()]


@dataclass(frozen=True, slots=True, eq=False)
class AffixTable(Probe):
    """Conditions of a kind whose relation is ``STARTS`` (``ENDS``): a key starts with ``a``
    exactly when its first ``len(a)`` characters are ``a``, so one dict per distinct length,
    shortest first, finds them all with one slice and one lookup per length up to the key's."""

    kind: Kind
    lengths: tuple[tuple[int, dict[str, HitList]], ...]

    def __post_init__(self) -> None:
        assert self.kind.relation in (STARTS, ENDS) and not self.kind.negative

    @classmethod
    def of(cls, kind: Kind, entries: list[tuple[str, HitList]]) -> AffixTable:
        by_length: dict[int, dict[str, HitList]] = {}
        for arg, hits in entries:
            by_length.setdefault(len(arg), {})[arg] = hits
        return cls(kind, tuple(sorted(by_length.items())))

    @property
    def label(self) -> str:
        return _ident(self.kind.name) + "_tables"

    size = 1

    def constants(self) -> tuple[Any, ...]:
        return (tuple((n, {arg: compact(hits) for arg, hits in table.items()}) for n, table in self.lengths),)

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        (lengths,) = consts
        key = self.kind.key.format(v="v", t="t")
        piece = "key[:length]" if self.kind.relation == STARTS else "key[n - length :]"
        return [
            f"{ind}if {self.kind.gate.format(v='v', t='t')}:",
            f"{ind}    key = {key}",
            f"{ind}    n = len(key)",
            f"{ind}    for length, table in {lengths}:",
            f"{ind}        if length > n:",
            f"{ind}            break",
            f"{ind}        h = table.get({piece})",
            f"{ind}        if h is not None:",
            *take("h", ind + " " * 12),
        ]

    def describe(self) -> list[str]:
        return [
            f"{self.kind.name} {arg!r} -> {show_hits(hits)}" for _, table in self.lengths for arg, hits in table.items()
        ]


@dataclass(frozen=True, slots=True, eq=False)
class RangeTable(Probe):
    """Conditions of a kind whose relation is ``WITHIN`` (closed ranges): their boundaries sorted,
    and per boundary and per gap between two the hit lists of the ranges holding it, found with
    one bisect of the key (slot ``2j+1`` is boundary ``j``, slot ``2j`` the gap below it)."""

    kind: Kind
    points: tuple[float, ...]
    slots: tuple[tuple[HitList, ...], ...]
    ranges: tuple[tuple[tuple[float, float], HitList], ...]  # for describe()

    def __post_init__(self) -> None:
        assert self.kind.relation == WITHIN and not self.kind.negative

    @classmethod
    def of(cls, kind: Kind, ranges: list[tuple[tuple[float, float], HitList]]) -> RangeTable:
        points = sorted({x for (low, high), _ in ranges for x in (low, high) if x not in (inf, -inf)})
        where = {x: j for j, x in enumerate(points)}
        last = 2 * len(points)
        slots: list[list[HitList]] = [[] for _ in range(last + 1)]
        for (low, high), hits in ranges:
            start = 0 if low == -inf else 2 * where[low] + 1
            end = last if high == inf else 2 * where[high] + 1
            for s in range(start, end + 1):
                slots[s].append(hits)
        return cls(kind, tuple(points), tuple(tuple(s) for s in slots), tuple(ranges))

    @property
    def label(self) -> str:
        return _ident(self.kind.name) + "_boundaries"

    size = 2

    def constants(self) -> tuple[Any, ...]:
        return (self.points, tuple(tuple(compact(hits) for hits in slot) for slot in self.slots))

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        points, slots = consts
        key = self.kind.key.format(v="v", t="t")
        return [
            f"{ind}if {self.kind.gate.format(v='v', t='t')}:",
            f"{ind}    x = {key}",
            f"{ind}    if x == x:  # NaN (no double holds the number) is in no range",
            f"{ind}        j = bisect_left({points}, x)",
            f"{ind}        for h in {slots}[2 * j + 1 if j < len({points}) and {points}[j] == x else 2 * j]:",
            *take("h", ind + "            "),
        ]

    def describe(self) -> list[str]:
        return [f"{self.kind.name} {_show(arg)} -> {show_hits(hits)}" for arg, hits in self.ranges]


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    """What a state tests at one path: its probes, for every value found there."""

    slot: Any  # the key of the path's values in the gathered event (matcher._Slot)
    probes: tuple[Probe, ...]

    @property
    def shape(self) -> tuple[Any, ...]:
        return ("Field", *(p.shape for p in self.probes))

    @property
    def label(self) -> str:
        return "_".join(p.label for p in self.probes)

    @property
    def size(self) -> int:
        return 1 + sum(p.size for p in self.probes)

    def constants(self) -> tuple[Any, ...]:
        return (self.slot, *(c for p in self.probes for c in p.constants()))

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        def probes(inner: str) -> list[str]:
            lines = [f"{inner}t = type(v)"]
            k = 1
            for probe in self.probes:
                lines += probe.source(consts[k : k + probe.size], take, inner)
                k += probe.size
            return lines

        # ``gather`` keeps a path's one value (the usual case) as itself, several in a list.
        return [
            f"{ind}vals = get({consts[0]})",
            f"{ind}if vals is not None:",
            f"{ind}    if type(vals) is list:",
            f"{ind}        for v in vals:",
            *probes(ind + " " * 12),
            f"{ind}    else:",
            f"{ind}        v = vals",
            *probes(ind + " " * 8),
        ]

    def describe(self) -> list[str]:
        return [f"{self.slot}: {line}" for p in self.probes for line in p.describe()]


@dataclass(frozen=True, slots=True, eq=False)
class Absent:
    """A path whose absence (``exists: false``) leads to ``hits``."""

    slot: Any
    hits: HitList

    shape = ("Absent",)
    label = "absent"
    size = 2

    def constants(self) -> tuple[Any, ...]:
        return (self.slot, compact(self.hits))

    def source(self, consts: list[str], take: Take, ind: str) -> list[str]:
        slot, hits = consts
        return [f"{ind}if get({slot}) is None:", *take(hits, ind + "    ")]

    def describe(self) -> list[str]:
        return [f"{self.slot}: exists false -> {show_hits(self.hits)}"]


Form = Field | Absent


def _ident(name: str) -> str:
    return name.replace("-", "_").replace(" ", "_")
