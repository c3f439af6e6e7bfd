"""IAM's wildcard matching of names and ARNs (``*`` any run of characters, ``?`` one)."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether *value* matches *pattern* as a whole, ``*`` and ``?`` being wildcards."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ``ArnLike`` and ``Resource`` matching: ``*`` matches every ARN; otherwise each of
    the six colon-separated parts is matched on its own (the last one may hold colons)."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(given) == 6 and all(like(w, g) for w, g in zip(wanted, given, strict=True))


def action_like(pattern: str, action: str) -> bool:
    """IAM's ``Action`` matching: case-insensitive, with wildcards (``events:Put*``, ``*``)."""
    return like(pattern, action, ignore_case=True)
