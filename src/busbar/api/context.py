"""What every operation is given: the settings, the store, the rule index, a clock,
and the scope (account and region) the request acts in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from busbar.config import Settings
from busbar.model.entries import Clock
from busbar.ratelimit import TokenBucket
from busbar.resources.scope import Scope
from busbar.resources.secretbox import SecretBox
from busbar.ruleindex import RuleIndex
from busbar.store.base import Store


@dataclass
class Context:
    """The state an operation may use: one per server, and one per other scope requests act in."""

    settings: Settings
    store: Store
    rules: RuleIndex
    scope: Scope
    clock: Clock = field(default_factory=Clock)
    # Seals connection secrets before they reach the store (a server passes the one its key file opens).
    secrets: SecretBox = field(default_factory=SecretBox.ephemeral)
    _scoped: dict[Scope, Context] = field(default_factory=dict, repr=False)

    @cached_property
    def put_events_bucket(self) -> TokenBucket | None:
        """The PutEvents rate limit, or None when unlimited (one per scope, as AWS's quota)."""
        rate = self.settings.limits.put_events_per_second
        return TokenBucket(rate) if rate > 0 else None

    @property
    def region(self) -> str:
        return self.scope.region

    @property
    def account(self) -> str:
        return self.scope.account

    def in_scope(self, scope: Scope) -> Context:
        """The context of a request acting in *scope* (made once per scope)."""
        if scope == self.scope:
            return self
        found = self._scoped.get(scope)
        if found is None:
            found = self._scoped[scope] = replace(self, scope=scope, _scoped=self._scoped)
        return found
