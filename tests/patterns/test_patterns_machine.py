"""The Matcher's state machine and its per-field indexes: shared states, several states under one
condition, absence and array checks at deeper states, specialised lookups agreeing with the
general one, and the structure staying consistent (and emptying) as rules come and go."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patterns_reference import reference_matches
from test_patterns_properties import events, matchers

from busbar.patterns import InvalidEventPattern, Matcher, validate
from busbar.patterns.index import PathIndex


def _empty(m: Matcher) -> bool:
    root = m._root
    return not (m._paths or m._trie.root.children or m._subs or root.indexes or root.children or root.fields)


def test_rules_with_a_common_first_step_share_its_state() -> None:
    m = Matcher()
    for i in range(50):
        m.add_rule(f"t{i}", {"source": ["shop"], "detail": {"n": [{"numeric": [">=", i, "<", i + 1]}]}})
    assert len(m._root.children) == 1  # one state after source=shop, holding the 50 numbers
    (state,) = m._root.children.values()
    assert state.users == 50 and len(state.fields) == 1
    assert m.matches({"source": "shop", "detail": {"n": 7.0}}) == ["t7"]
    for i in range(49):
        m.remove_rule(f"t{i}")
        assert m.matches({"source": "shop", "detail": {"n": i}}) == []
        assert m.matches({"source": "shop", "detail": {"n": [i, 49]}}) == ["t49"]
    m.remove_rule("t49")
    assert _empty(m)


def test_one_condition_leading_to_several_states() -> None:
    m = Matcher()
    m.add_rule("x", {"a": ["x"], "b": ["1"]})
    m.add_rule("xy", {"a": ["x", "y"], "b": ["2"]})
    m.add_rule("xz", {"a": ["x", "z"], "c": ["3"]})
    assert sorted(m.matches({"a": "x", "b": ["1", "2"], "c": "3"})) == ["x", "xy", "xz"]
    assert sorted(m.matches({"a": ["y", "z"], "b": "2", "c": "3"})) == ["xy", "xz"]
    m.remove_rule("xy")
    assert sorted(m.matches({"a": "x", "b": ["1", "2"], "c": "3"})) == ["x", "xz"]


def test_absence_and_array_elements_at_deeper_states() -> None:
    m = Matcher()
    m.add_rule("absent", {"source": ["s"], "detail": {"x": [{"exists": False}], "y": [1]}})
    m.add_rule("same", {"source": ["s"], "items": {"sku": ["b"], "qty": [2]}})
    assert m.matches({"source": "s", "detail": {"y": 1}}) == ["absent"]
    assert m.matches({"source": "s", "detail": {"x": 0, "y": 1}}) == []
    assert m.matches({"source": "s", "items": [{"sku": "b", "qty": 2}], "detail": {"y": 2}}) == ["same"]
    assert m.matches({"source": "s", "items": [{"sku": "b", "qty": 1}, {"sku": "a", "qty": 2}]}) == []
    m.remove_rule("absent")
    m.remove_rule("same")
    assert _empty(m)


def _conds(patterns: list[dict[str, Any]]) -> list[Any]:
    out = []
    for p in patterns:
        try:
            compiled = validate(p)
        except InvalidEventPattern:
            continue
        for alt in compiled.alternatives:
            out.extend(alt[("f",)])
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(matchers, min_size=1, max_size=3).map(lambda v: {"f": v}), min_size=1, max_size=6),
       st.lists(st.integers(0, 5), max_size=4),
       st.lists(events.map(lambda e: e.get("a", "ab")), min_size=1, max_size=4))
def test_specialised_lookups_agree_with_the_general_one(patterns: list[dict[str, Any]], drop: list[int],
                                                       values: list[Any]) -> None:
    conds = _conds(patterns)
    index = PathIndex(("f",))
    for i, cond in enumerate(conds):
        index.add(cond, i)
    for j in drop:  # removals change which lookup the index uses
        if j < len(conds) and cond_in(index, conds[j], j):
            index.remove(conds[j], j)
    leaves = [v for v in values if not isinstance(v, (dict, list))] or ["ab"]
    fast: list[Any] = []
    general: list[Any] = []
    index.lookup(leaves, fast)
    index._lookup_general(leaves, general)
    assert {h for hits in fast for h in hits} == {h for hits in general for h in hits}, (conds, leaves)


def cond_in(index: PathIndex, cond: Any, hit: int) -> bool:
    return hit in index.hits.get(cond, ())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 7), st.lists(matchers, min_size=1, max_size=2),
                          st.lists(matchers, min_size=1, max_size=2), st.booleans()), min_size=1, max_size=14),
       st.lists(events, min_size=1, max_size=3))
def test_shared_steps_stay_consistent_through_changes(ops: list[tuple[int, list[Any], list[Any], bool]],
                                                      evs: list[dict[str, Any]]) -> None:
    # Two-field rules over the same paths, so that states are shared, split and pruned.
    m = Matcher()
    live: dict[str, dict[str, Any]] = {}
    for n, first, second, remove in ops:
        name = f"r{n}"
        if remove:
            if name in live:
                m.remove_rule(name)
                del live[name]
        else:
            pattern = {"a": first, "b": second}
            try:
                m.add_rule(name, pattern)
            except InvalidEventPattern:
                continue
            live[name] = pattern
        for ev in evs:
            assert sorted(m.matches(ev)) == sorted(k for k, p in live.items() if reference_matches(p, ev)), (live, ev)
    for name in list(live):
        m.remove_rule(name)
    assert _empty(m)
