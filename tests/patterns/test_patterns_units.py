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
    assert reason('{"a": ["x"]') == "Unexpected end-of-input: expected close marker for Object"


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
