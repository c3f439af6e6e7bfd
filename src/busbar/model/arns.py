"""Amazon Resource Names of busbar's resources, formatted and parsed as AWS does."""

from __future__ import annotations

import re

_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z]+-[a-z]+-[\w-]+):([0-9]{12}):event-bus/(.+)", re.ASCII)


def bus_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:events:{region}:{account}:event-bus/{name}``."""
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def split_bus_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of an event-bus ARN, or None when *arn* is not one."""
    match = _BUS_ARN.fullmatch(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def rule_arn(region: str, account: str, bus: str, rule: str) -> str:
    """Rule ARNs name the bus only when it is not ``default``."""
    path = rule if bus == "default" else f"{bus}/{rule}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"
