"""busbar.transform: the body a target receives, shaped as EventBridge shapes it.

    from busbar.transform import compile_target_input
    compiled = compile_target_input({"Id": "t1", "Arn": arn, "InputPath": "$.detail"})
    body = compiled.render(event, rule_arn=..., rule_name=..., ingestion_time=...)

``compile_target_input`` runs at ``PutTargets`` and raises ``InvalidTargetInput`` with AWS's
message; ``render`` runs per delivery and raises ``InputRenderError`` when one event cannot be
shaped (the delivery should then be dead-lettered with that message). Pure: no I/O.
"""

from __future__ import annotations

from .errors import InputRenderError, InvalidTargetInput
from .jsonpath import MISSING, JsonPath, PathSyntaxError, compile_path
from .target_input import MAX_INPUT_PATHS, TargetInput, compile_target_input, event_envelope
from .template import RESERVED_PLACEHOLDERS, Template, compile_template

__all__ = [
    "InputRenderError",
    "InvalidTargetInput",
    "JsonPath",
    "MAX_INPUT_PATHS",
    "MISSING",
    "PathSyntaxError",
    "RESERVED_PLACEHOLDERS",
    "TargetInput",
    "Template",
    "compile_path",
    "compile_target_input",
    "compile_template",
    "event_envelope",
]
