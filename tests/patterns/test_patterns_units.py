"""Unit tests for behaviour the conformance cases do not pin down."""

from __future__ import annotations

import json

import pytest

from busbar.patterns import InvalidEventPattern, Matcher, PatternLimits, pattern_matches, validate


def reason(pattern: object, **limits: int) -> str:
    with pytest.raises(InvalidEventPattern) as info:
        validate(pattern, PatternLimits(**limits) if limits else None)  # type: ignore[arg-type]
    assert info.value.message.startswith("Event pattern is not valid. Reason: ")
    return info.value.reason


def test_limits_are_settings() -> None:
    big = {"source": ["x" * 3000]}
    assert "limit is 2048" in reason(big)
    validate(big, PatternLimits(max_pattern_chars=4096))
    branches = [{"a": [str(i)]} for i in range(11)]
    wide = {"$or": branches, "detail": {"$or": branches}}  # 121 combinations
    assert "more than 100 combinations" in reason(wide, max_or_combinations=100)
    validate(wide)
    assert "limit is 2" in reason({"a": ["1"], "b": ["2"], "c": ["3"]}, max_fields=2)


def test_wildcard_rules() -> None:
    assert reason({"f": [{"wildcard": "a\\b"}]}) == "Invalid escape character at pos 2"
    assert reason({"f": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}).startswith("Rule is too complex")
    assert pattern_matches({"f": [{"wildcard": "a\\*b*"}]}, {"f": "a*bcd"})
    assert not pattern_matches({"f": [{"wildcard": "a\\*b*"}]}, {"f": "axbcd"})
    assert pattern_matches({"f": [{"wildcard": "a\\\\b"}]}, {"f": "a\\b"})


def test_other_messages() -> None:
    assert reason("{}") == "Empty objects are not allowed"
    assert reason({"a": {"$or": [{"b": ["1"]}]}}) == "There must have at least 2 Objects in $or relationship."
    assert reason({"a": [{"numeric": [">", 5, "<", 1]}]}) == "Bottom must be less than top"
    assert reason({"a": [{"anything-but": ["a", 1]}]}).startswith("Inside anything but list, either all values")
    assert reason({"a": [{"cidr": "10.0.0.0/32"}]}) == "IPv4 mask bits must be < 32"
    assert reason({"a": [{"prefix": "x", "suffix": "y"}]}) == "Only one key allowed in match expression"
    assert reason('{"a": ["x"]') == (
        'Unexpected end-of-input: expected close marker for Object (start marker at [Source: (String)"{"a": ["x"]"; '
        "line: 1, column: 1])"
    )


def test_array_of_objects_fields_come_from_one_element() -> None:
    event = {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}
    assert pattern_matches({"items": {"sku": ["a"], "qty": [1]}}, event)
    assert not pattern_matches({"items": {"sku": ["a"], "qty": [2]}}, event)
    m = Matcher()
    m.add_rule("same", {"items": {"sku": ["b"], "qty": [2]}})
    m.add_rule("mixed", {"items": {"sku": ["b"], "qty": [1]}})
    assert m.matches(event) == ["same"]


def test_numbers_compare_as_float64() -> None:
    assert pattern_matches({"n": [300]}, '{"n": 3.0e2}')
    assert pattern_matches({"n": [{"numeric": ["=", 0.1]}]}, {"n": 0.1})
    assert not pattern_matches({"n": [12345678901234567]}, {"n": 12345678901234568})
    assert not pattern_matches({"n": [1]}, {"n": True})
    assert not pattern_matches({"n": ["1"]}, {"n": 1})


def test_dotted_keys_both_ways() -> None:
    assert pattern_matches({"a.b": ["x"]}, {"a": {"b": "x"}})
    assert pattern_matches({"a": {"b": ["x"]}}, {"a.b": "x"})
    m = Matcher()
    m.add_rule("r", {"a": {"b": {"c": ["x"]}}})
    assert m.matches({"a.b": {"c": "x"}}) == ["r"]
    assert m.matches(json.dumps({"a": {"b.c": "x"}})) == ["r"]


def test_add_replace_remove() -> None:
    m = Matcher()
    m.add_rule("bus/r", {"source": ["a"]})
    m.add_rule("bus/r", {"source": ["b"]})
    assert m.matches({"source": "a"}) == [] and m.matches({"source": "b"}) == ["bus/r"]
    with pytest.raises(InvalidEventPattern):
        m.add_rule("bus/r", {"source": "b"})
    assert m.matches({"source": "b"}) == ["bus/r"]  # a refused replacement changes nothing
    m.remove_rule("bus/r")
    with pytest.raises(KeyError):
        m.remove_rule("bus/r")
    assert len(m) == 0 and m.matches({"source": "b"}) == []


def test_exists_false_and_null() -> None:
    m = Matcher()
    m.add_rule("absent", {"detail": {"x": [{"exists": False}]}})
    m.add_rule("null", {"detail": {"x": [None]}})
    assert sorted(m.matches({"detail": {}})) == ["absent"]
    assert sorted(m.matches({"detail": {"x": None}})) == ["null"]
    assert m.matches({"detail": {"x": []}}) == ["absent"]


# -- AWS's parser positions beyond the recorded cases (the rule is in busbar.patterns.parse) -------


def where(pattern: str) -> str:
    with pytest.raises(InvalidEventPattern) as info:
        validate(pattern)
    return info.value.where


def position(pattern: str) -> tuple[int, int]:
    """(line, column) of the first position suffix."""
    line, column = where(pattern).split("; line: ")[1].split("]")[0].split(", column: ")
    return int(line), int(column)


def test_positions_follow_jacksons_reader() -> None:
    # A field name's position is past the colon and the first character of its value.
    assert position('{"a": "x"}') == (1, 8)  # a string value: just past its opening quote
    assert position('{"a": 12.5}') == (1, 11)  # a number: past its last digit
    assert position('{"a": true}') == (1, 11)
    assert position('{"a": {}}') == (1, 9)  # an empty object: past its }
    assert position('{"a": [{"prefix": 5}]}') == (1, 20)
    assert position('{"a": [{"prefix": "x", "suffix": "y"}]}') == (1, 35)  # the second key, into its value
    assert position('{"a": [{"wildcard": "a**"}]}') == (1, 26)  # the wildcard's text is read: past its quote
    # Lines end at \n, \r\n and \r; columns restart after each.
    assert position('{\n  "a": "x"\n}') == (2, 9)
    assert position('{\r\n  "a":\r\n "x"}') == (3, 3)
    assert position('{\r"a": 5}') == (2, 7)
    # Columns count UTF-16 code units, as Java's strings do.
    assert position('{"\U0001f600": 5, "b": 5}') == (1, 9)
    assert position('{"é": 5}') == (1, 8)


def test_unexpected_characters_point_at_themselves() -> None:
    assert position('{"a": ["x",]}') == (1, 12)  # the ] where a value should be
    assert position('{"a" 5}') == (1, 6)
    assert position('{"a": ["x" "y"]}') == (1, 12)
    assert where('{"a": [1}').startswith("\n at [Source: ")
    assert reason('{"a": [1}').startswith("Unexpected close marker '}': expected ']' (for Array starting at ")


def test_anything_but_lists_carry_the_position_twice() -> None:
    # event-ruler reads these lists inside a try that catches its refusal and refuses again.
    text = '{"a": [{"anything-but": {"suffix": [""]}}]}'
    assert where(text).count("\n at [Source: ") == 2
    assert reason(text) == "Null prefix/suffix not allowed"
    text = '{"a": [{"anything-but": {"suffix": ""}}]}'  # a single value: once
    assert where(text).count("\n at [Source: ") == 1
    text = '{"a": [{"anything-but": ["x", 1]}]}'  # mixed types: refused after the list, once
    assert where(text).count("\n at [Source: ") == 1


def test_refusals_raised_outside_the_parser_have_no_position() -> None:
    assert where('{"a": [{"cidr": "10.0.0.0"}]}') == ""
    assert where('{"a": [{"anything-but": 1e400}]}') == ""  # a single number no double holds
    assert where('{"a": [{"anything-but": [1e400]}]}') != ""  # in a list: caught, refused again
    assert reason('{"a": [{"numeric": [">", 12345678901234567]}]}') == "Cannot compare number : 12345678901234567"
    assert reason('{"a": [{"numeric": ["=", 1e400, 5]}]}') == "Too many elements in numeric expression"


def test_long_patterns_are_quoted_in_part() -> None:
    text = '{"a": [' + ", ".join(['"xxxxxxxx"'] * 60) + "], " + '"b": 5}'
    suffix = where(text)
    assert suffix.startswith('\n at [Source: (String)"' + text[:500] + '"[truncated ')
    assert suffix.endswith(f"[truncated {len(text) - 500} chars]; line: 1, column: {len(text)}]")


def test_semantic_refusal_before_a_later_syntax_error() -> None:
    # AWS reads the pattern as a stream: what is wrong first is what it reports.
    assert reason('{"a": "x", "b": [}') == '"a" must be an object or an array'


# -- equals-ignore-case is event-ruler's: each pattern character stands for its lower- and its
# upper-cased spelling; the value is not case-folded -------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("straße", "STRASSE", True),
        ("straße", "strasse", False),
        ("STRASSE", "straße", False),
        ("Straße", "sTRAßE", True),
        ("k", "\u212a", False),  # the Kelvin sign lower-cases to k, but is not one of k's spellings
        ("\u212a", "k", True),
        ("\u212a", "K", False),
        ("ı", "I", True),  # dotless i upper-cases to I
        ("I", "ı", False),
        ("İ", "i\u0307", True),  # capital I with dot lower-cases to i and a combining dot
        ("σ", "Σ", True),
        ("σ", "ς", False),
        ("ǅ", "ǆ", True),
        ("ǅ", "ǅ", False),  # titlecase: neither its lower nor its upper spelling
        ("file", "ﬁle", False),
        ("é", "É", True),
        ("ab😀", "AB😀", True),
    ],
)
def test_ignore_case_spellings(pattern: str, value: str, matches: bool) -> None:
    for op, wrapped in [
        ("equals-ignore-case", value),
        ("prefix", value + "tail"),
        ("suffix", "head" + value),
    ]:
        rule = {"f": [{op: pattern} if op == "equals-ignore-case" else {op: {"equals-ignore-case": pattern}}]}
        assert pattern_matches(rule, {"f": wrapped}) is matches, (op, pattern, wrapped)
        m = Matcher()
        m.add_rule("r", rule)
        assert (m.matches({"f": wrapped}) == ["r"]) is matches, (op, pattern, wrapped)
    refused = {"f": [{"anything-but": {"equals-ignore-case": [pattern]}}]}
    assert pattern_matches(refused, {"f": value}) is not matches
