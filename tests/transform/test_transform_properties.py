"""Properties of input shaping over generated values (hypothesis)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from busbar.transform import InputRenderError, compile_path, compile_target_input

from conftest import INGESTION_TIME, RULE_ARN, RULE_NAME

# JSON as an event can hold it (orjson's integer range; no NaN/infinity in JSON).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
names = st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True)


def render(template: str, paths: dict[str, str], event: dict[str, Any]) -> bytes:
    compiled = compile_target_input(
        {"Id": "t1", "Arn": "arn", "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
    )
    return compiled.render(event, rule_arn=RULE_ARN, rule_name=RULE_NAME, ingestion_time=INGESTION_TIME)


@given(st.dictionaries(names, json_values, min_size=1, max_size=6))
def test_value_slots_always_give_valid_json(values: dict[str, Any]) -> None:
    """A JSON template whose placeholders are JSON values renders to JSON holding exactly
    those values, whatever they are."""
    event = {"id": "e", "detail": values}
    paths = {name: f"$.detail['{name}']" for name in values}
    template = (
        "{"
        + ", ".join(f'"{name}": <{name}>' for name in values)
        + ', "list": ['
        + ", ".join(f"<{name}>" for name in values)
        + "]}"
    )
    body = orjson.loads(render(template, paths, event))
    assert body == {**values, "list": list(values.values())}


@given(st.text())
def test_string_slots_give_valid_json_or_refuse(value: str) -> None:
    """A value inside a JSON string is never escaped, so it either fits as is or the
    delivery is refused; broken JSON is never produced."""
    event = {"detail": {"v": value}}
    try:
        body = render('{"s": "[<v>]"}', {"v": "$.detail.v"}, event)
    except InputRenderError:
        assert any(c in value for c in '"\\') or any(ord(c) < 0x20 for c in value)
        return
    assert orjson.loads(body) == {"s": f"[{value}]"}


@given(json_values)
def test_string_slot_refuses_only_objects_arrays_and_unsafe_text(value: Any) -> None:
    event = {"detail": {"v": value}}
    try:
        body = render('{"s": "<v>"}', {"v": "$.detail.v"}, event)
    except InputRenderError:
        return
    assert isinstance(orjson.loads(body)["s"], str)


@given(st.text().filter(lambda t: "<" not in t and not t.lstrip(" \t\n\r").startswith("{")))
def test_text_without_placeholders_is_sent_verbatim(text: str) -> None:
    if not text:
        return
    assert render(text, {}, {"id": "e"}) == text.encode()


@given(st.lists(st.text(min_size=1, max_size=6).filter(lambda k: "\\" not in k), min_size=1, max_size=5), json_values)
def test_bracket_paths_select_what_they_name(keys: list[str], leaf: Any) -> None:
    document: Any = leaf
    for key in reversed(keys):
        document = {key: document}
    # Quoted names take \' for a quote; anything else stands for itself.
    path = "$" + "".join("['" + key.replace("'", "\\'") + "']" for key in keys)
    assert compile_path(path).select(document) == leaf


@given(json_values)
def test_input_path_renders_the_selected_json(value: Any) -> None:
    event = {"id": "e", "detail": {"x": value}}
    compiled = compile_target_input({"Id": "t1", "Arn": "arn", "InputPath": "$.detail.x"})
    body = compiled.render(event, rule_arn=RULE_ARN, rule_name=RULE_NAME, ingestion_time=INGESTION_TIME)
    assert orjson.loads(body) == value
