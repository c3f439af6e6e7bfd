"""What every operation is given: the settings, the store and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from busbar.config import Settings
from busbar.model.entries import Clock
from busbar.store.base import Store


@dataclass
class Context:
    """The state an operation may use; one per server."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=Clock)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def account(self) -> str:
        return self.settings.account_id
