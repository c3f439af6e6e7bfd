"""What every operation is given: the settings, the store and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from busbar.config import Settings
from busbar.model.entries import Clock
from busbar.ratelimit import TokenBucket
from busbar.ruleindex import RuleIndex
from busbar.secretbox import SecretBox
from busbar.store.base import Store


@dataclass
class Context:
    """The state an operation may use; one per server."""

    settings: Settings
    store: Store
    rules: RuleIndex
    clock: Clock = field(default_factory=Clock)
    # Seals connection secrets before they reach the store (a server passes the one its key file opens).
    secrets: SecretBox = field(default_factory=SecretBox.ephemeral)

    @cached_property
    def put_events_bucket(self) -> TokenBucket | None:
        """The PutEvents rate limit, or None when unlimited."""
        rate = self.settings.limits.put_events_per_second
        return TokenBucket(rate) if rate > 0 else None

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def account(self) -> str:
        return self.settings.account_id
