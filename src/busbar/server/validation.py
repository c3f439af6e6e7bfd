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

Bad input stays cheap: a list or map over the model's maximum fails on its length
without its items being checked (a million entries cost one comparison), checking
stops after :data:`MAX_FAILURES` failures, and a value is quoted by at most
:data:`MAX_QUOTED_CHARS` characters (AWS quotes values, not megabytes).  Members
the model marks ``sensitive`` (passwords, API keys, client secrets, secret header
values) are never quoted: a failing one is named without its value, as AWS does
(``Value at 'password' failed to satisfy constraint: ...``), and inside a quoted
structure it reads ``*** Sensitive Data Redacted ***``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from itertools import chain
from typing import Any

from botocore.model import Shape

from busbar.api.errors import ValidationException
from busbar.model.timestamps import parse_timestamp
from busbar.server.model import operation

# A check appends (path, value, shape of the value, constraint) for each failure it finds.
Failure = tuple[str, Any, Shape, str]
Check = Callable[[Any, str, list[Failure]], None]

# Checking stops after this many failures; the message lists them and says there are more.
MAX_FAILURES = 100
# A quoted value is cut after about this many characters ("...").
MAX_QUOTED_CHARS = 4096
# Deeper values are quoted as "[...]"/"{...}" (the model nests a dozen levels at most).
MAX_QUOTED_DEPTH = 16
REDACTED = "*** Sensitive Data Redacted ***"

# Members that AWS's Java model prints in toString() but botocore does not model.
_HIDDEN_MEMBERS: dict[str, tuple[str, ...]] = {
    "PutEventsRequestEntry": ("kmsKeyIdentifier", "internalMetadata"),
}


# Enums AWS checks without regard to case: it accepted an OAuth connection's HttpMethod
# "put" (conformance: LocalStack's recorded test_api_destinations[auth2]); API
# destinations' HttpMethod is taken to be read the same way.
_CASELESS_ENUMS = frozenset({"ConnectionOAuthHttpMethod", "ApiDestinationHttpMethod"})
# Enum value sets in the order AWS's messages list them, where its recorded answers
# show an order other than the model's (test_create_api_destination_invalid_parameters).
_AWS_ENUM_ORDER: dict[str, tuple[str, ...]] = {
    "ApiDestinationHttpMethod": ("HEAD", "POST", "PATCH", "DELETE", "PUT", "GET", "OPTIONS"),
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
    failures = _Failures()
    try:
        check(body, "", failures)
    except _TooManyFailures:
        raise _to_exception(failures, more=True) from None
    if failures:
        raise _to_exception(failures)


class _TooManyFailures(Exception):
    """Raised by :class:`_Failures` to stop checking."""


class _Failures(list[Failure]):
    """The failures found so far; finding one more than :data:`MAX_FAILURES` stops the
    check, so a hostile request costs a bounded amount of work."""

    def append(self, failure: Failure) -> None:
        if len(self) >= MAX_FAILURES:
            raise _TooManyFailures
        super().append(failure)


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
        if high is not None and len(value) > high:
            return  # refused for its length; its items are not worth checking
        for index, item in enumerate(value, 1):
            if item is None:
                failures.append((f"{path}.{index}.member", None, shape, "Member must not be null"))
            else:
                item_check(item, f"{path}.{index}.member", failures)

    return check


def _compile_map(shape: Shape) -> Check:
    key_check, value_check = _compile(shape.key), _compile(shape.value)
    high = shape.metadata.get("max")

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, dict):
            _wrong_type(value, path, "map")
        if high is not None and len(value) > high:
            failures.append((path, value, shape, f"Member must have length less than or equal to {high}"))
            return
        for key, item in value.items():
            key_check(key, f"{path}.key", failures)
            if item is not None:
                value_check(item, f"{path}.value", failures)

    return check


def _compile_string(shape: Shape) -> Check:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    enum = meta.get("enum")
    listed = ", ".join(_AWS_ENUM_ORDER.get(shape.name, enum or ()))
    caseless = shape.name in _CASELESS_ENUMS
    allowed = {value.upper() for value in enum} if enum and caseless else enum
    pattern = _compile_pattern(meta["pattern"]) if "pattern" in meta else None

    def check(value: Any, path: str, failures: list[Failure]) -> None:
        if not isinstance(value, str):
            _wrong_type(value, path, "string")
        _check_length(value, path, shape, low, high, failures)
        if pattern is not None and pattern.fullmatch(value) is None:
            failures.append((path, value, shape, f"Member must satisfy regular expression pattern: {meta['pattern']}"))
        if enum and (value.upper() if caseless else value) not in allowed:
            failures.append((path, value, shape, f"Member must satisfy enum value set: [{listed}]"))

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


def render(value: Any, shape: Shape | None = None, limit: int = MAX_QUOTED_CHARS) -> str:
    """Show *value* as AWS's Java services print it in validation messages, in about
    *limit* characters at most (what is cut is shown as ``...``); members whose shape
    is ``sensitive`` read ``*** Sensitive Data Redacted ***``."""
    out = _Quote(limit)
    _render(value, shape, out, 0)
    return "".join(out.parts)


class _Quote:
    """The pieces of a quoted value and the characters still allowed.  Short tokens
    (brackets, ``null``, member names) are always written so the quote stays
    readable; strings are cut to what is left."""

    __slots__ = ("parts", "left")

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.left = limit

    @property
    def full(self) -> bool:
        return self.left <= 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.left -= len(text)

    def add_cut(self, text: str) -> None:
        if len(text) > self.left:
            text = text[: max(self.left, 0)] + "..."
        self.add(text)


def _render(value: Any, shape: Shape | None, out: _Quote, depth: int) -> None:
    if value is None:
        out.add("null")
    elif shape is not None and shape.metadata.get("sensitive"):
        out.add(REDACTED)
    elif isinstance(value, bool):
        out.add("true" if value else "false")
    elif isinstance(value, list):
        if depth >= MAX_QUOTED_DEPTH:
            out.add("[...]")
            return
        item_shape = shape.member if shape is not None and shape.type_name == "list" else None
        _render_all(out, "[", "]", (("", item, item_shape) for item in value), depth)
    elif isinstance(value, dict):
        if depth >= MAX_QUOTED_DEPTH:
            out.add("{...}")
        elif shape is not None and shape.type_name == "structure":
            members = ((f"{lower_camel(name)}=", value.get(name), member) for name, member in shape.members.items())
            hidden = ((f"{name}=", None, None) for name in _HIDDEN_MEMBERS.get(shape.name, ()))
            _render_all(out, f"{shape.name}(", ")", chain(members, hidden), depth)
        else:
            item_shape = shape.value if shape is not None and shape.type_name == "map" else None
            _render_all(out, "{", "}", ((f"{key}=", item, item_shape) for key, item in value.items()), depth)
    else:
        out.add_cut(str(value))


def _render_all(
    out: _Quote, opening: str, closing: str, pieces: Iterable[tuple[str, Any, Shape | None]], depth: int
) -> None:
    """The pieces (label, value, shape) of a list, structure or map, separated by commas,
    until the quote is full."""
    out.add(opening)
    for index, (label, item, item_shape) in enumerate(pieces):
        if index:
            out.add(", ")
        if out.full:
            out.add("...")
            break
        out.add_cut(label)
        _render(item, item_shape, out, depth + 1)
    out.add(closing)


def _to_exception(failures: list[Failure], more: bool = False) -> ValidationException:
    parts = [
        f"Value {_quoted(value, shape)}at '{path}' failed to satisfy constraint: {constraint}"
        for path, value, shape, constraint in failures
    ]
    count = len(parts)
    noun = "error" if count == 1 else "errors"
    extra = f" (and more; busbar lists the first {count})" if more else ""
    return ValidationException(f"{count} validation {noun} detected{extra}: " + "; ".join(parts))


def _quoted(value: Any, shape: Shape) -> str:
    """The value as the message quotes it, with its trailing space; nothing at all for
    a sensitive member (AWS's ``Value at 'password' ...``)."""
    if value is None:
        return "null "
    if shape.metadata.get("sensitive"):
        return ""
    return f"'{render(value, shape)}' "
