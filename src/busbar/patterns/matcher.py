"""``Matcher``: many named rules, one pass per event, cost independent of the number of rules.

Each rule compiles once into alternatives (one per ``$or`` combination), each an AND of fields.
Every alternative is filed under one *anchor* field, the one most likely to be selective (exact
values first, then prefixes/suffixes/ignore-case, then ranges, then the rest): the anchor's
conditions go into that field path's ``PathIndex``. Matching an event walks only the paths some
rule refers to (a trie), asks each path's index which anchored alternatives the values found
there select, and checks each selected alternative's other fields directly. Alternatives whose
anchor can be met by absence (``exists: false``) are selected for every absent path. So the work
per event follows the values in the event and the alternatives they select, not the number of
rules. Multi-field alternatives matched through values inside arrays are confirmed by the
condition-by-condition evaluator, which enforces event-ruler's rule that fields matched inside
an array of objects come from the same element.

Adding or removing a rule touches only that rule's conditions.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .compile import Alternative, CompiledPattern, Path, compile_pattern
from .conditions import (AB_IC, AB_NUM, AB_PREFIX, AB_STR, AB_SUFFIX, AB_WILDCARD, EQ_IC,
                         EXACT_LIT, EXACT_NUM, EXACT_STR, EXISTS, PREFIX, PREFIX_IC, SUFFIX,
                         SUFFIX_IC, Cond, field_checker)
from .errors import PatternLimits
from .evaluate import alternative_matches
from .events import PathTrie, collect, parse_event
from .index import PathIndex

_ABSENT = Cond(EXISTS, False)
_RANK_EXACT = {EXACT_STR, EXACT_NUM, EXACT_LIT}
_RANK_AFFIX = _RANK_EXACT | {EQ_IC, PREFIX, PREFIX_IC, SUFFIX, SUFFIX_IC}
_NEGATIVE = {AB_STR, AB_NUM, AB_IC, AB_PREFIX, AB_SUFFIX, AB_WILDCARD}


def _anchor_rank(conds: tuple[Cond, ...]) -> int:
    """Lower is more selective: how few events a field's conditions are expected to pass."""
    kinds = {c.kind for c in conds}
    if _ABSENT in conds:
        return 5
    if kinds <= _RANK_EXACT:
        return 0
    if kinds <= _RANK_AFFIX:
        return 1
    if kinds & _NEGATIVE:
        return 4
    if EXISTS in kinds:
        return 3
    return 2  # numeric, cidr, wildcard


class _Sub:
    """One alternative of one rule: its anchor path and the fields checked after selection."""

    __slots__ = ("name", "alt", "anchor", "rest", "single", "indexes")

    def __init__(self, name: Hashable, alt: Alternative, anchor: Path) -> None:
        self.name = name
        self.alt = alt
        self.anchor = anchor
        self.rest: tuple[tuple[PathIndex, Callable[[list[Any]], bool], bool], ...] = ()
        self.single = len(alt) == 1
        self.indexes: tuple[PathIndex, ...] = ()


class Matcher:
    """A set of named event patterns, indexed for matching many events."""

    def __init__(self, limits: PatternLimits | None = None) -> None:
        self.limits = limits or PatternLimits()
        self._rules: dict[Hashable, tuple[CompiledPattern, list[int]]] = {}
        self._subs: dict[int, _Sub] = {}
        self._next_id = 0
        self._paths: dict[Path, PathIndex] = {}
        self._absent: dict[PathIndex, None] = {}  # indexes with exists:false anchors
        self._trie = PathTrie()

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def rule_names(self) -> list[Hashable]:
        """Names of all rules, in the order they were added."""
        return list(self._rules)

    def _distinct(self, path: Path) -> int:
        """How many distinct conditions rules already anchor on ``path``: among equally ranked
        fields, the one whose values rules tell apart most finely selects fewest candidates
        (``source`` with hundreds of values beats ``detail.state`` with three)."""
        index = self._paths.get(path)
        return len(index.hits) if index is not None else 0

    def _index(self, path: Path) -> PathIndex:
        index = self._paths.get(path)
        if index is None:
            index = self._paths[path] = PathIndex(path)
            self._trie.add(path, index)
        index.users += 1
        return index

    def _release(self, path: Path) -> None:
        index = self._paths[path]
        index.users -= 1
        if index.users == 0:
            del self._paths[path]
            self._absent.pop(index, None)
            self._trie.clear_slot(path)
            self._trie.remove(path)

    def add_rule(self, name: Hashable, pattern: str | bytes | dict[str, Any] | CompiledPattern) -> CompiledPattern:
        """Add (or replace) rule ``name``; raises ``InvalidEventPattern`` and then changes nothing."""
        compiled = compile_pattern(pattern, self.limits)
        if name in self._rules:
            self.remove_rule(name)
        ids: list[int] = []
        for alt in compiled.alternatives:
            sid = self._next_id
            self._next_id += 1
            anchor = min(alt, key=lambda p: (_anchor_rank(alt[p]), -self._distinct(p)))
            sub = _Sub(name, alt, anchor)
            rest = []
            for path, conds in alt.items():
                index = self._index(path)
                if path == anchor:
                    for cond in conds:
                        index.add(cond, sid)
                    if index.exists_false is not None:
                        self._absent[index] = None
                else:
                    rest.append((index, field_checker(conds), _ABSENT in conds))
            sub.rest = tuple(rest)
            sub.indexes = tuple(self._paths[p] for p in alt)
            self._subs[sid] = sub
            ids.append(sid)
        self._rules[name] = (compiled, ids)
        return compiled

    def remove_rule(self, name: Hashable) -> None:
        """Forget rule ``name`` (KeyError if unknown)."""
        _, ids = self._rules.pop(name)
        for sid in ids:
            sub = self._subs.pop(sid)
            index = self._paths[sub.anchor]
            for cond in sub.alt[sub.anchor]:
                index.remove(cond, sid)
            if index.exists_false is None:
                self._absent.pop(index, None)
            for path in sub.alt:
                self._release(path)

    def matches(self, event: dict[str, Any] | str | bytes) -> list[Hashable]:
        """Names of the rules ``event`` matches (each once, in no particular order)."""
        if type(event) is not dict:
            event = parse_event(event)
        values, members = collect(event, self._trie.root)
        found: list[list[int]] = []
        for index, vals in values.items():
            index.lookup(vals, found)
        for index in self._absent:
            if index not in values:
                found.append(index.exists_false)  # type: ignore[arg-type]
        if not found:
            return []
        subs = self._subs
        out: dict[Hashable, None] = {}
        # Paths whose values came out of arrays: only an alternative with two or more of them
        # can break the same-array-element rule, so only those need the full check.
        arrayed = {ix for ix, ms in members.items() if any(ms)} if members is not None else ()
        seen: set[int] = set()
        for hits in found:
            for sid in hits:
                if sid in seen:
                    continue
                seen.add(sid)
                sub = subs[sid]
                if sub.single:
                    out[sub.name] = None
                elif not _rest_holds(sub, values):
                    continue
                elif members is None or sum(ix in arrayed for ix in sub.indexes) < 2:
                    out[sub.name] = None
                elif alternative_matches(
                        sub.alt, {ix.path: v for ix, v in values.items()},
                        {ix.path: m for ix, m in members.items()}):
                    out[sub.name] = None
        return list(out)


def _rest_holds(sub: _Sub, values: dict[PathIndex, list[Any]]) -> bool:
    """Do the non-anchor fields of ``sub`` hold (ignoring array consistency)?"""
    for index, check, absent_ok in sub.rest:
        vals = values.get(index)
        if vals is None:
            if absent_ok:
                continue
            return False
        if not check(vals):
            return False
    return True
