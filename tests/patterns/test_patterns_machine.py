"""The Matcher's state machine and its per-field indexes: shared states, several states under one
condition, absence and array checks at deeper states, specialised lookups agreeing with the
general one, and the structure staying consistent (and emptying) as rules come and go."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patterns_reference import reference_matches
from test_patterns_properties import events, matchers

from busbar.patterns import InvalidEventPattern, Matcher, pattern_matches, validate
from busbar.patterns.events import collect, gather
from busbar.patterns.index import (
    FAST_AB_STR,
    FAST_ABSENT,
    FAST_LOOKUP,
    FAST_ONE,
    FAST_PAIR,
    FAST_PREFIX,
    FAST_RANGE,
    FAST_SUFFIX,
    PathIndex,
    closed_range,
)


def _empty(m: Matcher) -> bool:
    root = m._root
    return not (
        m._paths or m._trie.root.children or m._subs or root.indexes or root.children or root.fields or m._conds
    )


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
@given(
    st.lists(st.lists(matchers, min_size=1, max_size=3).map(lambda v: {"f": v}), min_size=1, max_size=6),
    st.lists(st.integers(0, 5), max_size=4),
    st.lists(events.map(lambda e: e.get("a", "ab")), min_size=1, max_size=4),
)
def test_specialised_lookups_agree_with_the_general_one(
    patterns: list[dict[str, Any]], drop: list[int], values: list[Any]
) -> None:
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
@given(
    st.lists(
        st.tuples(
            st.integers(0, 7),
            st.lists(matchers, min_size=1, max_size=2),
            st.lists(matchers, min_size=1, max_size=2),
            st.booleans(),
        ),
        min_size=1,
        max_size=14,
    ),
    st.lists(events, min_size=1, max_size=3),
)
def test_shared_steps_stay_consistent_through_changes(
    ops: list[tuple[int, list[Any], list[Any], bool]], evs: list[dict[str, Any]]
) -> None:
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


# -- inline forms of one-condition indexes, and the column-wise gathering of arrays -------------

_EDGE_VALUES: list[Any] = [
    0,
    1,
    -2,
    1.5,
    300,
    300.0,
    2**53,
    2**53 + 1,
    2**60,
    -(2**60),
    1e-3,
    math.nextafter(1.5, 2),
    math.nextafter(1.5, 0),
    math.nextafter(300.0, 0),
    math.nextafter(300.0, 1000),
    -0.0,
    True,
    False,
    None,
    "",
    "ab",
    "abc",
    "xab",
    "AB",
    "b",
    "10.0.0.1",
    "10.0.1.7",
    "2001:db8::1",
    "deleted",
    "old",
    "10.15.3.4",
    "10.16.0.1",
    "010.0.0.1",
    "10.0.0.256",
    "10.0.0.1.",
    "10.0.0",
    "2001:db9::1",
    "gold",
    [],
    [1, "ab"],
    ["deleted", "x"],
    ["deleted"],
    {"k": 1},
]


@pytest.mark.parametrize(
    "cond, code",
    [
        ({"numeric": [">", 1.5]}, FAST_RANGE),
        ({"numeric": [">=", 1.5, "<", 300]}, FAST_RANGE),
        ({"numeric": [">", -2, "<=", 300]}, FAST_RANGE),
        ({"numeric": ["<", 300]}, FAST_RANGE),
        ({"numeric": ["=", 300]}, FAST_LOOKUP),
        ({"numeric": [">=", 9007199254740992]}, FAST_RANGE),
        ("ab", FAST_ONE),
        ({"suffix": "old"}, FAST_SUFFIX),
        ({"prefix": "a"}, FAST_PREFIX),
        ({"anything-but": "deleted"}, FAST_AB_STR),
        ({"anything-but": ["deleted", "ab"]}, FAST_AB_STR),
        ({"cidr": "10.0.0.0/24"}, FAST_LOOKUP),
        ({"cidr": "10.0.0.0/12"}, FAST_LOOKUP),
        ({"cidr": "0.0.0.0/0"}, FAST_LOOKUP),
        ({"cidr": "2001:db8::/32"}, FAST_LOOKUP),
        ({"equals-ignore-case": "ab"}, FAST_LOOKUP),
        ({"wildcard": "a*"}, FAST_LOOKUP),
        ({"prefix": {"equals-ignore-case": "A"}}, FAST_LOOKUP),
        ({"exists": True}, FAST_LOOKUP),
        (True, FAST_LOOKUP),
        ({"anything-but": 1}, FAST_LOOKUP),
    ],
)
def test_one_condition_steps_use_their_inline_form_and_agree_with_pattern_matches(cond: Any, code: int) -> None:
    m = Matcher()
    m.add_rule("anchor", {"source": ["t"]})  # source now tells rules apart: the first step
    pattern = {"source": ["s"], "detail": {"v": [cond]}}
    m.add_rule("r", pattern)
    (state,) = m._root.children.values()
    assert [f[1] for f in state.fields] == [code]
    for value in _EDGE_VALUES:
        event = {"source": "s", "detail": {"v": value}}
        assert ("r" in m.matches(event)) == pattern_matches(pattern, event) == reference_matches(pattern, event), value
    # A second condition on the same step's path leaves the inline form for the general lookup.
    m.add_rule("q", {"source": ["s"], "detail": {"v": [cond, {"prefix": "zz"}]}})
    m.remove_rule("q")
    assert [f[1] for f in state.fields] == [code]


def test_closed_ranges_hold_the_same_doubles_as_open_ones() -> None:
    for low, high in [(1.5, 300.0), (-2.0, 0.0), (0.0, 1e-3), (-1e300, 1e300)]:
        lo, hi = closed_range((low, True, high, True))  # type: ignore[misc]
        assert lo == math.nextafter(low, math.inf) and hi == math.nextafter(high, -math.inf)
        for x in (low, lo, hi, high, math.nextafter(lo, math.inf), math.nextafter(hi, -math.inf)):
            assert (lo <= x <= hi) == (low < x < high)
    assert closed_range((1.0, False, math.inf, False)) == (1.0, math.inf)
    assert closed_range((-math.inf, True, 1.0, False)) is None


def test_exists_false_beside_other_conditions_on_one_path() -> None:
    m = Matcher()
    m.add_rule("gone", {"source": ["s"], "detail": {"x": [{"exists": False}]}})
    m.add_rule("one", {"source": ["s"], "detail": {"x": [1]}})
    (state,) = m._root.children.values()
    assert sorted(f[1] for f in state.fields) == [FAST_LOOKUP, FAST_ABSENT]
    assert m.matches({"source": "s", "detail": {}}) == ["gone"]
    assert m.matches({"source": "s", "detail": {"x": 1}}) == ["one"]
    assert m.matches({"source": "s", "detail": {"x": []}}) == ["gone"]
    assert m.matches({"source": "s", "detail": {"x": 2}}) == []
    m.remove_rule("one")
    assert [f[1] for f in state.fields] == [FAST_ABSENT]
    assert m.matches({"source": "s", "detail": {"x": 1}}) == []
    assert m.matches({"source": "s"}) == ["gone"]


def _by_path(values: dict[Any, list[Any]]) -> dict[Any, list[str]]:
    return {slot.path: sorted(map(repr, vs)) for slot, vs in values.items()}


def test_arrays_of_objects_gathered_by_column_as_one_by_one() -> None:
    m = Matcher()
    for path in (("pts", "x"), ("pts", "y"), ("pts", "z", "w"), ("tags", "k")):
        m.add_rule(
            ".".join(path),
            {path[0]: {path[1]: [{"exists": True}]}} if len(path) == 2 else {"pts": {"z": {"w": [{"exists": True}]}}},
        )
    root = m._trie.root
    cases = [
        {"pts": [{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5}]},  # a missing field
        {"pts": [{"x": [1, [2]], "y": {"q": 1}}, {"x": None, "y": "s"}]},  # nested lists, an object
        {"pts": [{"x": 1}, [{"x": 2}], "x", 3]},  # mixed element types
        {"pts": [{"z": {"w": 1}, "x": 1}, {"z": [{"w": 2}]}]},  # deeper fields
        {"tags": [{"k": "a"}, {"k": "b"}], "pts": [[{"x": 1}, {"x": 2}]]},
    ]
    for event in cases:
        values, arrayed = gather(event, root)
        expected, _ = collect(event, root)
        assert _by_path(values) == _by_path(expected), event
        assert arrayed == set(values)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_gather_agrees_with_collect(event: dict[str, Any]) -> None:
    m = Matcher()
    for i, key in enumerate(("a", "b", "c", "a.b", "b.a", "a.c.b")):
        m.add_rule(i, {key: [{"exists": True}]})
    values, _ = gather(event, m._trie.root)
    expected, _ = collect(event, m._trie.root)
    assert _by_path(values) == _by_path(expected)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 6])
def test_numeric_forms_agree_with_the_boundary_table(count: int) -> None:
    # One range (inline), a few (one by one) and many (boundary table) give the same answers,
    # also for NaN (which only a Python dict event can carry) and integers beyond 2**53.
    conds = [
        {"numeric": [">", -2, "<=", 1.5]},
        {"numeric": ["<", 0]},
        {"numeric": [">=", 300]},
        {"numeric": [">", 1, "<", 2**60]},
        {"numeric": ["=", 1.5]},
        {"numeric": ["<=", -2]},
    ][:count]
    m = Matcher()
    m.add_rule("anchor", {"source": ["t"]})
    for i, cond in enumerate(conds):
        m.add_rule(i, {"source": ["s"], "v": [cond]})
    (state,) = m._root.children.values()
    ((slot, index),) = state.indexes.values()
    for value in [math.nan, -math.inf, math.inf, *_EDGE_VALUES, [math.nan, 301], [0.5, 1.5, 400]]:
        general: list[Any] = []
        index._lookup_general(value if isinstance(value, list) else [value], general)
        want = {getattr(hit, "name", hit) for hits in general for hit in hits}  # a name, or an alternative
        assert set(m.matches({"source": "s", "v": value})) == want, value


def test_indexes_share_empty_tables_until_they_need_their_own() -> None:
    m = Matcher()
    m.add_rule("p", {"a": [{"prefix": "x"}]})
    m.add_rule("n", {"b": [{"numeric": [">", 1]}], "c": ["y"]})
    indexes = [ix for _, ix in m._root.indexes.values()]
    shared = indexes[0].exact_str
    assert not shared and all(ix.eq_ic is shared and ix.suffix is shared for ix in indexes)
    m.add_rule("e", {"a": ["z", {"suffix": "q"}]})
    (a_index,) = [ix for slot, ix in m._root.indexes.values() if slot.path == ("a",)]
    assert a_index.exact_str is not shared and a_index.suffix is not shared and not shared
    assert sorted(m.matches({"a": ["xa", "z"], "b": 2, "c": "y"})) == ["e", "n", "p"]
    for name in ("e", "p", "n"):
        m.remove_rule(name)
    assert _empty(m) and not shared


# -- new structures: octet-aligned CIDR blocks, several-condition inline forms, names as hits ----

_IP_PARTS = [
    "0",
    "1",
    "2",
    "9",
    "10",
    "99",
    "100",
    "199",
    "200",
    "249",
    "250",
    "255",
    "256",
    "300",
    "01",
    "00",
    "999",
    "1000",
    "",
    "a",
    "\u0663",
    "10 ",
    "+1",
    "-1",
]


@pytest.mark.parametrize(
    "block",
    [
        "10.2.0.0/16",
        "0.0.0.0/0",
        "10.0.0.0/8",
        "192.168.1.0/24",
        "10.0.0.0/12",
        "1.2.3.4/31",
        "255.255.0.0/16",
        "10.2.3.0/24",
    ],
)
def test_octet_aligned_cidr_blocks_agree_with_address_parsing(block: str) -> None:
    from busbar.patterns.cidr import ip_to_int, parse_cidr
    from busbar.patterns.conditions import CIDR, Cond
    from busbar.patterns.index import single_lookup

    version, low, high = parse_cidr(block)
    lookup = single_lookup(Cond(CIDR, (version, low, high)), ("hit",))
    assert lookup is not None
    rng = __import__("random").Random(block)
    values = [
        "10.2.33.107",
        "10.2.0.0",
        "10.2.255.255",
        "10.3.0.0",
        "10.2.1",
        "10.2.1.1.",
        "::ffff:10.2.1.1",
        "10.2.1.1\n",
        "192.168.1.7",
        "255.255.1.1",
        "1.2.3.5",
        "1.2.3.6",
        "0.0.0.0",
    ]
    for _ in range(3000):
        count = rng.choice([3, 4, 4, 4, 5])
        values.append(
            ".".join(rng.choice(_IP_PARTS) if rng.random() < 0.5 else str(rng.randrange(300)) for _ in range(count))
        )
    for v in values:
        out: list[Any] = []
        lookup([v], out)
        ip = ip_to_int(v)
        assert bool(out) == (ip is not None and ip[0] == version and low <= ip[1] <= high), v
        assert pattern_matches({"a": [{"cidr": block}]}, {"a": v}) == bool(out), v


@pytest.mark.parametrize(
    "conds",
    [
        [{"equals-ignore-case": "Ab"}, {"equals-ignore-case": "cD"}],
        [{"equals-ignore-case": "Ab"}, "ab", "AB"],
        [{"prefix": "a"}, {"prefix": "abc"}, {"prefix": "x"}],
        [{"prefix": "a"}, {"prefix": "ab"}, "abc", ""],
        [{"numeric": [">", 1.5]}, {"numeric": ["<=", 0]}],
        [{"numeric": [">", -2, "<=", 300]}, {"numeric": [">=", 9007199254740992]}, {"numeric": ["<", 1]}],
    ],
)
def test_several_conditions_inline_forms_agree_with_pattern_matches(conds: list[Any]) -> None:
    from busbar.patterns.index import FAST_EQ_IC, FAST_PREFIXES, FAST_RANGES

    m = Matcher()
    m.add_rule("anchor", {"source": ["t"]})
    patterns = {i: {"source": ["s"], "detail": {"v": [cond]}} for i, cond in enumerate(conds)}
    for name, pattern in patterns.items():
        m.add_rule(name, pattern)
    (state,) = m._root.children.values()
    assert [f[1] for f in state.fields] in ([FAST_EQ_IC], [FAST_PREFIXES], [FAST_RANGES])
    values: list[Any] = [
        *_EDGE_VALUES,
        "AB",
        "ab",
        "Ab",
        "cd",
        "CD",
        "abcd",
        "x",
        "xyz",
        "",
        "a",
        -math.inf,
        math.inf,
        ["ab", "CD"],
        ["abc", "x"],
        [0.5, 400],
        ["a", 2],
    ]
    for value in values:
        event = {"source": "s", "detail": {"v": value}}
        want = {name for name, p in patterns.items() if reference_matches(p, event)}
        assert set(m.matches(event)) == want, value
    for name in list(patterns):
        m.remove_rule(name)
    m.remove_rule("anchor")
    assert _empty(m)


def test_hit_lists_hold_names_unless_array_consistency_may_need_the_alternative() -> None:
    m = Matcher()
    m.add_rule("one", {"a": ["x"]})
    m.add_rule("two", {"a": ["x"], "b": ["y"]})
    m.add_rule(None, {"a": ["x"]})  # any hashable name, None included
    ((_, index),) = [e for e in m._root.indexes.values() if e[0].path == ("a",)]
    ((_, hits),) = index.hits.items()
    assert type(hits) is tuple and "one" in hits and None in hits
    assert sorted(map(str, m.matches({"a": "x", "b": "y"}))) == ["None", "one", "two"]
    assert m.matches({"a": ["x", "z"], "b": [{"c": 1}, "y"]}) is not None
    m.remove_rule(None)
    assert sorted(m.matches({"a": "x", "b": "y"})) == ["one", "two"]
    for name in ("one", "two"):
        m.remove_rule(name)
    assert _empty(m)


def test_equal_conditions_share_one_object_across_states_until_the_last_goes() -> None:
    m = Matcher()
    m.add_rule("anchor", {"source": ["t"], "x": ["y"]})  # source tells rules apart from the start
    for i in range(3):
        m.add_rule(i, {"source": [f"s{i}"], "detail": {"tier": [{"suffix": "o" + "ld"}]}})
    tier = [f for state in m._root.children.values() for f in state.fields if f[0].path == ("detail", "tier")]
    assert len(tier) == 3 and len({id(f[2]) for f in tier}) == 1  # one "old" object for three states
    (entry,) = [e for c, e in m._conds.items() if c.arg == "old"]
    assert entry[1] == 3
    assert m.matches({"source": "s1", "detail": {"tier": "gold"}}) == [1]
    for name in (0, 1, 2, "anchor"):
        m.remove_rule(name)
    assert _empty(m)


def test_ignore_case_then_prefix_pair_is_probed_at_the_parent() -> None:
    from busbar.patterns.index import FAST_EQ_IC, FAST_PAIR

    m = Matcher()
    m.add_rule("a", {"detail-type": [{"equals-ignore-case": "type1"}], "source": [{"prefix": "com.x"}]})
    m.add_rule("b", {"detail-type": [{"equals-ignore-case": "TYPE1"}], "source": [{"prefix": "com.xy"}]})
    m.add_rule(
        "c",
        {
            "detail-type": [{"equals-ignore-case": "type2"}, {"equals-ignore-case": "type1"}],
            "source": [{"prefix": "com"}],
        },
    )
    m.add_rule("d", {"detail-type": ["Type1"], "source": ["com.xyz"]})
    cases = [
        ({"detail-type": "tYpE1", "source": "com.xyz"}, {"a", "b", "c"}),
        ({"detail-type": "Type1", "source": "com.xyz"}, {"a", "b", "c", "d"}),
        ({"detail-type": "type2", "source": "com.xyz"}, {"c"}),
        ({"detail-type": "type1", "source": "co"}, set()),
        ({"detail-type": "type1"}, set()),
        ({"detail-type": "type1", "source": 5}, set()),
        ({"detail-type": "type1", "source": ["nope", "com.x1"]}, {"a", "c"}),
        ({"detail-type": ["type3", "TYPE1"], "source": "com.xy"}, {"a", "b", "c"}),
        ({"detail-type": 1, "source": "com.xy"}, set()),
        ({"detail-type": "type9", "source": "com.xy"}, set()),
    ]
    for event, want in cases:
        assert set(m.matches(event)) == want, event
    assert [f[1] for f in m._root.fields if f[0].path == ("detail-type",)] == [FAST_PAIR]
    # A state after the ignore-case match that tests something else: no pair, same answers.
    m.add_rule(
        "e",
        {
            "detail-type": [{"equals-ignore-case": "type1"}],
            "source": [{"prefix": "com.x"}],
            "region": [{"prefix": "us"}],
        },
    )
    assert set(m.matches({"detail-type": "TYPE1", "source": "com.x", "region": "us-1"})) == {"a", "c", "e"}
    assert [f[1] for f in m._root.fields if f[0].path == ("detail-type",)] == [FAST_EQ_IC]
    m.remove_rule("e")
    for event, want in cases:
        assert set(m.matches(event)) == want, event
    assert [f[1] for f in m._root.fields if f[0].path == ("detail-type",)] == [FAST_PAIR]
    for name in "abcd":
        m.remove_rule(name)
    assert _empty(m)


_WIDE_KEYS = [f"k{i}" for i in range(12)]
_WIDE_VALUES = st.sampled_from(["a", "ab", "abc", "abcdefgh", "ABC", "x", 1, 2.5, None, True])
_WIDE_RULES: dict[str, dict[str, Any]] = {
    **{f"one{i}": {k: ["ab"]} for i, k in enumerate(_WIDE_KEYS)},  # 12 fields at the root
    **{f"same{i}": {"k0": ["abc"], "k1": [{"prefix": "a"}]} for i in range(5)},  # 5 names in one hit list
    **{f"p{n}": {"k2": [{"prefix": "abcdefgh"[:n]}]} for n in range(1, 9)},  # 8 prefix lengths
    "pair1": {"k3": [{"equals-ignore-case": "abc"}], "k4": [{"prefix": "ab"}]},
    "pair2": {"k3": [{"equals-ignore-case": "ABC"}], "k4": [{"prefix": "abcd"}]},
    "range": {"k5": [{"numeric": [">", 0, "<", 3]}], "k6": [{"exists": False}]},
    "ranges": {"k7": [{"numeric": [">", 0, "<", 2]}, {"numeric": [">", 2, "<", 3]}, "x"]},
    "mixed": {"k8": ["a"], "k9": ["x"], "k10": [{"anything-but": ["a"]}]},
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {}, optional={k: st.one_of(_WIDE_VALUES, st.lists(_WIDE_VALUES, max_size=3)) for k in _WIDE_KEYS}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_compiled_states_of_every_size_agree_with_reference(evs: list[dict[str, Any]]) -> None:
    """States with more fields than one compiled function inlines, long hit lists, many prefix
    lengths, ignore-case pairs and ranges: the compiled machine agrees with the reference."""
    m = Matcher()
    for name, pattern in _WIDE_RULES.items():
        m.add_rule(name, pattern)
    m.matches({})
    assert m._root.fns  # the root has too many fields for one function: one per field
    assert FAST_PAIR in {f[1] for f in m._root.fields}
    for ev in evs:
        want = sorted(n for n, p in _WIDE_RULES.items() if reference_matches(p, ev))
        assert sorted(m.matches(ev)) == want, ev
    for name in list(_WIDE_RULES)[:13]:  # back to an inlined root
        m.remove_rule(name)
    m.matches({})
    assert not m._root.fns
    for ev in evs:
        want = sorted(n for n, p in list(_WIDE_RULES.items())[13:] if reference_matches(p, ev))
        assert sorted(m.matches(ev)) == want, ev


@pytest.mark.parametrize(
    ("blocks", "lookup"),
    [
        (["10.0.0.0/24", "10.0.0.0/8", "10.16.0.0/12", "2001:db8::/32", "0.0.0.0/1"], "cidrs"),
        (["10.0.0.0/24", "10.0.0.0/8", "10.16.0.0/16", "200.1.1.0/24"], "octets"),  # octet boundaries only
    ],
)
def test_several_cidr_blocks_alone_on_a_path_agree_with_the_general_lookup(blocks: list[str], lookup: str) -> None:
    conds = [c for b in blocks for c in validate({"f": [{"cidr": b}]}).alternatives[0][("f",)]]
    index = PathIndex(("f",))
    for i, cond in enumerate(conds):
        index.add(cond, i)
    assert index.lookup.__name__ == lookup
    for v in [*_CIDR_VALUES, ["10.0.0.1", "10.16.0.1"], ["x", 5, "2001:db8::1"]]:
        leaves = v if isinstance(v, list) else [v]
        fast: list[Any] = []
        general: list[Any] = []
        index.lookup(leaves, fast)
        index._lookup_general(leaves, general)
        assert sorted(h for hits in fast for h in hits) == sorted({h for hits in general for h in hits}), v


_CIDR_VALUES: list[Any] = [
    "10.0.0.1",
    "10.0.1.7",
    "10.15.3.4",
    "10.16.0.1",
    "010.0.0.1",
    "10.0.0.256",
    "10.0.0.1.",
    "2001:db8::1",
    "2001:db9::1",
    "127.0.0.1",
    "200.1.1.1",
    "",
    7,
    None,
]


def test_exact_tables_keep_single_codes_bare_through_changes() -> None:
    """``exact_code`` mirrors ``exact_str``: a value leading to one state holds that state's code
    itself, any other hit list is wrapped, and both follow every change."""
    m = Matcher()
    m.add_rule("a", {"source": ["s1"], "x": ["1"]})
    m.add_rule("b", {"source": ["s2"]})
    m.add_rule("c", {"source": ["s1"], "x": ["2"]})
    m.matches({})
    index = m._root.indexes[("source",)][1]
    assert set(index.exact_code) == set(index.exact_str) == {"s1", "s2"}
    (after_s1,) = m._root.children.values()  # source=s2 ends at the root
    assert index.exact_code["s1"] is after_s1.code  # the current code of the state after s1
    assert list(index.exact_code["s2"]) == ["b"] and type(index.exact_code["s2"]) is not tuple
    assert sorted(m.matches({"source": "s1", "x": "2"})) == ["c"]
    m.remove_rule("a")
    m.remove_rule("c")
    m.matches({})
    assert set(index.exact_code) == {"s2"}
    assert m.matches({"source": "s2"}) == ["b"]


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text("ab", min_size=1, max_size=5), min_size=1, max_size=12), st.text("ab", max_size=7))
def test_longest_first_prefix_chains_find_every_prefix(prefixes: set[str], value: str) -> None:
    """Probing a value's slices longest first and stopping at the first prefix found yields the
    hits of every prefix of the value in the set (each prefix's chain holds the shorter ones)."""
    from busbar.patterns.index import chained

    by_length: dict[int, dict[str, tuple[str, ...]]] = {}
    for p in prefixes:
        by_length.setdefault(len(p), {})[p] = (p,)
    lens, chains = chained(by_length)
    assert list(lens) == sorted(lens, reverse=True)
    found: tuple[str, ...] = ()
    for length in lens:
        if length <= len(value) and value[:length] in chains:
            found = chains[value[:length]]
            break
    assert sorted(found) == sorted(p for p in prefixes if value.startswith(p))


def test_an_alternative_with_more_fields_than_the_default_recursion_limit_matches() -> None:
    """Each field of an alternative is one state whose code calls the next: a rule of 1,500
    fields (limits raised) still matches, and fails on its last field."""
    from busbar.patterns import PatternLimits

    m = Matcher(PatternLimits(max_pattern_chars=100_000, max_fields=1_500))
    m.add_rule("deep", {f"f{i:04d}": ["x"] for i in range(1_500)})
    event = {f"f{i:04d}": "x" for i in range(1_500)}
    assert m.matches(event) == ["deep"]
    assert m.matches({**event, "f1499": "y"}) == []
