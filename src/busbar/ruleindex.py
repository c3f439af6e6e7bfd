"""The rules of every bus, compiled for routing: one pattern Matcher per bus and
each rule's targets with their input shaping compiled.

The API updates this index right after every rule write, so routing follows
rule changes without a restart; adding or removing one rule touches only that
rule's entries in its bus's Matcher.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from busbar.patterns import Matcher, PatternLimits
from busbar.transform import TargetInput, compile_target_input

log = logging.getLogger("busbar.rules")

# Rules in these states route events.
_ROUTING_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


@dataclass(frozen=True, slots=True)
class CompiledTarget:
    """A target and its compiled input shaping."""

    config: dict[str, Any]
    shaping: TargetInput
    passthrough: bool  # no Input/InputPath/InputTransformer: the payload is the event itself


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule as routing needs it."""

    bus: str
    name: str
    arn: str
    targets: tuple[CompiledTarget, ...]


class RuleIndex:
    """Compiled rules per bus."""

    def __init__(self, limits: PatternLimits | None = None) -> None:
        self._limits = limits
        self._matchers: dict[str, Matcher] = {}
        self._rules: dict[tuple[str, str], CompiledRule] = {}
        self._per_bus: dict[str, int] = {}  # routing rules per bus

    def load(self, rules: Iterable[dict[str, Any]]) -> None:
        """Compile every stored rule (at start-up)."""
        for rule in rules:
            try:
                self.update(rule)
            except Exception:  # noqa: BLE001 - one bad stored rule must not stop the server
                log.exception("stored rule could not be compiled", extra={"rule": rule.get("Arn")})

    def update(self, rule: dict[str, Any]) -> None:
        """Add or replace one rule (stored document, as the rules API writes it)."""
        bus, name = rule["EventBusName"], rule["Name"]
        matcher = self._matchers.get(bus)
        if matcher is None:
            matcher = self._matchers[bus] = Matcher(self._limits)
        routes = rule.get("State") in _ROUTING_STATES and rule.get("EventPattern") and rule.get("Targets")
        if not routes:
            self.remove(bus, name)
            return
        targets = []
        for target in rule["Targets"]:
            shaping = compile_target_input(target)
            targets.append(CompiledTarget(target, shaping, shaping.mode == "event"))
        matcher.add_rule(name, rule["EventPattern"])
        if (bus, name) not in self._rules:
            self._per_bus[bus] = self._per_bus.get(bus, 0) + 1
        self._rules[(bus, name)] = CompiledRule(bus, name, rule["Arn"], tuple(targets))

    def remove(self, bus: str, name: str) -> None:
        """Stop routing with one rule."""
        if self._rules.pop((bus, name), None) is not None:
            self._matchers[bus].remove_rule(name)
            self._per_bus[bus] -= 1

    def routes(self, bus: str) -> bool:
        """Whether any rule of *bus* routes events (if not, its events need no parsing)."""
        return self._per_bus.get(bus, 0) > 0

    def match(self, bus: str, event: dict[str, Any]) -> list[CompiledRule]:
        """The routing rules of *bus* whose pattern matches *event*."""
        matcher = self._matchers.get(bus)
        if matcher is None:
            return []
        rules = self._rules
        return [rules[(bus, str(name))] for name in matcher.matches(event)]
