"""The per-path index: every condition that the steps leaving one state of the Matcher place on one
field path, each with its *hit list* (the next states, and the alternatives whose last step it
is), and how the state tests them (``forms``).

Conditions of one kind are tested one by one while they are few; past that, a kind that can be
indexed goes into a table (a dict for equality, one dict per length for prefixes and suffixes, a
boundary table for ranges), so that one value finds the conditions it meets in one or a few
lookups, whatever their number. Kinds no table answers (wildcards, CIDR blocks, anything-but) are
tested one by one, once per distinct condition on the path rather than per rule.
"""

from __future__ import annotations

from typing import Any

from .conditions import ABSENT, ENDS, EQUALS, KINDS, STARTS, WITHIN, Cond, Kind
from .forms import Absent, AffixTable, EqualTable, Field, Form, Hit, HitList, Probe, RangeTable, Test

# How many conditions of one kind on a path make a table worth it (below that they are tested
# one by one: for one exact string a comparison is cheaper than a dict lookup).
TABLE_FROM = {EQUALS: 2, STARTS: 2, ENDS: 2, WITHIN: 4}


class PathIndex:
    """All conditions on one field path leaving one state, with their hit lists."""

    __slots__ = ("path", "hits", "_forms")

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.hits: dict[Cond, HitList] = {}  # every condition -> its hit list, in order of arrival
        self._forms: tuple[Form, ...] | None = None  # forms(), until the next change

    def __len__(self) -> int:
        return len(self.hits)

    def add(self, cond: Cond, hit: Hit) -> None:
        """Record that ``hit`` is taken when a value meets ``cond``."""
        self.hits[cond] = (*self.hits.get(cond, ()), hit)
        self._forms = None

    def remove(self, cond: Cond, hit: Hit) -> None:
        """Undo one ``add``; a condition nobody uses any more leaves the index."""
        rest = list(self.hits[cond])
        rest.remove(hit)
        if rest:
            self.hits[cond] = tuple(rest)
        else:
            del self.hits[cond]
        self._forms = None

    def replace(self, cond: Cond, old: Hit, new: Hit) -> None:
        """Put ``new`` where ``cond``'s hit list holds ``old`` (a state's code that changed)."""
        self.hits[cond] = tuple(new if h is old else h for h in self.hits[cond])
        self._forms = None

    def forms(self, slot: Any) -> tuple[Form, ...]:
        """How a state tests this path: an ``Absent`` for ``exists: false``, and a ``Field`` with
        the probes of every other condition."""
        if self._forms is None:
            forms: list[Form] = []
            absent = self.hits.get(ABSENT)
            if absent is not None:
                forms.append(Absent(slot, absent))
            probes = self._probes()
            if probes:
                forms.append(Field(slot, probes))
            self._forms = tuple(forms)
        return self._forms

    def _probes(self) -> tuple[Probe, ...]:
        by_kind: dict[Kind, list[tuple[Any, HitList]]] = {}
        for cond, hits in self.hits.items():
            if cond != ABSENT:
                by_kind.setdefault(cond.kind, []).append((cond.arg, hits))
        probes: list[Probe] = []
        # Kinds in a fixed order, so that states testing the same kinds share one shape.
        for kind, entries in sorted(by_kind.items(), key=lambda item: KINDS.index(item[0])):
            relation = kind.relation
            table_from = None if kind.negative else TABLE_FROM.get(relation)
            if table_from is None or len(entries) < table_from:
                probes.extend(Test(kind, arg, hits) for arg, hits in entries)
            elif relation == EQUALS:
                probes.append(EqualTable(kind, dict(entries)))
            elif relation == WITHIN:
                probes.append(RangeTable.of(kind, entries))
            else:
                probes.append(AffixTable.of(kind, entries))
        return tuple(probes)
