"""The JSONPath subset of InputPath / InputPathsMap: parsing and selection."""

from __future__ import annotations

import pytest

from busbar.transform import MISSING, PathSyntaxError, compile_path

DOC = {
    "detail": {
        "instance-id": "i-1",
        "a": {"b": {"c": 7}},
        "items": [{"id": 1}, {"id": 2}, {"name": "x"}],
        "key with space": "s",
        "s3/key": "k",
        "flag": False,
        "nothing": None,
    },
    "resources": ["r0", "r1"],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.detail.instance-id", "i-1"),
        ("$.detail.a.b.c", 7),
        ("$.detail.a.b", {"c": 7}),
        ("$.resources[0]", "r0"),
        ("$.resources[1]", "r1"),
        ("$.detail.items[1].id", 2),
        ("$['detail']['key with space']", "s"),
        ('$["detail"]["a"].b', {"c": 7}),
        ("$.detail.s3/key", "k"),
        ("$.detail.flag", False),
        ("$.detail.nothing", None),
        ("$.resources[*]", ["r0", "r1"]),
        ("$.detail.items[*].id", [1, 2]),
        ("$.detail.a.*", [{"c": 7}]),
    ],
)
def test_selects(path: str, expected: object) -> None:
    assert compile_path(path).select(DOC) == expected


@pytest.mark.parametrize(
    "path",
    [
        "$.detail.absent",
        "$.detail.instance-id.deeper",
        "$.resources[2]",
        "$.detail.a[0]",  # an index into an object
        "$.resources.first",  # a name into an array
        "$.detail.items[*].nope",  # a wildcard that matches nothing
        "$.detail.flag[*]",
    ],
)
def test_missing(path: str) -> None:
    assert compile_path(path).select(DOC) is MISSING


def test_null_is_not_missing() -> None:
    assert compile_path("$.detail.nothing").select(DOC) is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "detail",
        "$.",
        "$..detail",
        "$.detail.",
        "$[",
        "$[-1]",
        "$[0:2]",
        "$['a'",
        "$['']",
        "$.detail[?(@.a)]",
        "$ .detail",
        "$.a b",
        "$detail",
    ],
)
def test_refused(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        compile_path(path)


def test_escaped_quote_in_bracket_name() -> None:
    assert compile_path(r"$['it\'s']").select({"it's": 1}) == 1
