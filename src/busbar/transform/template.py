"""``InputTemplate``: parsed once into literal chunks and slots, filled per delivery.

Two kinds of template, as EventBridge has them:

* a **JSON template** (the text starts with ``{``): a placeholder outside a JSON string is a
  *value slot* and receives the value's JSON (strings quoted); a placeholder inside a JSON
  string is a *string slot* and receives the value's text, unescaped, as AWS does. A
  placeholder cannot be an object key. The literal parts are minified here, once, because AWS
  minifies the JSON it passes to targets.
* a **text template** (anything else, e.g. ``"<instance> is in state <state>"`` with or
  without the quotes): every placeholder is a *text slot*; the body is the text with values
  inlined: strings as they are, other values as their JSON with the double quotes removed
  (AWS sends ``{acc_id:0a78,sf_id:baz}`` and ``[ACTIVE,INACTIVE]``).

A path that matches nothing fills a string or text slot with nothing and a value slot with
``""`` (both recorded against AWS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final

from .errors import InputRenderError, InvalidTargetInput
from .jsonpath import MISSING
from .jsonutil import RawJson, dumps

__all__ = ["JSON_ONLY_PLACEHOLDERS", "RESERVED_PLACEHOLDERS", "SlotKind", "Template", "compile_template"]

# The predefined variables; they cannot be InputPathsMap keys.
RULE_ARN: Final = "aws.events.rule-arn"
RULE_NAME: Final = "aws.events.rule-name"
INGESTION_TIME: Final = "aws.events.event.ingestion-time"
EVENT: Final = "aws.events.event"
EVENT_JSON: Final = "aws.events.event.json"
RESERVED_PLACEHOLDERS: Final = frozenset({RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON})
# AWS: "can only be used as a value for a JSON field, as its contents are not escaped".
JSON_ONLY_PLACEHOLDERS: Final = frozenset({EVENT, EVENT_JSON})

# AWS: "The characters < and > can't be escaped", so anything between them is a placeholder
# name and must be defined; a stray pair fails loudly at PutTargets instead of passing through.
_PLACEHOLDER = re.compile(r"<([^<>]*)>")
# Characters that would end or corrupt a JSON string if inserted unescaped into one.
_BREAKS_JSON_STRING = re.compile(r'["\\\x00-\x1f]')
_JSON_WHITESPACE = " \t\n\r"


class SlotKind(Enum):
    """Where a placeholder sits, which decides how its value is written."""

    VALUE = "value"  # a JSON value in a JSON template
    STRING = "string"  # inside a JSON string in a JSON template
    TEXT = "text"  # anywhere in a text template


class _Slot:
    """One placeholder occurrence: its name and kind; ``render`` writes a value's bytes."""

    __slots__ = ("name", "kind", "target_id")

    def __init__(self, name: str, kind: SlotKind, target_id: str) -> None:
        self.name = name
        self.kind = kind
        self.target_id = target_id

    def render(self, value: Any) -> bytes:
        """The bytes this slot contributes for ``value`` (``MISSING`` when the path matched nothing)."""
        kind = self.kind
        if kind is SlotKind.VALUE:
            if value is MISSING:
                return b'""'
            if type(value) is RawJson:
                return value.data
            return dumps(value)
        if value is MISSING:
            return b""
        if type(value) is str:
            if kind is SlotKind.STRING and _BREAKS_JSON_STRING.search(value):
                # AWS inserts it unescaped and the target gets broken JSON (or nothing);
                # refusing lets the delivery be dead-lettered with a reason.
                raise InputRenderError(
                    f"InputTemplate for target {self.target_id}: the value of <{self.name}> "
                    "contains a quote, backslash or control character and is placed inside a "
                    "JSON string, where EventBridge does not escape values; the result would "
                    f"not be valid JSON. Place <{self.name}> as a JSON value instead."
                )
            return value.encode()
        if type(value) is RawJson:
            value = json.loads(value.data)
        if type(value) is dict or type(value) is list:
            if kind is SlotKind.STRING:
                raise InputRenderError(
                    f"InputTemplate for target {self.target_id}: the value of <{self.name}> is "
                    "a JSON object or array and is placed inside a JSON string; the result "
                    f"would not be valid JSON. Place <{self.name}> as a JSON value instead."
                )
            return dumps(value).replace(b'"', b"")
        return dumps(value)


class Template:
    """A compiled ``InputTemplate``: ``render(values)`` fills it for one event.

    ``names`` lists the placeholder names it uses (each once), so the caller computes only
    those values.
    """

    __slots__ = ("text", "is_json", "names", "_ops")

    def __init__(self, text: str, is_json: bool, ops: list[tuple[bytes, _Slot | None]]) -> None:
        self.text = text
        self.is_json = is_json
        self._ops = ops
        self.names: tuple[str, ...] = tuple(dict.fromkeys(slot.name for _, slot in ops if slot is not None))

    def render(self, values: dict[str, Any]) -> bytes:
        """The body for one event; ``values`` maps each name in ``names`` to its value
        (``MISSING`` when its path matched nothing, ``RawJson`` for pre-serialised JSON)."""
        out: list[bytes] = []
        append = out.append
        for literal, slot in self._ops:
            append(literal)
            if slot is not None:
                append(slot.render(values[slot.name]))
        return b"".join(out)


def compile_template(text: str, target_id: str, defined: Iterable[str]) -> Template:
    """Parse ``text`` for target ``target_id`` whose ``InputPathsMap`` defines ``defined``;
    raise ``InvalidTargetInput`` if EventBridge would refuse it (or it can never render)."""
    known = set(defined) | RESERVED_PLACEHOLDERS
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1) not in known:
            raise InvalidTargetInput(
                f"InputTemplate for target {target_id} contains invalid placeholder {match.group(1)}."
            )
    if text.lstrip(_JSON_WHITESPACE).startswith("{"):
        ops = _split_json(text, target_id)
        _check_json_shape(ops, target_id)
        return Template(text, True, ops)
    ops = _split_text(text, target_id)
    return Template(text, False, ops)


def _split_text(text: str, target_id: str) -> list[tuple[bytes, _Slot | None]]:
    """Literal chunks and text slots of a text template."""
    ops: list[tuple[bytes, _Slot | None]] = []
    start = 0
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name in JSON_ONLY_PLACEHOLDERS:
            raise _json_only(target_id, name)
        ops.append((text[start : match.start()].encode(), _Slot(name, SlotKind.TEXT, target_id)))
        start = match.end()
    ops.append((text[start:].encode(), None))
    return ops


def _split_json(text: str, target_id: str) -> list[tuple[bytes, _Slot | None]]:
    """Literal chunks (minified) and value/string slots of a JSON template.

    One pass that tracks whether it is inside a JSON string, so it knows each placeholder's
    kind, and refuses a placeholder used as an object key.
    """
    ops: list[tuple[bytes, _Slot | None]] = []
    literal: list[str] = []
    in_string = False
    slots_in_string = 0
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char == "<":
            match = _PLACEHOLDER.match(text, i)
            if match is not None:
                name = match.group(1)
                kind = SlotKind.STRING if in_string else SlotKind.VALUE
                if kind is SlotKind.STRING:
                    if name in JSON_ONLY_PLACEHOLDERS:
                        raise _json_only(target_id, name)
                    slots_in_string += 1
                elif _next_is_colon(text, match.end()):
                    raise _as_key(target_id, name)
                ops.append(("".join(literal).encode(), _Slot(name, kind, target_id)))
                literal = []
                i = match.end()
                continue
        if in_string:
            if char == "\\" and i + 1 < end:
                literal.append(text[i : i + 2])
                i += 2
                continue
            if char == '"':
                in_string = False
                if slots_in_string and _next_is_colon(text, i + 1):
                    raise _as_key(target_id, ops[-1][1].name)  # type: ignore[union-attr]
            literal.append(char)
        elif char == '"':
            in_string = True
            slots_in_string = 0
            literal.append(char)
        elif char not in _JSON_WHITESPACE:
            literal.append(char)
        i += 1
    ops.append(("".join(literal).encode(), None))
    return ops


def _check_json_shape(ops: list[tuple[bytes, _Slot | None]], target_id: str) -> None:
    """Refuse a JSON template that cannot be valid JSON whatever the values: fill value slots
    with ``0`` and string slots with nothing, and parse."""
    probe = b"".join(
        literal + (b"0" if slot is not None and slot.kind is SlotKind.VALUE else b"") for literal, slot in ops
    )
    try:
        json.loads(probe)
    except ValueError as exc:
        raise InvalidTargetInput(
            f"InputTemplate for target {target_id} is not valid JSON: {exc.args[0]}. A "
            "template that starts with '{' must be a JSON object once its placeholders are "
            "filled; write a text template without the braces otherwise."
        ) from None


def _next_is_colon(text: str, i: int) -> bool:
    """Is the next non-whitespace character at or after ``i`` a ':' (so we are at a key)?"""
    while i < len(text) and text[i] in _JSON_WHITESPACE:
        i += 1
    return i < len(text) and text[i] == ":"


def _as_key(target_id: str, name: str) -> InvalidTargetInput:
    return InvalidTargetInput(
        f"InputTemplate for target {target_id} uses placeholder <{name}> as an object key; "
        "a placeholder cannot be used as an object key."
    )


def _json_only(target_id: str, name: str) -> InvalidTargetInput:
    return InvalidTargetInput(
        f"InputTemplate for target {target_id} uses <{name}> inside a string; <{name}> can "
        "only be used as the value of a JSON field."
    )
