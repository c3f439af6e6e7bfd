"""The rules of every bus, compiled for routing: one pattern Matcher per bus and
each rule's targets with their input shaping compiled and their ARN parsed.

The index follows the store's changes (:meth:`RuleIndex.follow`): a rule written
through any node routes on every node, without a restart, and on the node that
wrote it before the write is answered.  Adding or removing one rule touches only
that rule's entries in its bus's Matcher.  Buses are named by their store keys
(``account/region/bus``, see :mod:`busbar.resources.kinds`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from busbar.model.arns import TargetArn, TargetKind, parse_target
from busbar.patterns import Matcher, PatternLimits
from busbar.resources.kinds import RULE
from busbar.store.base import Store
from busbar.transform import TargetInput, compile_target_input

log = logging.getLogger("busbar.rules")

# Rules in these states route events.
_ROUTING_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


@dataclass(frozen=True, slots=True)
class CompiledTarget:
    """A target and its compiled input shaping."""

    config: dict[str, Any]
    arn: TargetArn | None  # None only for a stored target of a kind this busbar no longer knows
    shaping: TargetInput
    passthrough: bool  # no Input/InputPath/InputTransformer: the payload is the event itself
    forwards: bool  # an event bus: the event is copied onto another bus


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule as routing needs it."""

    bus: str
    name: str
    arn: str
    targets: tuple[CompiledTarget, ...]
    forwards: int  # how many of the targets are event buses


class RuleIndex:
    """Compiled rules per bus: those with a pattern in their bus's Matcher, and every
    routing rule by ARN (a schedule tick or a replay names the rules it is for)."""

    def __init__(self, limits: PatternLimits | None = None) -> None:
        self._limits = limits
        self._matchers: dict[str, Matcher] = {}
        self._rules: dict[tuple[str, str], CompiledRule] = {}
        self._by_arn: dict[str, CompiledRule] = {}
        self._matched: set[tuple[str, str]] = set()  # rules in their bus's Matcher
        self._per_bus: dict[str, int] = {}  # rules in each bus's Matcher

    def follow(self, store: Store) -> None:
        """Compile every stored rule, then follow every change of a rule in *store*."""
        self.load(store.list_resources(RULE))
        store.watch(self._changed)

    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind != RULE:
            return
        if value is None:
            bus, name = key.rsplit("/", 1)
            self.remove(bus, name)
        else:
            self.load([(key, value)])

    def load(self, rules: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Compile stored rules, given as (store key, rule)."""
        for key, rule in rules:
            try:
                self.update(key.rsplit("/", 1)[0], rule)
            except Exception:  # noqa: BLE001 - one bad stored rule must not stop the server
                log.exception("stored rule could not be compiled", extra={"rule": rule.get("Arn")})

    def update(self, bus: str, rule: dict[str, Any]) -> None:
        """Add or replace one rule of the bus whose store key is *bus* (the stored document,
        as the rules API writes it)."""
        name = rule["Name"]
        if not (rule.get("State") in _ROUTING_STATES and rule.get("Targets")):
            self.remove(bus, name)
            return
        targets = []
        for target in rule["Targets"]:
            shaping = compile_target_input(target)
            arn = parse_target(target["Arn"])
            forwards = arn is not None and arn.kind is TargetKind.EVENT_BUS
            targets.append(CompiledTarget(target, arn, shaping, shaping.mode == "event", forwards))
        compiled = CompiledRule(bus, name, rule["Arn"], tuple(targets), sum(t.forwards for t in targets))
        pattern = rule.get("EventPattern")
        if pattern:
            matcher = self._matchers.get(bus)
            if matcher is None:
                matcher = self._matchers[bus] = Matcher(self._limits)
            matcher.add_rule(name, pattern)
            if (bus, name) not in self._matched:
                self._matched.add((bus, name))
                self._per_bus[bus] = self._per_bus.get(bus, 0) + 1
        else:
            self._unmatch(bus, name)  # a schedule-only rule: fired by its ticks alone
        old = self._rules.get((bus, name))
        if old is not None and old.arn != compiled.arn:
            self._by_arn.pop(old.arn, None)
        self._rules[(bus, name)] = compiled
        self._by_arn[compiled.arn] = compiled

    def _unmatch(self, bus: str, name: str) -> None:
        if (bus, name) in self._matched:
            self._matched.discard((bus, name))
            self._matchers[bus].remove_rule(name)
            self._per_bus[bus] -= 1

    def remove(self, bus: str, name: str) -> None:
        """Stop routing with one rule."""
        old = self._rules.pop((bus, name), None)
        if old is not None:
            self._by_arn.pop(old.arn, None)
        self._unmatch(bus, name)

    def routes(self, bus: str) -> bool:
        """Whether any rule of *bus* matches events (if not, its events need no parsing)."""
        return self._per_bus.get(bus, 0) > 0

    def match(self, bus: str, event: dict[str, Any]) -> list[CompiledRule]:
        """The routing rules of *bus* whose pattern matches *event*."""
        matcher = self._matchers.get(bus)
        if matcher is None:
            return []
        rules = self._rules
        return [rules[(bus, str(name))] for name in matcher.matches(event)]

    def by_arn(self, arn: str) -> CompiledRule | None:
        """The routing rule (enabled, with targets) whose ARN is *arn*, pattern or not."""
        return self._by_arn.get(arn)
