"""``Matcher``: many named rules, one pass per event, cost independent of the number of rules.

How it works is described once, in this package's README ("How matching works"); in short: each
rule's alternatives are sequences of *steps* (a field path and its conditions) in a canonical
order, alternatives sharing their first steps share the *states* those steps lead to, every
state keeps one ``PathIndex`` per path its steps test, and each state is compiled (``codegen``)
into one call that takes every step an event's values satisfy. ``describe()`` prints the states
and, on request, the generated code.
"""

from __future__ import annotations

import sys
from bisect import insort
from collections.abc import Callable, Hashable
from typing import Any

from .codegen import Code, Compiler, noop
from .compile import Alternative, CompiledPattern, Path, compile_pattern
from .conditions import ABSENT, Cond
from .errors import PatternLimits
from .evaluate import alternative_matches
from .events import PathTrie, collect, gather, parse_event
from .forms import Form, show_condition
from .index import PathIndex

Step = tuple[Path, tuple[Cond, ...]]


def _anchor_rank(conds: tuple[Cond, ...]) -> int:
    """Lower is more selective: how few events a field's conditions are expected to pass (the
    least selective condition's ``Kind.rank``; ``exists: false`` last)."""
    return 5 if ABSENT in conds else max(c.kind.rank for c in conds)


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

    def __str__(self) -> str:
        return ".".join(self.path)

    def __repr__(self) -> str:
        return f"_Slot({self})"


class _State:
    """A state of the machine: the indexes of the steps leaving it, and where each step leads."""

    __slots__ = ("parent", "step", "depth", "indexes", "paths", "children", "users", "code", "number")

    def __init__(self, parent: _State | None = None, step: Step | None = None) -> None:
        self.parent = parent  # the state whose ``step`` leads here (None at the root)
        self.step = step
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.indexes: dict[Path, tuple[_Slot, PathIndex]] = {}
        self.paths: list[Path] = []  # the keys of ``indexes``, sorted
        self.children: dict[Step, _State] = {}
        self.users = 0  # alternatives whose steps pass through this state
        # The compiled state (codegen): the parent's hit lists hold it; it is rebuilt (and
        # replaced there) before the next match after the state changes.
        self.code: Code = (noop, self)
        self.number = 0  # for describe()

    def index(self, slot: _Slot) -> PathIndex:
        """The index of ``slot``'s path, made if new."""
        entry = self.indexes.get(slot.path)
        if entry is None:
            entry = self.indexes[slot.path] = (slot, PathIndex(slot.path))
            insort(self.paths, slot.path)
        return entry[1]

    def drop_if_empty(self, path: Path) -> None:
        if not len(self.indexes[path][1]):
            del self.indexes[path]
            self.paths.remove(path)

    def forms(self) -> tuple[Form, ...]:
        """What the state tests, path by path, in path order (so that states testing the same
        kinds on the same number of paths share one compiled shape)."""
        indexes = self.indexes
        return tuple(form for path in self.paths for form in indexes[path][1].forms(indexes[path][0]))


class _Sub:
    """One alternative of one rule: where its last step ends."""

    __slots__ = ("name", "alt", "steps", "slots", "hit")

    def __init__(self, name: Hashable, alt: Alternative, steps: tuple[Step, ...], slots: tuple[_Slot, ...]) -> None:
        self.name = name
        self.alt = alt
        self.steps = steps
        self.slots = slots
        # What its last step's hit list holds: the rule's name itself, unless array consistency
        # may have to confirm the alternative (only when two of its paths can cross arrays) or
        # the name is a tuple, which hit lists keep for states' codes: then this object.
        self.hit: Any = self if len(slots) > 1 or type(name) is tuple else name


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
        self._paths: dict[Path, _Slot] = {}
        self._trie = PathTrie()
        self._root = _State()
        self._conds: dict[Cond, list[Any]] = {}  # condition -> [its shared object, use count]
        # States changed since the last match: compiled before the next one.
        self._stale: set[_State] = set()
        self._compiler = _COMPILER

    def _intern(self, cond: Cond) -> Cond:
        """The one shared object equal to ``cond``, counted: the strings, sets and ranges that
        states compare against are then the same few objects for thousands of states, and stay
        in the CPU's caches."""
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
            if cond.kind.rank == 0:
                slot.exact[cond] = slot.exact.get(cond, 0) + 1
        return slot

    def _release(self, path: Path, conds: tuple[Cond, ...]) -> None:
        slot = self._paths[path]
        for cond in conds:
            if cond.kind.rank == 0:
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
            for i, step in enumerate(steps):
                state.users += 1
                index = state.index(sub.slots[i])
                self._stale.add(state)
                if i == len(steps) - 1:
                    for cond in step[1]:
                        index.add(self._intern(cond), sub.hit)
                    break
                child = state.children.get(step)
                if child is None:
                    child = state.children[step] = _State(state, step)
                    for cond in step[1]:
                        index.add(self._intern(cond), child.code)
                state = child
            subs.append(sub)
        self._rules[name] = (compiled, subs)
        return compiled

    def remove_rule(self, name: Hashable) -> None:
        """Forget rule ``name`` (KeyError if unknown)."""
        _, subs = self._rules.pop(name)
        for sub in subs:
            chain = [self._root]
            for step in sub.steps[:-1]:
                chain.append(chain[-1].children[step])
            # Undo from the last step back to the root. ``target``: what the step's hit lists
            # lose (the alternative's token at the last step, then each state left unused), or
            # None once a state is still used.
            target: Any = sub.hit
            last = True
            for state, step in zip(reversed(chain), reversed(sub.steps), strict=True):
                path, conds = step
                if last or target is not None:
                    index = state.indexes[path][1]
                    for cond in conds:
                        index.remove(cond, target)
                        self._unintern(cond)
                    if not last:
                        del state.children[step].parent  # detached: never compiled again
                        del state.children[step]
                    state.drop_if_empty(path)
                    self._stale.add(state)
                last = False
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
        """Compile the states changed since the last match, deepest first: a state's new code goes
        into its parent's hit lists, which changes the parent too."""
        levels: dict[int, set[_State]] = {}
        for state in self._stale:
            levels.setdefault(state.depth, set()).add(state)
        self._stale.clear()
        for depth in range(max(levels), -1, -1):
            for state in levels.pop(depth, ()):
                if state is not self._root and not hasattr(state, "parent"):
                    continue  # removed since it changed
                old = state.code
                state.code = self._compiler.build(state, state.forms())
                parent = state.parent
                if parent is not None and state.step is not None:
                    path, conds = state.step
                    index = parent.indexes[path][1]
                    for cond in conds:
                        index.replace(cond, old, state.code)
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

    # -- describe ----------------------------------------------------------------------------
    def describe(self, source: bool = False) -> str:
        """The machine as text: a summary line, then every state (numbered from the root, 0) with
        the step that leads to it, its generated function and what it tests, each condition with
        where it leads (next states by number, rule names quoted). With ``source``, the generated
        functions' code follows."""
        if self._stale:
            self._settle()
        states = [self._root]
        for state in states:  # breadth first, children in the order they were made
            states.extend(state.children.values())
        for number, state in enumerate(states):
            state.number = number
        runs: dict[str, Any] = {}
        lines: list[str] = []
        for state in states:
            run = state.code[0]
            runs[run.__name__] = run
            after = "" if state.step is None else f" after {_show_step(state.step)}"
            lines.append(f"state {state.number}{after}: {run.__name__}")
            if run.__name__ == "chain":
                for code in state.code[2]:
                    runs[code[0].__name__] = code[0]
            for form in state.forms():
                lines.extend("  " + line for line in form.describe())
        alternatives = sum(len(subs) for _, subs in self._rules.values())
        generated = [name for name in runs if name not in ("noop", "chain")]
        head = (
            f"Matcher: {len(self._rules)} rules, {alternatives} alternatives, {len(states)} states, "
            f"{len(self._paths)} paths, {len(self._conds)} conditions, {len(generated)} generated functions"
        )
        out = [head, *lines]
        if source:
            import inspect

            for name in generated:
                out += ["", inspect.getsource(runs[name]).rstrip()]
        return "\n".join(out)


def _show_step(step: Step) -> str:
    path, conds = step
    return f"{'.'.join(path)} [{', '.join(show_condition(c.kind, c.arg) for c in conds)}]"


def _confirm(sub: _Sub, out: dict[Hashable, None], seen: set[int], ctx: list[Any]) -> None:
    """Take alternative ``sub`` (once) if the same-array-element rule allows it; ``ctx`` is
    ``[matcher, event, arrayed slots, the full walk once made]``."""
    if id(sub) not in seen:
        seen.add(id(sub))
        matcher, event, arrayed, full = ctx
        if matcher._consistent(sub, event, arrayed, full):
            out[sub.name] = None


_COMPILER = Compiler(_Sub, _confirm)
