"""A target's input shaping, compiled at ``PutTargets`` and rendered per delivery.

    compiled = compile_target_input(target)     # InvalidTargetInput with AWS's message
    body = compiled.render(event, rule_arn=..., rule_name=..., ingestion_time=...)

Four shapes, exactly one per target:
- nothing given: the whole event as JSON;
- ``Input``: that constant JSON text, as is;
- ``InputPath``: the JSON of the part of the event the path selects;
- ``InputTransformer``: ``InputTemplate`` filled with the values ``InputPathsMap`` selects and
  the predefined ``aws.events.*`` variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from .errors import InputRenderError, InvalidTargetInput
from .jsonpath import MISSING, JsonPath, PathSyntaxError, compile_path
from .jsonutil import RawJson, dumps
from .template import (
    EVENT,
    EVENT_JSON,
    INGESTION_TIME,
    RESERVED_PLACEHOLDERS,
    RULE_ARN,
    RULE_NAME,
    Template,
    compile_template,
)

__all__ = ["MAX_INPUT_PATHS", "TargetInput", "compile_target_input"]

MAX_INPUT_PATHS: Final = 100  # InputPathsMap entries, as documented by AWS
_PATHS_MAP_KEY = re.compile(r"[A-Za-z0-9_\-]+")


class TargetInput:
    """How one target's body is made from a matched event; ``render`` runs per delivery.

    ``mode`` names the shape: ``"event"``, ``"input"``, ``"input_path"`` or
    ``"input_transformer"``.
    """

    __slots__ = ("target_id",)
    mode: str = "event"

    def __init__(self, target_id: str) -> None:
        self.target_id = target_id

    def render(
        self,
        event: dict[str, Any],
        *,
        rule_arn: str,
        rule_name: str,
        ingestion_time: str,
        event_json: bytes | None = None,
    ) -> bytes:
        """The body to send for ``event`` (the whole event here).

        ``event_json``, when given, is ``event`` already serialised; it is used unchanged
        wherever the whole event is sent. Raises ``InputRenderError`` when this event cannot be
        shaped as asked (the delivery should be dead-lettered with its message).
        """
        return event_json if event_json is not None else dumps(event)


class _ConstantInput(TargetInput):
    """``Input``: the same JSON text for every event."""

    __slots__ = ("body",)
    mode = "input"

    def __init__(self, target_id: str, text: str) -> None:
        super().__init__(target_id)
        self.body = text.encode()

    def render(
        self,
        event: dict[str, Any],
        *,
        rule_arn: str,
        rule_name: str,
        ingestion_time: str,
        event_json: bytes | None = None,
    ) -> bytes:
        return self.body


class _PathInput(TargetInput):
    """``InputPath``: the JSON of the value the path selects."""

    __slots__ = ("path",)
    mode = "input_path"

    def __init__(self, target_id: str, path: JsonPath) -> None:
        super().__init__(target_id)
        self.path = path

    def render(
        self,
        event: dict[str, Any],
        *,
        rule_arn: str,
        rule_name: str,
        ingestion_time: str,
        event_json: bytes | None = None,
    ) -> bytes:
        if not self.path.steps:  # "$": the whole event, without serialising it again
            return event_json if event_json is not None else dumps(event)
        value = self.path.select(event)
        if value is MISSING:
            # AWS documents nothing for this case; sending null or {} could trigger the
            # target's action with no data, so the delivery fails visibly instead.
            raise InputRenderError(
                f"InputPath {self.path.text} of target {self.target_id} selects nothing in event {event.get('id', '')}."
            )
        return dumps(value)


class _TransformedInput(TargetInput):
    """``InputTransformer``: the template filled with selected and predefined values."""

    __slots__ = ("template", "paths")
    mode = "input_transformer"

    def __init__(self, target_id: str, template: Template, paths: dict[str, JsonPath]) -> None:
        super().__init__(target_id)
        self.template = template
        # Only the paths the template uses are evaluated per event.
        self.paths = {name: paths[name] for name in template.names if name in paths}

    def render(
        self,
        event: dict[str, Any],
        *,
        rule_arn: str,
        rule_name: str,
        ingestion_time: str,
        event_json: bytes | None = None,
    ) -> bytes:
        values: dict[str, Any] = {name: path.select(event) for name, path in self.paths.items()}
        for name in self.template.names:
            if name in values:
                continue
            if name == RULE_ARN:
                values[name] = rule_arn
            elif name == RULE_NAME:
                values[name] = rule_name
            elif name == INGESTION_TIME:
                values[name] = ingestion_time
            elif name == EVENT:
                values[name] = event_envelope(event)
            elif name == EVENT_JSON:
                values[name] = RawJson(event_json) if event_json is not None else event
        return self.template.render(values)


def event_envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """What ``<aws.events.event>`` gives: the event without ``detail``, with ``detail-type``
    named ``detailType`` (AWS: "the original event payload as JSON (without the detail
    field)"; the key name as recorded from AWS)."""
    return {("detailType" if key == "detail-type" else key): value for key, value in event.items() if key != "detail"}


def compile_target_input(target: Mapping[str, Any]) -> TargetInput:
    """Compile a target as given to ``PutTargets`` (``Id``, ``Input``, ``InputPath``,
    ``InputTransformer``); raise ``InvalidTargetInput`` with AWS's message if it is refused."""
    target_id = str(target.get("Id", ""))
    given = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key) is not None]
    if len(given) > 1:
        raise InvalidTargetInput(
            f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}."
        )
    if not given:
        return TargetInput(target_id)
    if given[0] == "Input":
        return _compile_input(target_id, target["Input"])
    if given[0] == "InputPath":
        return _PathInput(target_id, _compile_input_path(target_id, target["InputPath"]))
    return _compile_transformer(target_id, target["InputTransformer"])


def _compile_input(target_id: str, text: Any) -> TargetInput:
    try:
        if not isinstance(text, str):
            raise ValueError(text)
        json.loads(text)
    except ValueError:
        raise InvalidTargetInput(f"Input for target {target_id} is not a valid JSON text.") from None
    return _ConstantInput(target_id, text)


def _compile_input_path(target_id: str, text: Any) -> JsonPath:
    try:
        return compile_path(text)
    except PathSyntaxError as exc:
        raise InvalidTargetInput(f"InputPath for target {target_id} is not a valid JSON path: {exc}.") from None


def _compile_transformer(target_id: str, transformer: Any) -> TargetInput:
    if not isinstance(transformer, Mapping) or not isinstance(transformer.get("InputTemplate"), str):
        raise InvalidTargetInput(f"InputTransformer for target {target_id} must have an InputTemplate.")
    paths_map = transformer.get("InputPathsMap") or {}
    if not isinstance(paths_map, Mapping):
        raise InvalidTargetInput(f"InputPathsMap for target {target_id} must be a map of names to JSON paths.")
    if len(paths_map) > MAX_INPUT_PATHS:
        raise InvalidTargetInput(
            f"InputPathsMap for target {target_id} has {len(paths_map)} entries; at most {MAX_INPUT_PATHS} are allowed."
        )
    paths: dict[str, JsonPath] = {}
    for name, text in paths_map.items():
        if name in RESERVED_PLACEHOLDERS:
            raise InvalidTargetInput(
                f"InputPathsMap for target {target_id} uses the reserved name {name}; the "
                "predefined aws.events.* variables cannot be redefined."
            )
        if not isinstance(name, str) or not _PATHS_MAP_KEY.fullmatch(name):
            raise InvalidTargetInput(
                f"InputPathsMap for target {target_id} has an invalid key {name}; keys must match [A-Za-z0-9_-]+."
            )
        try:
            paths[name] = compile_path(text)
        except PathSyntaxError as exc:
            raise InvalidTargetInput(
                f"InputPathsMap for target {target_id} has an invalid JSON path for {name}: {exc}."
            ) from None
    template = compile_template(transformer["InputTemplate"], target_id, paths)
    return _TransformedInput(target_id, template, paths)
