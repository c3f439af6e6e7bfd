"""Events: parse once, then read only the fields some pattern refers to.

``PathTrie`` holds the referenced field paths (keys split at dots). ``collect`` walks an event
dict along the trie and gathers, for each referenced path, the leaf values found there together
with their array membership: the position of the value in every array it sits in, so that
matching can insist that fields matched inside an array of objects come from the same element
(event-ruler's rule for JSON events).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import orjson

Membership = tuple[tuple[int, int], ...]  # ((id of array, index in it), ...), outermost first


class EventNotObject(ValueError):
    """The event is not a JSON object."""


def parse_event(event: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The event as a dict; JSON text or bytes is parsed with orjson."""
    if type(event) is dict:
        return event
    if isinstance(event, (str, bytes, bytearray, memoryview)):
        try:
            value = orjson.loads(event)
        except orjson.JSONDecodeError:
            import json  # orjson refuses integers wider than 64 bits; json does not

            value = json.loads(bytes(event) if not isinstance(event, str) else event)
    else:
        value = event
    if not isinstance(value, dict):
        raise EventNotObject("event must be a JSON object")
    return value


class TrieNode:
    """One step of a referenced path. ``slot`` is set when a path ends here; ``deep`` says some
    child has children, so a dotted event key (``"a.b"``) here could reach a referenced path."""

    __slots__ = ("children", "slot", "deep", "users", "getter")

    def __init__(self, seg: str = "") -> None:
        self.getter = itemgetter(seg)  # reads this node's key from a dict
        self.children: dict[str, TrieNode] = {}
        self.slot: Any = None
        self.deep = False
        self.users = 0  # how many registrations pass through this node (for removal)


class PathTrie:
    """The set of referenced paths, each carrying a caller-chosen ``slot`` object."""

    def __init__(self) -> None:
        self.root = TrieNode()

    def add(self, path: tuple[str, ...], slot: Any) -> None:
        """Register ``path`` (once per user; ``remove`` undoes one registration)."""
        node = self.root
        node.users += 1
        for seg in path:
            child = node.children.get(seg)
            if child is None:
                child = node.children[seg] = TrieNode(seg)
            child.users += 1
            node = child
        node.slot = slot
        self._refresh_deep(path)

    def remove(self, path: tuple[str, ...]) -> None:
        """Drop one registration of ``path``; prune nodes nobody uses any more."""
        node = self.root
        node.users -= 1
        for seg in path:
            child = node.children[seg]
            child.users -= 1
            if child.users == 0:
                del node.children[seg]
                break
            node = child
        self._refresh_deep(path)

    def clear_slot(self, path: tuple[str, ...]) -> None:
        node = self.root
        for seg in path:
            node = node.children.get(seg)  # type: ignore[assignment]
            if node is None:
                return
        node.slot = None

    def _refresh_deep(self, path: tuple[str, ...]) -> None:
        node = self.root
        chain = [node]
        for seg in path:
            node = node.children.get(seg)  # type: ignore[assignment]
            if node is None:
                break
            chain.append(node)
        for n in chain:
            n.deep = any(c.children for c in n.children.values())


def collect(event: dict[str, Any], root: TrieNode) -> tuple[dict[Any, list[Any]], dict[Any, list[Membership]] | None]:
    """Leaf values at the referenced paths of ``event``.

    Returns ``(values, memberships)``: ``values[slot]`` lists the leaves found at the path whose
    trie node carries ``slot``; ``memberships`` is None when no array was crossed on the way to
    any of them (the common case, where array consistency cannot matter), else the parallel
    lists of each leaf's array membership.
    """
    values: dict[Any, list[Any]] = {}
    state = _Walk(values)
    state.obj(event, root, ())
    return values, state.members


class _Walk:
    __slots__ = ("values", "members")

    def __init__(self, values: dict[Any, list[Any]]) -> None:
        self.values = values
        self.members: dict[Any, list[Membership]] | None = None

    def obj(self, obj: dict[str, Any], node: TrieNode, mem: Membership) -> None:
        get = obj.get
        for seg, child in node.children.items():
            v = get(seg, _MISSING)
            if v is _MISSING:
                continue
            t = type(v)
            if t is dict or t is list or mem or self.members is not None:
                self.value(v, child, mem)
            elif child.slot is not None:
                # The common case, inlined: a scalar outside any array.
                found = self.values.get(child.slot)
                if found is None:
                    self.values[child.slot] = [v]
                else:
                    found.append(v)
        if node.deep:
            # Event keys with dots name nested fields too: {"a.b": 1} is a value at a.b.
            for key, v in obj.items():
                if "." in key:
                    target: TrieNode | None = node
                    for seg in key.split("."):
                        target = target.children.get(seg)  # type: ignore[union-attr]
                        if target is None:
                            break
                    if target is not None:
                        self.value(v, target, mem)

    def value(self, v: Any, node: TrieNode, mem: Membership) -> None:
        t = type(v)
        if t is dict:
            if node.children:
                self.obj(v, node, mem)
        elif t is list:
            key = id(v)
            for i, e in enumerate(v):
                self.value(e, node, mem + ((key, i),))
        elif node.slot is not None:
            slot = node.slot
            found = self.values.get(slot)
            if found is None:
                found = self.values[slot] = []
            found.append(v)
            if mem or self.members is not None:
                if self.members is None:
                    # First leaf inside an array: back-fill empty memberships for earlier leaves.
                    self.members = {s: [()] * len(vs) for s, vs in self.values.items()}
                    self.members[slot].pop()
                self.members.setdefault(slot, []).append(mem)


_MISSING = object()


def compatible(a: Membership, b: Membership) -> bool:
    """Two leaves can be used together unless they sit in different elements of one array."""
    if not a or not b:
        return True
    positions = dict(a)
    for arr, idx in b:
        other = positions.get(arr)
        if other is not None and other != idx:
            return False
    return True


def consistent(choices: list[list[Membership]]) -> bool:
    """Can one membership be picked from each list so that all picks are pairwise compatible?"""
    lists = [c for c in choices if () not in c]  # a leaf outside arrays fits with anything
    if len(lists) <= 1:
        return True
    lists.sort(key=len)
    picked: list[Membership] = []

    def search(i: int) -> bool:
        if i == len(lists):
            return True
        for m in lists[i]:
            if all(compatible(m, p) for p in picked):
                picked.append(m)
                if search(i + 1):
                    return True
                picked.pop()
        return False

    return search(0)


def gather(event: dict[str, Any], root: TrieNode) -> tuple[dict[Any, Any], set[Any]]:
    """Like ``collect`` but without array memberships, for the Matcher's hot path.

    Returns ``(values, arrayed)``: ``values[slot]`` is the one leaf found at the slot's path
    itself (the usual case: no list to make, and none to walk) or, for several leaves or a
    ``null``, the list of them, so that a path is absent exactly when it has no entry; and the set
    of slots some of whose leaves were reached through an array (only alternatives with two or
    more such paths can break the same-array-element rule, and only those are confirmed with
    ``collect``).
    """
    values: dict[Any, Any] = {}
    arrayed: set[Any] = set()
    _gather_obj(event, root, values, arrayed, False)
    return values, arrayed


def _gather_obj(obj: dict[str, Any], node: TrieNode, values: dict[Any, Any], arrayed: set[Any], in_array: bool) -> None:
    get = obj.get
    for seg, child in node.children.items():
        v = get(seg, _MISSING)
        if v is _MISSING:
            continue
        t = type(v)
        if t is dict:
            if child.children:
                _gather_obj(v, child, values, arrayed, in_array)
        elif t is list:
            _gather_list(v, child, values, arrayed)
        else:
            slot = child.slot
            if slot is not None:
                # ``_add``, inline: the usual leaf, where a call would cost 5-10% of a match
                # (EXACT, EQUALS_IGNORE_CASE, GENERATED_1000 in benchmarks/match.py).
                found = values.get(slot)
                if found is None:
                    values[slot] = v if v is not None else [None]
                elif type(found) is list:
                    found.append(v)
                else:
                    values[slot] = [found, v]
                if in_array:
                    arrayed.add(slot)
    if node.deep:
        # Event keys with dots name nested fields too: {"a.b": 1} is a value at a.b.
        for key, v in obj.items():
            if "." in key:
                target: TrieNode | None = node
                for seg in key.split("."):
                    target = target.children.get(seg)  # type: ignore[union-attr]
                    if target is None:
                        break
                if target is not None:
                    t = type(v)
                    if t is dict:
                        if target.children:
                            _gather_obj(v, target, values, arrayed, in_array)
                    elif t is list:
                        _gather_list(v, target, values, arrayed)
                    elif target.slot is not None:
                        _add(values, target.slot, v)
                        if in_array:
                            arrayed.add(target.slot)


def _add(values: dict[Any, Any], slot: Any, v: Any) -> None:
    """Note the leaf ``v`` at ``slot`` (see ``gather`` for how values are kept)."""
    found = values.get(slot)
    if found is None:
        values[slot] = v if v is not None else [None]
    elif type(found) is list:
        found.append(v)
    else:
        values[slot] = [found, v]


_LEAF_TYPES = frozenset((str, int, float, bool, type(None)))
_ONLY_DICT = {dict}


def _gather_list(items: list[Any], node: TrieNode, values: dict[Any, Any], arrayed: set[Any]) -> None:
    slot = node.slot
    kids = node.children
    deep = node.deep
    if kids and not deep and len(items) > 1 and set(map(type, items)) == _ONLY_DICT:
        # An array of objects whose referenced fields are all leaves (coordinates, resources):
        # gather column by column, the type checks done per column.
        for seg, child in kids.items():
            s = child.slot
            if s is None:
                continue
            try:
                col = list(map(child.getter, items))
            except KeyError:  # some element lacks the field
                col = [e.get(seg, _MISSING) for e in items]
            kinds = set(map(type, col))
            if not kinds <= _LEAF_TYPES:
                leaves = []
                for v in col:
                    tv = type(v)
                    if tv is list:
                        _gather_list(v, child, values, arrayed)
                    elif v is not _MISSING and tv is not dict:  # (child has no fields inside)
                        leaves.append(v)
                col = leaves
            if col:
                found = values.get(s)
                if found is None:
                    values[s] = col
                elif type(found) is list:
                    found.extend(col)
                else:
                    values[s] = [found, *col]
                arrayed.add(s)
        return
    for e in items:
        t = type(e)
        if t is dict:
            if kids:
                _gather_obj(e, node, values, arrayed, True)
        elif t is list:
            _gather_list(e, node, values, arrayed)
        elif slot is not None:
            _add(values, slot, e)
            arrayed.add(slot)
