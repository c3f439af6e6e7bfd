"""Property tests: the indexed Matcher and pattern_matches agree with the reference matcher on
generated patterns of every operator and events shaped to hit and miss them, also while rules
are added, replaced and removed.

The vocabulary includes strings whose case rules are not ASCII's, so that every ignore-case
operator is held to event-ruler's definition (each pattern character stands for its lower- and
its upper-cased spelling; the value is not folded): ``straße`` matches ``STRASSE`` but not
``strasse``; ``k`` does not match the Kelvin sign; ``σ`` does not match the final ``ς``; ``ı``
matches ``I``; ``İ`` matches ``i̇``; titlecase ``ǅ`` matches ``ǆ`` and ``Ǆ`` but not itself."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from patterns_reference import reference_matches

from busbar.patterns import InvalidEventPattern, Matcher, pattern_matches, validate

# A small vocabulary so that generated patterns and events meet often.
KEYS = ["a", "b", "c", "a.b"]
# Strings whose upper- and lower-cased spellings differ in length or are not each other's inverse.
UNICODE = [
    "straße",
    "STRASSE",
    "strasse",
    "Straße",
    "ß",
    "SS",
    "ǅ",
    "ǆ",
    "Ǆ",
    "İ",
    "i\u0307",
    "ı",
    "I",
    "i",
    "\u212a",  # Kelvin sign, which lower-cases to k
    "k",
    "K",
    "Σ",
    "σ",
    "ς",
    "ﬁ",
    "FI",
    "é",
    "É",
    "😀",
    "aß",
    "Aß",
    "ASS",
]
STRINGS = ["", "ab", "abc", "AB", "b", "xyz", "10.0.0.1", "10.0.1.7", "2001:db8::1", "a*b", "Ab.c", *UNICODE]
NUMBERS = [0, 1, -2, 1.5, 300, 300.0, 2**60, 1e-3]
LITERALS = [True, False, None]

strings = st.sampled_from(STRINGS)
numbers = st.sampled_from(NUMBERS)
scalars = st.one_of(strings, numbers, st.sampled_from(LITERALS))
affix = st.sampled_from(["", "a", "ab", "b", "c", "A", "10.", "Ab", "ß", "SS", "s", "İ", "i", "ǅ", "σ", "\u212a", "é"])
nonempty_affix = affix.filter(bool)
wildcards = st.sampled_from(["*", "a*", "*b", "a*c", "*b*", "", "ab", "1*.1", "a\\*b", "*.*"])


def _numeric() -> st.SearchStrategy[list[Any]]:
    x = st.sampled_from([-2, 0, 1, 1.5, 300])
    single = st.tuples(st.sampled_from(["=", "<", "<=", ">", ">="]), x).map(list)
    ranged = (
        st.tuples(st.sampled_from([">", ">="]), x, st.sampled_from(["<", "<="]), x)
        .filter(lambda t: t[1] < t[3])
        .map(list)
    )
    return st.one_of(single, ranged)


matchers = st.one_of(
    scalars,
    st.builds(lambda s: {"prefix": s}, affix),
    st.builds(lambda s: {"suffix": s}, affix),
    st.builds(lambda s: {"prefix": {"equals-ignore-case": s}}, affix),
    st.builds(lambda s: {"suffix": {"equals-ignore-case": s}}, affix),
    st.builds(lambda s: {"equals-ignore-case": s}, strings),
    st.builds(lambda s: {"exactly": s}, strings),
    st.builds(lambda s: {"wildcard": s}, wildcards),
    st.builds(lambda n: {"numeric": n}, _numeric()),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda c: {"cidr": c}, st.sampled_from(["10.0.0.0/24", "10.0.0.0/8", "2001:db8::/32"])),
    st.builds(lambda s: {"anything-but": s}, st.one_of(strings, numbers)),
    st.builds(lambda s: {"anything-but": s}, st.lists(strings, min_size=1, max_size=3)),
    st.builds(lambda s: {"anything-but": s}, st.lists(numbers, min_size=1, max_size=3)),
    st.builds(
        lambda s: {"anything-but": {"prefix": s}},
        st.one_of(nonempty_affix, st.lists(nonempty_affix, min_size=1, max_size=2)),
    ),
    st.builds(
        lambda s: {"anything-but": {"suffix": s}},
        st.one_of(nonempty_affix, st.lists(nonempty_affix, min_size=1, max_size=2)),
    ),
    st.builds(
        lambda s: {"anything-but": {"equals-ignore-case": s}},
        st.one_of(strings, st.lists(strings, min_size=1, max_size=2)),
    ),
    st.builds(
        lambda s: {"anything-but": {"wildcard": s}}, st.one_of(wildcards, st.lists(wildcards, min_size=1, max_size=2))
    ),
)
value_lists = st.lists(matchers, min_size=1, max_size=3)


def _pattern(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf = value_lists
    child = leaf if depth == 0 else st.one_of(leaf, st.deferred(lambda: _pattern(depth - 1)))
    plain = st.dictionaries(st.sampled_from(KEYS), child, min_size=1, max_size=3)
    with_or = st.builds(
        lambda base, branches: {**base, "$or": branches},
        st.dictionaries(st.sampled_from(KEYS), child, max_size=2),
        st.lists(st.dictionaries(st.sampled_from(KEYS), child, min_size=1, max_size=2), min_size=2, max_size=3),
    )
    return st.one_of(plain, with_or)


patterns = _pattern(1)
_inner = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({}, optional={k: scalars for k in KEYS}),
    st.lists(st.fixed_dictionaries({}, optional={k: scalars for k in KEYS}), max_size=3),
)
# Dense events: most keys of the vocabulary present, so most generated patterns meet them.
shaped_events = st.fixed_dictionaries({}, optional={k: _inner for k in KEYS})
random_events = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8,
).map(lambda e: e if isinstance(e, dict) else {"a": e})
events = st.one_of(shaped_events, shaped_events, random_events)


def _valid(p: dict[str, Any]) -> bool:
    try:
        validate(p)
        return True
    except InvalidEventPattern:
        return False


SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


@SETTINGS
@given(patterns, st.lists(events, min_size=1, max_size=4))
def test_pattern_matches_agrees_with_reference(pattern: dict[str, Any], evs: list[dict[str, Any]]) -> None:
    assume(_valid(pattern))
    compiled = validate(pattern)
    for ev in evs:
        assert pattern_matches(compiled, ev) == reference_matches(pattern, ev), (pattern, ev)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["r0", "r1", "r2", "r3", "r4", "r5"]), st.one_of(patterns, st.none())),
        min_size=1,
        max_size=12,
    ),
    st.lists(events, min_size=1, max_size=4),
)
def test_matcher_agrees_with_reference_through_changes(ops: list[tuple[str, Any]], evs: list[dict[str, Any]]) -> None:
    m = Matcher()
    live: dict[str, dict[str, Any]] = {}
    for name, pattern in ops:
        if pattern is None:
            if name in live:
                m.remove_rule(name)
                del live[name]
        elif _valid(pattern):
            m.add_rule(name, pattern)
            live[name] = pattern
        for ev in evs:
            got = sorted(m.matches(ev))
            want = sorted(n for n, p in live.items() if reference_matches(p, ev))
            assert got == want, (live, ev)
    for name in list(live):
        m.remove_rule(name)
    assert m.matches(evs[0]) == []
    assert m.describe() == EMPTY  # nothing left behind


EMPTY = "Matcher: 0 rules, 0 alternatives, 1 states, 0 paths, 0 conditions, 0 generated functions\nstate 0: noop"


# -- ignore-case, held to event-ruler's rule on text whose case rules are not ASCII's -------------

_CASES = "aAbBsSßſkK\u212aiIıİ\u0307σΣςǅǆǄéÉﬁ😀-"
_pattern_text = st.text(st.sampled_from(_CASES + "kKsSiI" * 3), max_size=4)  # often ASCII with look-alikes
# Characters that case-fold like another one without being one of its two spellings.
_LOOKALIKES = {"k": "\u212a", "K": "\u212a", "s": "ſ", "S": "ſ", "i": "ı", "I": "İ", "σ": "ς", "Σ": "ς", "ǆ": "ǅ"}


@st.composite
def _spelled(draw: st.DrawFn, pattern: str) -> str:
    """A value near ``pattern``: each character respelled one of several ways (some of them
    event-ruler's, some not: a look-alike, ``ß`` for ``ss``), with text around it now and then."""
    out = []
    for c in pattern:
        ways = [c, c.lower(), c.upper(), c.casefold(), c.swapcase(), c.title()]
        out.append(draw(st.sampled_from([*ways, *[_LOOKALIKES.get(c, c)] * 3])))
    value = "".join(out)
    if draw(st.booleans()):
        value = value.replace("ss", "ß").replace("SS", "ß")
    if draw(st.booleans()):
        return value
    return draw(st.text(_CASES, max_size=2)) + value + draw(st.text(_CASES, max_size=2))


_IC_OPS = [
    lambda p: {"equals-ignore-case": p},
    lambda p: {"prefix": {"equals-ignore-case": p}},
    lambda p: {"suffix": {"equals-ignore-case": p}},
    lambda p: {"anything-but": {"equals-ignore-case": p}},
    lambda p: {"anything-but": {"equals-ignore-case": [p, "x"]}},
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_IC_OPS) - 1), _pattern_text), min_size=1, max_size=6), st.data())
def test_ignore_case_follows_event_ruler(rules: list[tuple[int, str]], data: st.DataObject) -> None:
    """Ignore-case patterns (several per path, so that tables are used too) against values
    respelled from them: pattern_matches and the Matcher agree with the reference."""
    patterns = {}
    for i, (op, text) in enumerate(rules):
        if not text and op >= 1 and op <= 2:
            continue
        pattern = {"f": [_IC_OPS[op](text)]}
        if _valid(pattern):
            patterns[f"r{i}"] = pattern
    assume(patterns)
    m = Matcher()
    for name, pattern in patterns.items():
        m.add_rule(name, pattern)
    _, some = data.draw(st.sampled_from(rules))
    for value in [data.draw(_spelled(some)), data.draw(st.text(_CASES, max_size=5))]:
        event = {"f": value}
        want = {name for name, p in patterns.items() if reference_matches(p, event)}
        assert {name for name, p in patterns.items() if pattern_matches(p, event)} == want, (patterns, value)
        assert set(m.matches(event)) == want, (patterns, value)
