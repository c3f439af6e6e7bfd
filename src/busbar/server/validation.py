"""Check a request against botocore's model and word failures as AWS does.

AWS answers a request that breaks its model with ``ValidationException`` and a
message such as::

    1 validation error detected: Value 'x y' at 'name' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+

(on one line).  Paths are lowerCamelCase member names joined by dots, list items
are ``<list>.<1-based index>.member``.  Values are shown the way AWS's Java
services print them: strings bare, ``null``, lists as ``[a, b]`` and structures as
``ShapeName(member=value, ...)``.

A validator is compiled once per operation into nested closures; the hot path
(PutEvents) then costs a few attribute lookups per member.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from botocore.model import Shape

from busbar.api.errors import ValidationException
from busbar.model.timestamps import parse_timestamp
from busbar.server.model import operation

# A check appends (path, rendered value, constraint) for each failure it finds.
Failure = tuple[str, Any, Shape, str]
Check = Callable[[Any, str, list[Failure]], None]

# Members that AWS's Java model prints in toString() but botocore does not model.
_HIDDEN_MEMBERS: dict[str, tuple[str, ...]] = {
    "PutEventsRequestEntry": ("kmsKeyIdentifier", "internalMetadata"),
}


def lower_camel(name: str) -> str:
    """``EventBusName`` -> ``eventBusName``, as AWS names members in messages."""
    return name[:1].lower() + name[1:]


def validate_request(operation_name: str, body: dict[str, Any]) -> None:
    """Raise ValidationException (or SerializationException for wrong types)
    when *body* breaks the model of *operation_name*."""
    check = _compiled(operation_name)
    if check is None:
        return
    failures: list[Failure] = []
    check(body, "", failures)
    if failures:
        raise _to_exception(failures)


@cache
def _compiled(operation_name: str) -> Check | None:
    op = operation(operation_name)
    if op is None or op.input_shape is None:
        return None
    return _compile_structure(op.input_shape, top=True)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    if kind == "structure":
        return _compile_structure(shape)
    if kind == "list":
        return _compile_list(shape)
    if kind == "map":
        return _compile_map(shape)
    if kind == "string":
        return _compile_string(shape)
    if kind in ("integer", "long"):
        return _compile_integer(shape)
    if kind == "boolean":
        return _compile_type(shape, lambda v: isinstance(v, bool), "Boolean")
    if kind in ("double", "float"):
        return _compile_type(shape, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "Double")
    if kind == "timestamp":
        return _compile_type(shape, _is_timestamp, "Timestamp")
    if kind == "blob":
        return _compile_type(shape, lambda v: isinstance(v, str), "Blob")
    return lambda value, path, failures: None


def _compile_structure(shape: Shape, top: bool = False) -> Check:
    members = [
        (name, lower_camel(name), _compile(member), name in shape.required_members)
        for name, member in shape.members.items()
    ]

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, dict):
            _wrong_type(value, path, "structure")
        for name, camel, member_check, required in members:
            member_value = value.get(name)
            if member_value is None:
                if required:
                    failures.append((_join(path, camel), None, shape, "Member must not be null"))
                continue
            member_check(member_value, _join(path, camel), failures)

    return check


def _check_length(
    value: str | list[Any], path: str, shape: Shape, low: int | None, high: int | None, failures: list[Failure]
) -> None:
    """The model's min/max length of a string or a list, in AWS's words."""
    if high is not None and len(value) > high:
        failures.append((path, value, shape, f"Member must have length less than or equal to {high}"))
    if low is not None and len(value) < low:
        failures.append((path, value, shape, f"Member must have length greater than or equal to {low}"))


def _compile_list(shape: Shape) -> Check:
    item_check = _compile(shape.member)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, list):
            _wrong_type(value, path, "list")
        _check_length(value, path, shape, low, high, failures)
        for index, item in enumerate(value, 1):
            if item is None:
                failures.append((f"{path}.{index}.member", None, shape, "Member must not be null"))
            else:
                item_check(item, f"{path}.{index}.member", failures)

    return check


def _compile_map(shape: Shape) -> Check:
    key_check, value_check = _compile(shape.key), _compile(shape.value)

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, dict):
            _wrong_type(value, path, "map")
        for key, item in value.items():
            key_check(key, f"{path}.key", failures)
            if item is not None:
                value_check(item, f"{path}.value", failures)

    return check


def _compile_string(shape: Shape) -> Check:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    enum = meta.get("enum")
    pattern = _compile_pattern(meta["pattern"]) if "pattern" in meta else None

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, str):
            _wrong_type(value, path, "string")
        _check_length(value, path, shape, low, high, failures)
        if pattern is not None and pattern.fullmatch(value) is None:
            failures.append((path, value, shape, f"Member must satisfy regular expression pattern: {meta['pattern']}"))
        if enum and value not in enum:
            failures.append((path, value, shape, f"Member must satisfy enum value set: [{', '.join(enum)}]"))

    return check


def _compile_pattern(pattern: str) -> Any:
    """Model patterns are Java regexes; the few Python's re cannot read (Unicode
    classes such as ``\\p{L}``) are compiled by the ``regex`` module."""
    try:
        return re.compile(pattern, re.ASCII | re.DOTALL)
    except re.error:
        import regex

        return regex.compile(pattern, regex.DOTALL | regex.VERSION0)


def _compile_integer(shape: Shape) -> Check:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                _wrong_type(value, path, "integer")
        if high is not None and value > high:
            failures.append((path, value, shape, f"Member must have value less than or equal to {high}"))
        if low is not None and value < low:
            failures.append((path, value, shape, f"Member must have value greater than or equal to {low}"))

    return check


def _compile_type(shape: Shape, accepts: Callable[[Any], bool], kind: str) -> Check:
    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not accepts(value):
            _wrong_type(value, path, kind)

    return check


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and parse_timestamp(value) is not None


def _wrong_type(value: Any, path: str, kind: str) -> None:
    # AWS's JSON services answer a member of the wrong type while deserializing,
    # before any constraint is checked; so does busbar, with the member named.
    shown = type(value).__name__.replace("dict", "object").replace("NoneType", "null")
    raise ValidationException(
        f"1 validation error detected: Value of type {shown} at '{path or 'request'}' failed to "
        f"satisfy constraint: Member must be of type {kind}"
    )


def render(value: Any, shape: Shape | None = None) -> str:
    """Show *value* as AWS's Java services print it in validation messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        item_shape = shape.member if shape is not None and shape.type_name == "list" else None
        return "[" + ", ".join(render(item, item_shape) for item in value) + "]"
    if isinstance(value, dict):
        if shape is not None and shape.type_name == "structure":
            parts = [f"{lower_camel(name)}={render(value.get(name), member)}" for name, member in shape.members.items()]
            parts += [f"{name}=null" for name in _HIDDEN_MEMBERS.get(shape.name, ())]
            return f"{shape.name}({', '.join(parts)})"
        return "{" + ", ".join(f"{k}={render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _to_exception(failures: list[Failure]) -> ValidationException:
    parts = [
        f"Value {_quoted(value, shape)} at '{path}' failed to satisfy constraint: {constraint}"
        for path, value, shape, constraint in failures
    ]
    count = len(parts)
    noun = "error" if count == 1 else "errors"
    return ValidationException(f"{count} validation {noun} detected: " + "; ".join(parts))


def _quoted(value: Any, shape: Shape) -> str:
    return "null" if value is None else f"'{render(value, shape)}'"
