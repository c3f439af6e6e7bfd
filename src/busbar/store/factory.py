"""The store a server's settings ask for: the embedded SQLite store, or NATS JetStream."""

from __future__ import annotations

from busbar.config import Settings
from busbar.store.base import Store
from busbar.store.sqlite import SqliteStore


def make_store(settings: Settings) -> Store:
    """A store (not started) for ``--store``."""
    if settings.clustered:
        from busbar.store.nats import NatsOptions, NatsStore  # nats-py is loaded only when used

        return NatsStore(NatsOptions.from_settings(settings))
    return SqliteStore(settings.data_dir, settings.sync, home=(settings.account_id, settings.region))
