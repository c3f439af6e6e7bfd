"""One pattern against one event, condition by condition, each by its kind's own test
(``conditions``). Used by ``pattern_matches`` (TestEventPattern) and to confirm the Matcher's
candidates when array consistency has to be checked."""

from __future__ import annotations

from typing import Any

from .compile import Alternative, CompiledPattern, Path
from .conditions import ABSENT
from .events import Membership, PathTrie, collect, consistent


def alternative_matches(
    alt: Alternative, values: dict[Path, list[Any]], members: dict[Path, list[Membership]] | None
) -> bool:
    """Does the AND-of-fields ``alt`` hold, given the leaves found at each referenced path?"""
    choices: list[list[Membership]] = []
    for path, conds in alt.items():
        found = values.get(path)
        if not found:
            if ABSENT in conds:
                continue
            return False
        mems = members.get(path) if members is not None else None
        hits: list[Membership] = []
        for i, v in enumerate(found):
            for c in conds:
                if c.kind.test(v, c.arg):
                    hits.append(mems[i] if mems is not None else ())
                    break
        if not hits:
            return False
        if mems is not None:
            choices.append(list(dict.fromkeys(hits)))
    return consistent(choices) if len(choices) > 1 else True


def matches_compiled(compiled: CompiledPattern, event: dict[str, Any]) -> bool:
    """``compiled`` against a parsed event."""
    trie = PathTrie()
    for path in compiled.paths:
        trie.add(path, path)
    values, members = collect(event, trie.root)
    return any(alternative_matches(alt, values, members) for alt in compiled.alternatives)
