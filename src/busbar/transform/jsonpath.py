"""The JSONPath subset EventBridge accepts in ``InputPath`` and ``InputPathsMap``.

AWS documents the supported syntax as dot notation, dashes, underscores, alphanumeric
characters, forward slashes, array indices and wildcards (``*``); ``InputPath`` also accepts
bracket notation. So a path is ``$`` followed by steps:

    .name   ['name']   ["name"]   [3]   .*   [*]

Filters, slices, unions and recursive descent (``..``) are refused when the target is put,
never at delivery. A path is parsed once (``compile_path``) and then only walked.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["MISSING", "JsonPath", "PathSyntaxError", "compile_path"]


class _Missing:
    """The result of a path that selects nothing (distinct from a JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class PathSyntaxError(ValueError):
    """The text is not a JSONPath that EventBridge supports; the message says where."""


class _Wildcard:
    """The ``*`` step: every element of an array or every value of an object."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"


WILDCARD: Final = _Wildcard()

Step = str | int | _Wildcard

# A dotted name runs to the next '.' or '['; quotes, brackets, whitespace and '*' cannot be
# part of it (those need bracket notation, or are other steps).
_DOT_NAME = re.compile(r"[^.\[\]\s'\"*]+")
_INDEX = re.compile(r"\[(\d+)\]")


class JsonPath:
    """A compiled path: ``select(document)`` gives the selected value or ``MISSING``.

    A path with a wildcard selects a list of every match (``MISSING`` when nothing matches);
    a path without one selects a single value.
    """

    __slots__ = ("text", "steps", "has_wildcard")

    def __init__(self, text: str, steps: tuple[Step, ...]) -> None:
        self.text = text
        self.steps = steps
        self.has_wildcard = any(step is WILDCARD for step in steps)

    def __repr__(self) -> str:
        return f"JsonPath({self.text!r})"

    def select(self, document: Any) -> Any:
        """The value at this path in ``document`` (parsed JSON), or ``MISSING``."""
        if self.has_wildcard:
            found: list[Any] = []
            _collect(document, self.steps, 0, found)
            return found if found else MISSING
        node = document
        for step in self.steps:
            # type() checks, not isinstance: bool is an int but never an index, and a JSON
            # document only holds plain dicts and lists.
            if type(step) is str:
                if type(node) is not dict:
                    return MISSING
                node = node.get(step, MISSING)
                if node is MISSING:
                    return MISSING
            else:
                if type(node) is not list or step >= len(node):  # type: ignore[operator]
                    return MISSING
                node = node[step]  # type: ignore[index]
        return node


def _collect(node: Any, steps: tuple[Step, ...], at: int, found: list[Any]) -> None:
    """Append to ``found`` every value that ``steps[at:]`` selects from ``node``."""
    if at == len(steps):
        found.append(node)
        return
    step = steps[at]
    if step is WILDCARD:
        if type(node) is dict:
            children: Any = node.values()
        elif type(node) is list:
            children = node
        else:
            return
        for child in children:
            _collect(child, steps, at + 1, found)
    elif type(step) is str:
        if type(node) is dict and step in node:
            _collect(node[step], steps, at + 1, found)
    elif type(node) is list and step < len(node):  # type: ignore[operator]
        _collect(node[step], steps, at + 1, found)  # type: ignore[index]


def compile_path(text: str) -> JsonPath:
    """Parse ``text``; raise ``PathSyntaxError`` if EventBridge's JSONPath subset has no such path."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError("a JSONPath starts with '$'")
    steps: list[Step] = []
    i, end = 1, len(text)
    while i < end:
        char = text[i]
        if char == ".":
            if text.startswith("*", i + 1):
                steps.append(WILDCARD)
                i += 2
                continue
            match = _DOT_NAME.match(text, i + 1)
            if match is None:
                raise PathSyntaxError(f"expected a name after '.' at position {i}")
            steps.append(match.group())
            i = match.end()
        elif char == "[":
            if text.startswith("[*]", i):
                steps.append(WILDCARD)
                i += 3
                continue
            match = _INDEX.match(text, i)
            if match is not None:
                steps.append(int(match.group(1)))
                i = match.end()
                continue
            name, i = _quoted_name(text, i + 1)
            if not text.startswith("]", i):
                raise PathSyntaxError(f"expected ']' at position {i}")
            steps.append(name)
            i += 1
        else:
            raise PathSyntaxError(f"unexpected {char!r} at position {i}")
    return JsonPath(text, tuple(steps))


def _quoted_name(text: str, i: int) -> tuple[str, int]:
    """Read a quoted name starting at ``text[i]``; return it and the index after its quote."""
    if i >= len(text) or text[i] not in "'\"":
        raise PathSyntaxError(f"expected an index, '*' or a quoted name at position {i}")
    quote = text[i]
    out: list[str] = []
    i += 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif char == quote:
            if not out:
                raise PathSyntaxError(f"empty name at position {i}")
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise PathSyntaxError("unterminated quoted name")
