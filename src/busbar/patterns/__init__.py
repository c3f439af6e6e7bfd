"""busbar.patterns: Amazon EventBridge's event-pattern language as a pure Python library.

    from busbar.patterns import validate, pattern_matches, Matcher

    validate('{"source": ["shop"]}')                 # CompiledPattern, or InvalidEventPattern
    pattern_matches({"source": ["shop"]}, event)      # one pattern, one event (TestEventPattern)
    m = Matcher(); m.add_rule("bus/r1", pattern); m.matches(event)  # many rules, indexed

No I/O; nothing here imports the server, the store or delivery.
"""

from __future__ import annotations

from typing import Any

from .compile import CompiledPattern, compile_pattern
from .errors import InvalidEventPattern, PatternLimits
from .evaluate import matches_compiled
from .events import EventNotObject, parse_event
from .matcher import Matcher

__all__ = [
    "CompiledPattern",
    "EventNotObject",
    "InvalidEventPattern",
    "Matcher",
    "PatternLimits",
    "pattern_matches",
    "validate",
]


def validate(pattern: str | bytes | dict[str, Any], limits: PatternLimits | None = None) -> CompiledPattern:
    """Compile ``pattern``; raise ``InvalidEventPattern`` with AWS's message if EventBridge would
    refuse it."""
    return compile_pattern(pattern, limits)


def pattern_matches(
    pattern: str | bytes | dict[str, Any] | CompiledPattern, event: dict[str, Any] | str | bytes
) -> bool:
    """Does ``event`` match ``pattern``? Validates the pattern first (``InvalidEventPattern``);
    an event that is not a JSON object raises ``EventNotObject``."""
    return matches_compiled(compile_pattern(pattern), parse_event(event))
