"""``Matcher``: many named rules, one pass per event, cost independent of the number of rules.

Each rule compiles once into alternatives (one per ``$or`` combination), each an AND of fields.
The alternatives form a state machine in the style of AWS event-ruler: an alternative is a
sequence of *steps* ``(field path, its conditions)`` in a canonical order (most selective kind
first: exact values, then prefixes/suffixes/ignore-case, then ranges, CIDR and wildcards, then
``exists``, then anything-but, then ``exists: false``; ties by path), and alternatives that
begin with the same steps share the states those steps lead to. Every state holds one
``PathIndex`` per field path its outgoing steps test; a condition's hit list there names the
states (and, for a last step, the alternatives) it leads to.

Each state is compiled (``codegen``) into its *code*, ``(function, state, constants...)``: the
function is generated once per shape of state and shared, and hit lists hold the next states'
codes, so following a step is one call. Matching an event walks only the paths some rule refers
to (a trie), then calls the root's code: for each path the state tests, the values found there
lead, in a few dict probes or comparisons, to the next states' codes, and a state whose step can
be met by absence (``exists: false``) is followed when its path is absent. So the work per event
follows the steps the event actually satisfies, not the number of rules nor the number of
candidate rules sharing a first field. An alternative reached through values of two or more
paths inside arrays is confirmed by the condition-by-condition evaluator, which enforces
event-ruler's rule that fields matched inside an array of objects come from the same element.

Adding or removing a rule touches only the states along its own steps; they are compiled again
before the next match.
"""

from __future__ import annotations

import sys
from bisect import insort
from collections.abc import Callable, Hashable
from typing import Any

from .codegen import Compiler, noop
from .compile import Alternative, CompiledPattern, Path, compile_pattern
from .conditions import (
    AB_IC,
    AB_NUM,
    AB_PREFIX,
    AB_STR,
    AB_SUFFIX,
    AB_WILDCARD,
    EQ_IC,
    EXACT_LIT,
    EXACT_NUM,
    EXACT_STR,
    EXISTS,
    PREFIX,
    PREFIX_IC,
    SUFFIX,
    SUFFIX_IC,
    Cond,
)
from .errors import PatternLimits
from .evaluate import alternative_matches
from .events import PathTrie, collect, gather, parse_event
from .index import (
    FAST_ABSENT,
    FAST_EQ_IC,
    FAST_PAIR,
    FAST_PREFIX,
    FAST_PREFIXES,
    PathIndex,
    chained,
)

_ABSENT = Cond(EXISTS, False)
_RANK_EXACT = {EXACT_STR, EXACT_NUM, EXACT_LIT}
_RANK_AFFIX = _RANK_EXACT | {EQ_IC, PREFIX, PREFIX_IC, SUFFIX, SUFFIX_IC}
_NEGATIVE = {AB_STR, AB_NUM, AB_IC, AB_PREFIX, AB_SUFFIX, AB_WILDCARD}

Step = tuple[Path, tuple[Cond, ...]]


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


def steps_of(alt: Alternative, distinct: Callable[[Path], int]) -> tuple[Step, ...]:
    """The fields of ``alt`` in the order the machine tests them: most selective kind first;
    among equally ranked fields, the one whose exact values rules tell apart most finely
    (``source`` with hundreds of values before ``detail.state`` with three), so that rules
    sharing it share the state it leads to; then by path. (The order only has to be fixed
    per alternative: it is kept with it for removal.)"""

    def key(item: Step) -> tuple[int, int, Path]:
        rank = _anchor_rank(item[1])
        return rank, -distinct(item[0]) if rank == 0 else 0, item[0]

    return tuple(sorted(alt.items(), key=key))


class _Slot:
    """One referenced field path: the key under which an event's values at that path are found."""

    __slots__ = ("path", "users", "exact")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = 0
        self.exact: dict[Cond, int] = {}  # exact conditions rules place on the path, with counts

    def __repr__(self) -> str:
        return f"_Slot({'.'.join(self.path)})"


class _State:
    """A state of the machine: the indexes of the steps leaving it, and where each step leads."""

    __slots__ = (
        "indexes",
        "_fields",
        "_entries",
        "_order",
        "_unsorted",
        "children",
        "users",
        "pairable",
        "code",
        "fns",
        "parent",
        "step",
        "depth",
    )

    def __init__(self, parent: _State | None = None, step: Step | None = None) -> None:
        self.parent = parent  # the state whose ``step`` leads here (None at the root)
        self.step = step
        self.depth = 0 if parent is None else parent.depth + 1
        self.indexes: dict[Path, tuple[_Slot, PathIndex]] = {}
        # Per path, the entries of ``fields`` for it; kept up to date path by path (``refresh``)
        # and joined into ``fields``, in path order, when next read.
        self._entries: dict[Path, tuple[tuple[_Slot, int, Any, Any, Any], ...]] = {}
        self._order: list[Path] = []
        self._unsorted = False
        self._fields: tuple[tuple[_Slot, int, Any, Any, Any], ...] = ()
        self.children: dict[Step, _State] = {}
        self.users = 0  # alternatives whose steps pass through this state
        # True when a field may become a ``FAST_PAIR`` (``pair`` decides once the states after
        # this one are settled too).
        self.pairable = False
        # ``fields`` compiled (see codegen): the tuple ``(run, self, constants...)`` whose call
        # takes every step the event's values satisfy. The parent's hit lists hold it; it is
        # rebuilt (and replaced there) before the next match after ``fields`` changes.
        self.code: tuple[Any, ...] = (noop, self)
        self.fns: dict[Any, Any] = {}  # the per-field codes of a state with many fields

    @property
    def fields(self) -> tuple[tuple[_Slot, int, Any, Any, Any], ...]:
        """What the state tests: per path, ``(slot, code, a, b, c)`` where ``(code, a, b, c)`` is
        the index's inline form (``PathIndex.fast``), plus ``(slot, FAST_ABSENT, hits, None,
        None)`` for a path with ``exists: false`` steps; in path order, so that states testing
        the same fields share one compiled shape."""
        if self._unsorted:
            entries = self._entries
            self._fields = tuple(f for path in self._order for f in entries[path])
            self.pairable = any(f[1] == FAST_EQ_IC for f in self._fields)
            self._unsorted = False
        return self._fields

    def refresh(self, path: Path) -> None:
        """Take the index of ``path`` (changed, added or gone) into ``fields``. One path at a
        time, so that a state testing thousands of paths does not rebuild them all per rule."""
        entry = self.indexes.get(path)
        if entry is None:
            if self._entries.pop(path, None) is not None:
                self._order.remove(path)
        else:
            s, ix = entry
            fields: tuple[tuple[_Slot, int, Any, Any, Any], ...] = ()
            if ix.exists_false is not None:  # followed when the path is absent
                fields = ((s, FAST_ABSENT, ix.exists_false, None, None),)
            if ix.exists_false is None or len(ix) != 1:
                fields += ((s, *ix.fast),)
            if path not in self._entries:
                insort(self._order, path)
            self._entries[path] = fields
        self._unsorted = True

    def paired(self) -> tuple[tuple[_Slot, int, Any, Any, Any], ...]:
        """``fields`` with their ignore-case pairs made (``pair``), once the states after this
        one are settled."""
        if self.fields and self.pairable:  # (reading fields brings pairable up to date)
            self.pair()
        return self._fields

    def pair(self) -> None:
        """Turn each ignore-case field whose matches only lead to states that test nothing but
        prefixes of one other path into a ``FAST_PAIR``: one probe of the lower-cased value then
        gives that path's prefix tables for it, so an event probes them here rather than
        entering a state to do so."""
        fields = list(self.fields)
        for i, (s, code, a, b, c) in enumerate(fields):
            if code != FAST_EQ_IC:
                continue
            other: _Slot | None = None
            merged: dict[str, tuple[tuple[int, ...], dict[str, tuple[Any, ...]]]] = {}
            for key, hits in a.items():
                by_length: dict[int, dict[str, tuple[Any, ...]]] = {}
                for code in hits:
                    if type(code) is not tuple:
                        break
                    child = code[1]
                    if len(child.fields) != 1:
                        break
                    ((slot2, code2, tables, exact2, _),) = child.fields
                    if other is not None and slot2 is not other:
                        break
                    if code2 == FAST_PREFIX:  # one prefix: tables is it, exact2 its hit list
                        other = slot2
                        table = by_length.setdefault(len(tables), {})
                        table[tables] = table.get(tables, ()) + exact2
                        continue
                    if code2 != FAST_PREFIXES or exact2 is not None:
                        break
                    other = slot2
                    for length, prefixes in tables.lens:
                        table = by_length.setdefault(length, {})
                        for prefix, h in prefixes.items():
                            table[prefix] = table.get(prefix, ()) + h
                else:
                    merged[key] = chained(by_length)  # probed longest first
                    continue
                break
            else:
                if other is not None and other is not s:
                    fields[i] = (s, FAST_PAIR, (merged, other, a), b, c)
        self._fields = tuple(fields)


class _Sub:
    """One alternative of one rule: where its last step ends."""

    __slots__ = ("name", "alt", "steps", "slots", "multi", "hit")

    def __init__(self, name: Hashable, alt: Alternative, steps: tuple[Step, ...], slots: tuple[_Slot, ...]) -> None:
        self.name = name
        self.alt = alt
        self.steps = steps
        self.slots = slots
        self.multi = len(slots) > 1  # only then can array consistency reject it
        # What its last step's hit list holds: the rule's name itself, unless array consistency
        # may have to confirm it or the name is a tuple, which hit lists keep for states' codes
        # (then this object), so that most matches read nothing more.
        self.hit: Any = self if self.multi or type(name) is tuple else name


class Matcher:
    """A set of named event patterns, indexed for matching many events."""

    def __init__(self, limits: PatternLimits | None = None) -> None:
        self.limits = limits or PatternLimits()
        # Matching calls one state's code from the last: up to two frames per field of an
        # alternative. (Python-to-Python calls take no C stack in 3.11, so a higher limit is safe.)
        depth = 2 * self.limits.max_fields + 200
        if sys.getrecursionlimit() < depth:
            sys.setrecursionlimit(depth)
        self._rules: dict[Hashable, tuple[CompiledPattern, list[_Sub]]] = {}
        self._subs: dict[int, _Sub] = {}  # id -> alternative, for bookkeeping
        self._paths: dict[Path, _Slot] = {}
        self._trie = PathTrie()
        self._root = _State()
        # One shared object per distinct condition across all indexes, with its use count: the
        # strings, sets and tuples the inline forms compare against are then the same few objects
        # for thousands of states, and stay in the CPU caches.
        self._conds: dict[Cond, list[Any]] = {}
        # States whose fields changed since the last match: paired (``_State.pair``) and compiled
        # before the next one, once the states after them are settled too.
        self._stale: set[_State] = set()
        self._compiler = _COMPILER

    def _intern(self, cond: Cond) -> Cond:
        entry = self._conds.get(cond)
        if entry is None:
            entry = self._conds[cond] = [cond, 0]
        entry[1] += 1
        return entry[0]  # type: ignore[no-any-return]

    def _unintern(self, cond: Cond) -> None:
        entry = self._conds[cond]
        entry[1] -= 1
        if not entry[1]:
            del self._conds[cond]

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def rule_names(self) -> list[Hashable]:
        """Names of all rules, in the order they were added."""
        return list(self._rules)

    def _distinct(self, path: Path) -> int:
        slot = self._paths.get(path)
        return len(slot.exact) if slot is not None else 0

    def _slot(self, path: Path, conds: tuple[Cond, ...]) -> _Slot:
        slot = self._paths.get(path)
        if slot is None:
            slot = self._paths[path] = _Slot(path)
            self._trie.add(path, slot)
        slot.users += 1
        for cond in conds:
            if cond.kind in _RANK_EXACT:
                slot.exact[cond] = slot.exact.get(cond, 0) + 1
        return slot

    def _release(self, path: Path, conds: tuple[Cond, ...]) -> None:
        slot = self._paths[path]
        for cond in conds:
            if cond.kind in _RANK_EXACT:
                slot.exact[cond] -= 1
                if not slot.exact[cond]:
                    del slot.exact[cond]
        slot.users -= 1
        if slot.users == 0:
            del self._paths[path]
            self._trie.clear_slot(path)
            self._trie.remove(path)

    def add_rule(self, name: Hashable, pattern: str | bytes | dict[str, Any] | CompiledPattern) -> CompiledPattern:
        """Add (or replace) rule ``name``; raises ``InvalidEventPattern`` and then changes nothing."""
        compiled = compile_pattern(pattern, self.limits)
        if name in self._rules:
            self.remove_rule(name)
        subs: list[_Sub] = []
        for alt in compiled.alternatives:
            steps = steps_of(alt, self._distinct)
            sub = _Sub(name, alt, steps, tuple(self._slot(path, conds) for path, conds in steps))
            state = self._root
            last = len(steps) - 1
            for i, step in enumerate(steps):
                path, conds = step
                state.users += 1
                entry = state.indexes.get(path)
                if entry is None:
                    entry = state.indexes[path] = (self._paths[path], PathIndex(path))
                index = entry[1]
                if i == last:
                    for cond in conds:
                        index.add(self._intern(cond), sub.hit)
                else:
                    child = state.children.get(step)
                    if child is None:
                        child = state.children[step] = _State(state, step)
                        for cond in conds:
                            index.add(self._intern(cond), child.code)
                    state.refresh(path)
                    self._stale.add(state)
                    state = child
                    continue
                state.refresh(path)
                self._stale.add(state)
            self._subs[id(sub)] = sub
            subs.append(sub)
        self._rules[name] = (compiled, subs)
        return compiled

    def remove_rule(self, name: Hashable) -> None:
        """Forget rule ``name`` (KeyError if unknown)."""
        _, subs = self._rules.pop(name)
        for sub in subs:
            del self._subs[id(sub)]
            chain: list[_State] = []
            state = self._root
            for step in sub.steps[:-1]:
                chain.append(state)
                state = state.children[step]
            chain.append(state)
            # Undo from the last step back to the root.
            # ``target``: what the step's hit lists lose (the alternative's token at the last
            # step, then each state left unused), or None once a state is still used.
            target: Any = sub.hit
            last = True
            for state, step in zip(reversed(chain), reversed(sub.steps), strict=True):
                path, conds = step
                index = state.indexes[path][1]
                if last or target is not None:
                    for cond in conds:
                        index.remove(cond, target)
                        self._unintern(cond)
                    if not last:
                        del state.children[step].parent  # detached: never compiled again
                        del state.children[step]
                last = False
                if not len(index):
                    del state.indexes[path]
                state.refresh(path)
                self._stale.add(state)
                state.users -= 1
                target = state.code if state.users == 0 and state is not self._root else None
            for path, conds in sub.steps:
                self._release(path, conds)

    def matches(self, event: dict[str, Any] | str | bytes) -> list[Hashable]:
        """Names of the rules ``event`` matches (each once, in no particular order)."""
        if type(event) is not dict:
            event = parse_event(event)
        if self._stale:
            self._settle()
        values, arrayed = gather(event, self._trie.root)
        out: dict[Hashable, None] = {}
        # Only an alternative with two or more paths reached through arrays can break the
        # same-array-element rule, so with fewer such paths in the event none needs confirming.
        code = self._root.code
        code[0](values.get, out, set(), None if len(arrayed) < 2 else [self, event, arrayed, []], code)
        return list(out)

    def _settle(self) -> None:
        """Pair and compile the states changed since the last match, deepest first: pairing
        reads the states after one, and a state's new code goes into its parent's hit lists,
        which changes the parent too."""
        levels: dict[int, set[_State]] = {}
        for state in self._stale:
            levels.setdefault(state.depth, set()).add(state)
        self._stale.clear()
        for depth in range(max(levels), -1, -1):
            for state in levels.pop(depth, ()):
                if state is not self._root and not hasattr(state, "parent"):
                    continue  # removed since it changed
                old = state.code
                state.code = self._compiler.build(state, state.paired(), state.fns)
                parent = state.parent
                if parent is not None:
                    path, conds = state.step  # type: ignore[misc]
                    index = parent.indexes[path][1]
                    for cond in conds:
                        index.replace(cond, old, state.code)
                    parent.refresh(path)
                    levels.setdefault(depth - 1, set()).add(parent)

    def _consistent(self, sub: _Sub, event: dict[str, Any], arrayed: set[Any], full: list[Any]) -> bool:
        """Confirm ``sub`` with the same-array-element rule, when two of its paths crossed arrays."""
        if sum(s in arrayed for s in sub.slots) < 2:
            return True
        if not full:
            values, members = collect(event, self._trie.root)
            full.append({s.path: v for s, v in values.items()})
            full.append({s.path: m for s, m in members.items()} if members is not None else None)
        return alternative_matches(sub.alt, full[0], full[1])


def _confirm(sub: _Sub, out: dict[Hashable, None], seen: set[Any], ctx: list[Any]) -> None:
    """Take alternative ``sub`` (once) if the same-array-element rule allows it; ``ctx`` is
    ``[matcher, event, arrayed slots, the full walk once made]``."""
    if sub not in seen:
        seen.add(sub)
        matcher, event, arrayed, full = ctx
        if matcher._consistent(sub, event, arrayed, full):
            out[sub.name] = None


_COMPILER = Compiler(_Sub, _confirm)
