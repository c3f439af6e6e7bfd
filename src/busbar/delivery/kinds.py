"""Which kinds of target busbar can deliver to, told from the target's ARN.

busbar delivers to API destinations (HTTP endpoints with a connection's auth),
to event buses of the same account and region, and to log groups (JSON lines
under the data directory).  Any other ARN is refused at PutTargets, so no event
is ever accepted for a target that would silently drop it.
"""

from __future__ import annotations

import re
from enum import StrEnum


class TargetKind(StrEnum):
    API_DESTINATION = "api-destination"
    EVENT_BUS = "event-bus"
    LOG_GROUP = "log-group"


_PATTERNS = {
    TargetKind.API_DESTINATION: re.compile(r"arn:aws[\w-]*:events:([\w-]+):(\d{12}):api-destination/([^/]+)/[^/]+"),
    TargetKind.EVENT_BUS: re.compile(r"arn:aws[\w-]*:events:([\w-]+):(\d{12}):event-bus/(.+)"),
    TargetKind.LOG_GROUP: re.compile(r"arn:aws[\w-]*:logs:([\w-]+):(\d{12}):log-group:([\.\-_/#A-Za-z0-9]+?)(?::\*)?"),
}

SUPPORTED = "API destinations, event buses and CloudWatch log groups"


def target_kind(arn: str) -> tuple[TargetKind, str, str, str] | None:
    """(kind, region, account, resource name) of a target ARN busbar can deliver to, else None."""
    for kind, pattern in _PATTERNS.items():
        match = pattern.fullmatch(arn)
        if match:
            return kind, match.group(1), match.group(2), match.group(3)
    return None
