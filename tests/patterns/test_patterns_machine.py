"""The Matcher's state machine, through its public API and ``describe()``: shared states, several
states under one condition, absence and array checks at deeper states, tables agreeing with the
conditions they hold, generated code that tracebacks and ``inspect`` can show, and the machine
emptying as rules come and go."""

from __future__ import annotations

import inspect
import math
import random
import re
import traceback
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patterns_reference import reference_matches
from test_patterns_properties import EMPTY, events, matchers

from busbar.patterns import InvalidEventPattern, Matcher, PatternLimits, pattern_matches
from busbar.patterns.cidr import ip_to_int, parse_cidr
from busbar.patterns.conditions import WILDCARD
from busbar.patterns.events import PathTrie, collect, gather


def summary(m: Matcher) -> str:
    return m.describe().splitlines()[0]


def states(m: Matcher) -> list[str]:
    """describe()'s state lines: ``state N [after STEP]: FUNCTION``."""
    return [line for line in m.describe().splitlines() if line.startswith("state ")]


def functions(m: Matcher) -> list[str]:
    """The generated function of every state, by state number."""
    return [line.rsplit(": ", 1)[1] for line in states(m)]


def test_describe_prints_states_conditions_and_generated_code() -> None:
    m = Matcher()
    m.add_rule("a", {"source": ["x", "y"], "detail": {"n": [{"numeric": [">", 5]}]}})
    m.add_rule("b", {"source": ["x"], "detail": {"s": [{"prefix": "ab"}, {"prefix": "ac"}, "abc"]}})
    m.add_rule("c", {"source": [{"prefix": "z"}]})
    text = m.describe()
    assert (
        text.splitlines()[0]
        == "Matcher: 3 rules, 3 alternatives, 3 states, 3 paths, 7 conditions, 3 generated functions"
    )
    assert "state 0: state_exact_table_prefix" in text
    assert "  source: exact 'x' -> state 1, state 2" in text
    assert "  source: prefix 'z' -> 'c'" in text
    assert "state 2 after source [exact 'x']: state_exact_prefix_tables" in text
    assert "  detail.s: prefix 'ac' -> 'b'" in text
    assert "  detail.n: numeric [5.000000000000001, inf] -> 'a'" in text  # > 5: the next double up
    assert "def " not in text
    source = m.describe(source=True)
    for name in ("state_exact_table_prefix", "state_numeric", "state_exact_prefix_tables"):
        assert f"\ndef {name}(get, out, seen, ctx, code):\n" in source
    assert "v.startswith(code[4])" in source  # the prefix kind's own expression, inline


def test_generated_code_is_in_linecache_for_tracebacks_and_inspect() -> None:
    class Name:
        """A rule name whose hashing fails when asked to, inside the generated code."""

        broken = False

        def __hash__(self) -> int:
            if Name.broken:
                raise RuntimeError("no hash today")
            return 1

    m = Matcher()
    m.add_rule(Name(), {"source": [{"suffix": "x"}]})
    assert m.matches({"source": "ax"})
    Name.broken = True
    with pytest.raises(RuntimeError) as info:
        m.matches({"source": "ax"})
    text = "".join(traceback.format_exception(info.value))
    assert 'File "<busbar.patterns: state_suffix>", line' in text
    assert "in state_suffix" in text
    assert "out[tg] = None" in text  # the line itself, read from linecache
    # inspect finds the source of a condition kind's test too.
    assert "return t is str and a.matches(v)" in inspect.getsource(WILDCARD.test)


def test_rules_with_a_common_first_step_share_its_state() -> None:
    m = Matcher()
    for i in range(50):
        m.add_rule(f"t{i}", {"source": ["shop"], "detail": {"n": [{"numeric": [">=", i, "<", i + 1]}]}})
    assert summary(m).startswith("Matcher: 50 rules, 50 alternatives, 2 states")  # one after source=shop
    assert functions(m) == ["state_exact", "state_numeric_boundaries"]  # 50 ranges: a boundary table
    assert m.matches({"source": "shop", "detail": {"n": 7.0}}) == ["t7"]
    for i in range(49):
        m.remove_rule(f"t{i}")
        assert m.matches({"source": "shop", "detail": {"n": i}}) == []
        assert m.matches({"source": "shop", "detail": {"n": [i, 49]}}) == ["t49"]
    assert functions(m) == ["state_exact", "state_numeric"]  # one range left: tested inline
    m.remove_rule("t49")
    assert m.describe() == EMPTY


def test_one_condition_leading_to_several_states() -> None:
    m = Matcher()
    m.add_rule("x", {"a": ["x"], "b": ["1"]})
    m.add_rule("xy", {"a": ["x", "y"], "b": ["2"]})
    m.add_rule("xz", {"a": ["x", "z"], "c": ["3"]})
    assert "  a: exact 'x' -> state 1, state 2, state 3" in m.describe()
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
    assert m.describe() == EMPTY


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
    assert m.describe() == EMPTY


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(matchers, min_size=1, max_size=3), min_size=1, max_size=12),
    st.lists(events.map(lambda e: e.get("a", "ab")), min_size=1, max_size=4),
)
def test_many_conditions_on_one_path_agree_with_the_reference(values: list[list[Any]], found: list[Any]) -> None:
    """Up to 36 conditions on one path: kinds with several conditions go into tables (dicts,
    prefix and suffix chains, range boundaries), the others are tested one by one."""
    m = Matcher()
    patterns = {}
    for i, value in enumerate(values):
        try:
            m.add_rule(i, {"f": value})
        except InvalidEventPattern:
            continue
        patterns[i] = {"f": value}
    for value in found:
        event = {"f": value}
        assert set(m.matches(event)) == {i for i, p in patterns.items() if reference_matches(p, event)}, value


# -- one condition, and its kind's expression inline ---------------------------------------------

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
    math.nan,
    math.inf,
    -math.inf,
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
    "GOLD",
    "straße",
    [],
    [1, "ab"],
    ["deleted", "x"],
    ["deleted"],
    {"k": 1},
]


@pytest.mark.parametrize(
    "cond, function",
    [
        ({"numeric": [">", 1.5]}, "state_numeric"),
        ({"numeric": [">=", 1.5, "<", 300]}, "state_numeric"),
        ({"numeric": [">", -2, "<=", 300]}, "state_numeric"),
        ({"numeric": ["<", 300]}, "state_numeric"),
        ({"numeric": ["=", 300]}, "state_exact_number"),
        ({"numeric": [">=", 9007199254740992]}, "state_numeric"),
        ("ab", "state_exact"),
        (300, "state_exact_number"),
        (True, "state_literal"),
        ({"suffix": "old"}, "state_suffix"),
        ({"suffix": {"equals-ignore-case": "OLD"}}, "state_suffix_equals_ignore_case"),
        ({"prefix": "a"}, "state_prefix"),
        ({"prefix": {"equals-ignore-case": "A"}}, "state_prefix_equals_ignore_case"),
        ({"equals-ignore-case": "ab"}, "state_equals_ignore_case"),
        ({"equals-ignore-case": "STRASSE"}, "state_equals_ignore_case"),
        ({"equals-ignore-case": "Straße"}, "state_equals_ignore_case"),
        ({"anything-but": "deleted"}, "state_anything_but_not"),
        ({"anything-but": ["deleted", "ab"]}, "state_anything_but_not"),
        ({"anything-but": 1}, "state_anything_but_not"),
        ({"anything-but": {"prefix": "de"}}, "state_anything_but_prefix_not"),
        ({"anything-but": {"equals-ignore-case": "Deleted"}}, "state_anything_but_equals_ignore_case_not"),
        ({"cidr": "10.0.0.0/24"}, "state_cidr"),
        ({"cidr": "10.0.0.0/12"}, "state_cidr"),
        ({"cidr": "0.0.0.0/0"}, "state_cidr"),
        ({"cidr": "2001:db8::/32"}, "state_cidr"),
        ({"wildcard": "a*"}, "state_wildcard"),
        ({"exists": True}, "state_exists"),
    ],
)
def test_one_condition_is_tested_by_its_kind_and_agrees_with_the_reference(cond: Any, function: str) -> None:
    m = Matcher()
    m.add_rule("anchor", {"source": ["t"]})  # source now tells rules apart: the first step
    pattern = {"source": ["s"], "detail": {"v": [cond]}}
    m.add_rule("r", pattern)
    assert functions(m) == ["state_exact_table", function]
    for value in _EDGE_VALUES:
        event = {"source": "s", "detail": {"v": value}}
        assert ("r" in m.matches(event)) == pattern_matches(pattern, event) == reference_matches(pattern, event), value


def test_open_ranges_become_closed_ranges_of_the_same_doubles() -> None:
    m = Matcher()
    m.add_rule("open", {"n": [{"numeric": [">", 1.5, "<", 300]}]})
    assert "numeric [1.5000000000000002, 299.99999999999994] -> 'open'" in m.describe()
    for x, inside in [(1.5, False), (math.nextafter(1.5, 2), True), (300, False), (math.nextafter(300, 0), True)]:
        assert (m.matches({"n": x}) == ["open"]) is inside, x


def test_exists_false_beside_other_conditions_on_one_path() -> None:
    m = Matcher()
    m.add_rule("gone", {"source": ["s"], "detail": {"x": [{"exists": False}]}})
    m.add_rule("one", {"source": ["s"], "detail": {"x": [1]}})
    assert functions(m)[1] == "state_absent__exact_number"
    assert m.matches({"source": "s", "detail": {}}) == ["gone"]
    assert m.matches({"source": "s", "detail": {"x": 1}}) == ["one"]
    assert m.matches({"source": "s", "detail": {"x": []}}) == ["gone"]
    assert m.matches({"source": "s", "detail": {"x": 2}}) == []
    m.remove_rule("one")
    assert functions(m)[1] == "state_absent"
    assert m.matches({"source": "s", "detail": {"x": 1}}) == []
    assert m.matches({"source": "s"}) == ["gone"]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 6])
def test_ranges_tested_one_by_one_and_through_boundaries_agree(count: int) -> None:
    # A few ranges are tested one by one, more through a boundary table: the same answers, also
    # for NaN and infinities (which only a Python dict event can carry) and integers beyond 2**53.
    conds = [
        {"numeric": [">", -2, "<=", 1.5]},
        {"numeric": ["<", 0]},
        {"numeric": [">=", 300]},
        {"numeric": [">", 1, "<", 2**53]},
        {"numeric": ["<=", -2]},
        {"numeric": [">", 0, "<", 0.5]},
    ][:count]
    m = Matcher()
    m.add_rule("anchor", {"source": ["t"]})
    patterns = {i: {"source": ["s"], "v": [cond]} for i, cond in enumerate(conds)}
    for name, pattern in patterns.items():
        m.add_rule(name, pattern)
    assert functions(m)[1] == ("state_numeric_boundaries" if count >= 4 else "state_" + "_".join(["numeric"] * count))
    for value in [*_EDGE_VALUES, [math.nan, 301], [0.5, 1.5, 400]]:
        event = {"source": "s", "v": value}
        assert set(m.matches(event)) == {n for n, p in patterns.items() if reference_matches(p, event)}, value


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text("ab", min_size=1, max_size=5), min_size=2, max_size=12), st.text("ab", max_size=7))
def test_prefix_and_suffix_tables_find_every_affix(affixes: set[str], value: str) -> None:
    """One dict per length: a value's slice of each length finds every prefix (suffix) of it."""
    for op in ("prefix", "suffix"):
        m = Matcher()
        for a in affixes:
            m.add_rule(a, {"f": [{op: a}]})
        assert functions(m) == [f"state_{op}_tables"]
        want = {a for a in affixes if (value.startswith(a) if op == "prefix" else value.endswith(a))}
        assert set(m.matches({"f": value})) == want


# -- events: only the referenced paths, gathered -------------------------------------------------


def _trie(*paths: tuple[str, ...]) -> PathTrie:
    trie = PathTrie()
    for path in paths:
        trie.add(path, path)
    return trie


def _by_path(values: dict[Any, Any]) -> dict[Any, list[str]]:
    """The values at each path, as a sorted list (gather keeps a path's one value as itself)."""
    return {slot: sorted(map(repr, vs if type(vs) is list else [vs])) for slot, vs in values.items()}


def test_arrays_of_objects_gathered_by_column_as_one_by_one() -> None:
    root = _trie(("pts", "x"), ("pts", "y"), ("pts", "z", "w"), ("tags", "k")).root
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
        assert all(type(v) is list for v in expected.values())
        assert _by_path(values) == _by_path(expected), event
        assert arrayed == set(values)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_gather_agrees_with_collect(event: dict[str, Any]) -> None:
    root = _trie(*[tuple(key.split(".")) for key in ("a", "b", "c", "a.b", "b.a", "a.c.b")]).root
    values, _ = gather(event, root)
    expected, _ = collect(event, root)
    assert _by_path(values) == _by_path(expected)


# -- CIDR blocks ---------------------------------------------------------------------------------

_IP_PARTS = ["0", "1", "2", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300"]
_IP_PARTS += ["01", "00", "999", "1000", "", "a", "\u0663", "10 ", "+1", "-1"]


@pytest.mark.parametrize(
    "block",
    ["10.2.0.0/16", "0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24", "10.0.0.0/12", "1.2.3.4/31", "255.255.0.0/16"],
)
def test_cidr_blocks_agree_with_address_parsing(block: str) -> None:
    parsed = parse_cidr(block)
    rng = random.Random(block)
    values = ["10.2.33.107", "10.2.0.0", "10.2.255.255", "10.3.0.0", "10.2.1", "10.2.1.1.", "::ffff:10.2.1.1"]
    values += ["10.2.1.1\n", "192.168.1.7", "255.255.1.1", "1.2.3.5", "1.2.3.6", "0.0.0.0"]
    for _ in range(3000):
        count = rng.choice([3, 4, 4, 4, 5])
        values.append(
            ".".join(rng.choice(_IP_PARTS) if rng.random() < 0.5 else str(rng.randrange(300)) for _ in range(count))
        )
    for v in values:
        ip = ip_to_int(v)
        inside = ip is not None and ip[0] == parsed.version and parsed.low <= ip[1] <= parsed.high
        assert parsed.contains(v) == inside, v
        assert pattern_matches({"a": [{"cidr": block}]}, {"a": v}) == inside, v


def test_an_exact_address_matches_its_other_spellings() -> None:
    m = Matcher()
    m.add_rule("one", {"ip": ["10.0.0.1"]})
    m.add_rule("six", {"ip": ["2001:db8::1"]})
    assert m.matches({"ip": "10.0.0.1"}) == ["one"]
    assert m.matches({"ip": "2001:0db8:0:0:0:0:0:1"}) == ["six"]
    assert m.matches({"ip": "10.0.0.10"}) == []


# -- names, sizes and limits -----------------------------------------------------------------------


def test_rule_names_of_any_hashable_type() -> None:
    m = Matcher()
    m.add_rule("one", {"a": ["x"]})
    m.add_rule("two", {"a": ["x"], "b": ["y"]})
    m.add_rule(None, {"a": ["x"]})
    m.add_rule(("bus", "rule"), {"a": ["x"]})  # a tuple, like the codes hit lists hold
    m.add_rule(7, {"a": ["x"]})
    assert "  a: exact 'x' -> 'one', state 1, None, ('bus', 'rule'), 7" in m.describe()
    assert sorted(map(str, m.matches({"a": "x", "b": "y"}))) == sorted(["None", "one", "two", "('bus', 'rule')", "7"])
    assert sorted(map(str, m.matches({"a": ["x", "z"], "b": [{"c": 1}, "y"]}))) == sorted(
        ["None", "one", "two", "('bus', 'rule')", "7"]
    )
    for name in (None, ("bus", "rule"), 7, "one", "two"):
        m.remove_rule(name)
    assert m.describe() == EMPTY


def test_equal_conditions_of_many_rules_are_one_condition() -> None:
    m = Matcher()
    for i in range(3):
        m.add_rule(i, {"source": [f"s{i}"], "detail": {"tier": [{"suffix": "old"}]}})
    assert "4 states, 2 paths, 4 conditions" in summary(m)  # s0, s1, s2, and one "old" for three states
    assert m.matches({"source": "s1", "detail": {"tier": "gold"}}) == [1]


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
def test_states_of_every_size_agree_with_reference(evs: list[dict[str, Any]]) -> None:
    """A root with more fields than one generated function holds (one function per field, called
    in turn), long hit lists, many prefix lengths, ignore-case tables and ranges."""
    m = Matcher()
    for name, pattern in _WIDE_RULES.items():
        m.add_rule(name, pattern)
    assert functions(m)[0] == "chain"
    for ev in evs:
        want = sorted(n for n, p in _WIDE_RULES.items() if reference_matches(p, ev))
        assert sorted(m.matches(ev)) == want, ev
    for name in list(_WIDE_RULES)[:13]:  # back to a root of one function
        m.remove_rule(name)
    assert functions(m)[0] != "chain"
    for ev in evs:
        want = sorted(n for n, p in list(_WIDE_RULES.items())[13:] if reference_matches(p, ev))
        assert sorted(m.matches(ev)) == want, ev


def test_ignore_case_rules_then_prefixes_of_another_path() -> None:
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
        ({"detail-type": "\u212aype1", "source": "com.xy"}, set()),  # the Kelvin sign is not a K
    ]
    for event, want in cases:
        assert set(m.matches(event)) == want, event
    for name in "abcd":
        m.remove_rule(name)
    assert m.describe() == EMPTY


def test_an_alternative_with_more_fields_than_the_default_recursion_limit_matches() -> None:
    """Each field of an alternative is one state whose code calls the next: a rule of 1,500
    fields (limits raised) still matches, and fails on its last field."""
    m = Matcher(PatternLimits(max_pattern_chars=100_000, max_fields=1_500))
    m.add_rule("deep", {f"f{i:04d}": ["x"] for i in range(1_500)})
    event = {f"f{i:04d}": "x" for i in range(1_500)}
    assert m.matches(event) == ["deep"]
    assert m.matches({**event, "f1499": "y"}) == []
    assert re.match(r"Matcher: 1 rules, 1 alternatives, 1500 states, 1500 paths", summary(m))
