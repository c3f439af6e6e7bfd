"""``Matcher``: many named rules, one pass per event, cost independent of the number of rules.

Each rule compiles once into alternatives (one per ``$or`` combination). Every alternative gets a
number and each of its fields a bit. The conditions go into one ``PathIndex`` per field path, and
the paths into a trie. Matching an event walks only the referenced paths, asks each path's index
which conditions the values found there satisfy, and ORs the owners' bits together; an
alternative whose bits are all set matched. Fields that require absence (``exists: false``) are
credited for every absent path afterwards. When a multi-field alternative matched through values
inside arrays, it is confirmed by the condition-by-condition evaluator, which also enforces
event-ruler's rule that fields matched inside an array of objects come from the same element.

Adding or removing a rule touches only that rule's conditions.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .compile import Alternative, CompiledPattern, Path, compile_pattern
from .errors import PatternLimits
from .evaluate import alternative_matches
from .events import PathTrie, collect, parse_event
from .index import HitList, PathIndex


class _Sub:
    """One alternative of one rule."""

    __slots__ = ("name", "full", "alt", "multi")

    def __init__(self, name: Hashable, alt: Alternative) -> None:
        self.name = name
        self.alt = alt
        self.full = (1 << len(alt)) - 1
        self.multi = len(alt) > 1


class Matcher:
    """A set of named event patterns, indexed for matching many events."""

    def __init__(self, limits: PatternLimits | None = None) -> None:
        self.limits = limits or PatternLimits()
        self._rules: dict[Hashable, tuple[CompiledPattern, list[int]]] = {}
        self._subs: dict[int, _Sub] = {}
        self._full: dict[int, int] = {}          # sub id -> bits of all its fields
        self._names: dict[int, Hashable] = {}    # sub id -> rule name
        self._next_id = 0
        self._paths: dict[Path, PathIndex] = {}
        self._absent: dict[PathIndex, None] = {}  # indexes with exists:false conditions
        self._trie = PathTrie()

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def add_rule(self, name: Hashable, pattern: str | bytes | dict[str, Any] | CompiledPattern) -> CompiledPattern:
        """Add (or replace) rule ``name``; raises ``InvalidEventPattern`` and then changes nothing."""
        compiled = compile_pattern(pattern, self.limits)
        if name in self._rules:
            self.remove_rule(name)
        ids: list[int] = []
        for alt in compiled.alternatives:
            sid = self._next_id
            self._next_id += 1
            sub = _Sub(name, alt)
            self._subs[sid] = sub
            self._full[sid] = sub.full
            self._names[sid] = name
            ids.append(sid)
            for bit_no, (path, conds) in enumerate(alt.items()):
                index = self._paths.get(path)
                if index is None:
                    index = self._paths[path] = PathIndex(path)
                    self._trie.add(path, index)
                for cond in conds:
                    index.add(cond, (sid, 1 << bit_no))
                if index.exists_false is not None:
                    self._absent[index] = None
        self._rules[name] = (compiled, ids)
        return compiled

    def remove_rule(self, name: Hashable) -> None:
        """Forget rule ``name`` (KeyError if unknown)."""
        _, ids = self._rules.pop(name)
        for sid in ids:
            sub = self._subs.pop(sid)
            del self._full[sid]
            del self._names[sid]
            for bit_no, (path, conds) in enumerate(sub.alt.items()):
                index = self._paths[path]
                for cond in conds:
                    index.remove(cond, (sid, 1 << bit_no))
                if index.exists_false is None:
                    self._absent.pop(index, None)
                if not len(index):
                    del self._paths[path]
                    self._trie.clear_slot(path)
                    self._trie.remove(path)

    def rule_names(self) -> list[Hashable]:
        """Names of all rules, in the order they were added."""
        return list(self._rules)

    def matches(self, event: dict[str, Any] | str | bytes) -> list[Hashable]:
        """Names of the rules ``event`` matches (each once, in no particular order)."""
        event = parse_event(event)
        values, members = collect(event, self._trie.root)
        found: list[HitList] = []
        for index, vals in values.items():
            index.lookup(vals, found)
        for index in self._absent:
            if index not in values:
                found.append(index.exists_false)  # type: ignore[arg-type]
        if not found:
            return []
        acc: dict[int, int] = {}
        get = acc.get
        for hits in found:
            for sid, bit in hits:
                acc[sid] = get(sid, 0) | bit
        full = self._full
        names = self._names
        if members is None:
            return list(dict.fromkeys(names[sid] for sid, bits in acc.items() if bits == full[sid]))
        by_path: dict[Path, list[Any]] | None = None
        out: dict[Hashable, None] = {}
        for sid, bits in acc.items():
            if bits != full[sid]:
                continue
            sub = self._subs[sid]
            if sub.multi:
                if by_path is None:
                    by_path = {ix.path: v for ix, v in values.items()}
                    by_mem = {ix.path: m for ix, m in members.items()}
                if not alternative_matches(sub.alt, by_path, by_mem):
                    continue
            out[sub.name] = None
        return list(out)
