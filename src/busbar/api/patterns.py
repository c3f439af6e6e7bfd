"""TestEventPattern: does an event match a pattern, answered by the same matcher
that routes events."""

from __future__ import annotations

from typing import Any

import orjson

from busbar.api.context import Context
from busbar.api.errors import InvalidEventPatternException, ValidationException

# The fields EventBridge insists on in TestEventPattern's Event.
_MANDATORY = ("id", "account", "source", "time", "region", "detail-type")


def compile_pattern(ctx: Context, pattern: str) -> Any:
    """The compiled pattern, or InvalidEventPatternException with AWS's message."""
    from busbar.patterns import InvalidEventPattern, PatternLimits, validate

    try:
        return validate(pattern, PatternLimits(max_pattern_chars=ctx.settings.limits.max_pattern_chars))
    except InvalidEventPattern as error:
        raise InvalidEventPatternException(str(error)) from None


async def test_event_pattern(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    from busbar.patterns import pattern_matches

    compiled = compile_pattern(ctx, body["EventPattern"])
    try:
        event = orjson.loads(body["Event"])
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict) or any(field not in event for field in _MANDATORY):
        raise ValidationException("Parameter Event is not valid.")
    return {"Result": pattern_matches(compiled, event)}
