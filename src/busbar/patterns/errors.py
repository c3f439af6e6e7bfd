"""The one exception of busbar.patterns and the limits that bound what a pattern may ask for."""

from __future__ import annotations

from dataclasses import dataclass

_PREFIX = "Event pattern is not valid. Reason: "


class InvalidEventPattern(ValueError):
    """A pattern that EventBridge would refuse.

    ``message`` (and ``str(exc)``) is AWS's whole message, the one boto3 shows as
    ``Error.Message``: ``"Event pattern is not valid. Reason: <reason>"``, followed, when AWS's
    parser refused the pattern, by its position, ``"\n at [Source: (String)\"<pattern>\"; line:
    L, column: C]"`` (see ``parse``). ``reason`` is the reason alone and ``where`` the position
    part ("" when there is none).
    """

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        self.message = _PREFIX + reason + where
        super().__init__(self.message)


@dataclass(frozen=True)
class PatternLimits:
    """Bounds on one pattern; the defaults are EventBridge's.

    - ``max_pattern_chars``: the EventBridge quota on the pattern's JSON text (2,048 characters).
    - ``max_or_combinations``: how many alternatives ``$or`` may expand to (AWS documents 1,000).
    - ``max_fields``: fields in one expanded alternative (event-ruler refuses rules over 256).
    - ``max_wildcard_complexity``: the most wildcard-pattern prefixes one input may keep alive at
      once on one field (event-ruler's MachineComplexityEvaluator measure; AWS's per-rule limit is
      10). This bounds the work a wildcard can cause per matched value.
    """

    max_pattern_chars: int = 2048
    max_or_combinations: int = 1000
    max_fields: int = 256
    max_wildcard_complexity: int = 10
