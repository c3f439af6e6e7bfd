"""Pattern JSON text -> a tree that keeps every object member in document order.

Patterns are read the way EventBridge's Jackson streaming parser reads them: members are
processed in order, so a duplicated key is seen twice (the later one wins where both set the same
field). Python's ``json`` module does the parsing; only when it fails do we scan the text again to
phrase the error the way Jackson does, because AWS returns Jackson's words.
"""

from __future__ import annotations

import json
from typing import Any


class Members(list):
    """A JSON object as its ``(key, value)`` members in document order, duplicates kept."""


def _no_constants(name: str) -> Any:
    # Jackson refuses NaN/Infinity unless configured to allow them; so does AWS.
    raise ValueError(name)


_DECODER = json.JSONDecoder(object_pairs_hook=Members, parse_constant=_no_constants)


def parse_pattern_text(text: str) -> Any:
    """Parse pattern JSON; raise ``ValueError(jackson_style_message)`` on a syntax error.

    Like Jackson's streaming parser used by EventBridge, content after the first complete value
    is not read.
    """
    start = len(text) - len(text.lstrip(" \t\r\n"))
    try:
        value, _ = _DECODER.raw_decode(text, start)
        return value
    except (ValueError, RecursionError):
        raise ValueError(_jackson_message(text)) from None


def to_members(value: Any) -> Any:
    """Convert parsed-dict patterns (a ``dict`` from the caller) to the same tree shape."""
    if isinstance(value, dict):
        return Members((k, to_members(v)) for k, v in value.items())
    if isinstance(value, list):
        return [to_members(v) for v in value]
    return value


_EXPECT_VALUE = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


class _Scan:
    """A small JSON scanner whose only job is to word the first syntax error like Jackson."""

    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0

    def fail(self, msg: str) -> None:
        raise ValueError(msg)

    def ws(self) -> None:
        t, i = self.t, self.i
        while i < len(t) and t[i] in " \t\r\n":
            i += 1
        self.i = i

    def char_msg(self, expecting: str) -> str:
        c = self.t[self.i]
        return f"Unexpected character ('{c}' (code {ord(c)})): {expecting}"

    def eof(self, what: str) -> None:
        self.fail(f"Unexpected end-of-input: expected close marker for {what}")

    def value(self) -> None:
        self.ws()
        t = self.t
        if self.i >= len(t):
            self.fail("Unexpected end-of-input: expected a value " + _EXPECT_VALUE)
        c = t[self.i]
        if c == "{":
            self.obj()
        elif c == "[":
            self.arr()
        elif c == '"':
            self.string()
        elif c in "-0123456789":
            self.number()
        elif c.isalpha() or c == "_":
            j = self.i
            while j < len(t) and (t[j].isalnum() or t[j] in "_$"):
                j += 1
            word = t[self.i : j]
            if word in ("true", "false", "null"):
                self.i = j
            else:
                self.fail(f"Unrecognized token '{word}': was expecting {_EXPECT_VALUE}")
        else:
            self.fail(self.char_msg("expected a valid value " + _EXPECT_VALUE))

    def string(self) -> None:
        t, i = self.t, self.i + 1
        while i < len(t):
            c = t[i]
            if c == '"':
                self.i = i + 1
                return
            if c == "\\":
                i += 2
                continue
            if ord(c) < 32:
                self.fail(
                    f"Illegal unquoted character ((CTRL-CHAR, code {ord(c)})): has to be "
                    "escaped using backslash to be included in string value"
                )
            i += 1
        self.fail("Unexpected end-of-input: was expecting closing quote for a string value")

    def number(self) -> None:
        t, j = self.t, self.i
        while j < len(t) and t[j] in "+-0123456789.eE":
            j += 1
        try:
            float(t[self.i : j])
        except ValueError:
            self.fail(f"Malformed numeric value '{t[self.i : j]}'")
        self.i = j

    def obj(self) -> None:
        self.i += 1
        self.ws()
        t = self.t
        if self.i < len(t) and t[self.i] == "}":
            self.i += 1
            return
        while True:
            self.ws()
            if self.i >= len(t):
                self.eof("Object")
            if t[self.i] != '"':
                self.fail(self.char_msg("was expecting double-quote to start field name"))
            self.string()
            self.ws()
            if self.i >= len(t):
                self.eof("Object")
            if t[self.i] != ":":
                self.fail(self.char_msg("was expecting a colon to separate field name and value"))
            self.i += 1
            self.value()
            self.ws()
            if self.i >= len(t):
                self.eof("Object")
            if t[self.i] == "}":
                self.i += 1
                return
            if t[self.i] != ",":
                self.fail(self.char_msg("was expecting comma to separate Object entries"))
            self.i += 1

    def arr(self) -> None:
        self.i += 1
        self.ws()
        t = self.t
        if self.i < len(t) and t[self.i] == "]":
            self.i += 1
            return
        while True:
            self.value()
            self.ws()
            if self.i >= len(t):
                self.eof("Array")
            if t[self.i] == "]":
                self.i += 1
                return
            if t[self.i] != ",":
                self.fail(self.char_msg("was expecting comma to separate Array entries"))
            self.i += 1


def _jackson_message(text: str) -> str:
    try:
        _Scan(text).value()
    except ValueError as exc:
        return str(exc)
    except RecursionError:
        return "Maximum nesting depth exceeded"
    # The scanner accepted what json refused (e.g. NaN, bad escapes): say so plainly.
    return "Unrecognized JSON content in pattern"
