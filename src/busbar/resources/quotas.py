"""Quotas that hold across every node: a ledger of names per counted thing.

A quota counts resources under several keys (the rules of a bus, the buses of a
scope), and a store offers compare-and-set on one key only.  So each quota keeps
one ledger document, ``{"names": {name: reserved_at}}``: a resource is counted by
adding its name to the ledger (compare-and-set, refused when full) *before* the
resource is written, and uncounted after it is deleted.  Two nodes racing for the
last place cannot both win.

A name whose resource was never written (its creator failed or died in between)
would hold a place forever; a full ledger therefore drops names that have no
resource and were reserved more than :data:`GRACE` seconds ago.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from busbar.resources.kinds import QUOTA
from busbar.store.base import Store

# Seconds a reservation may wait for its resource to be written before it is dropped.
GRACE = 60.0


class QuotaExceeded(Exception):
    """The ledger is full."""


def ledger_key(counted: str, owner: str) -> str:
    """The key of the ledger counting *counted* things (``rule``, ``event-bus``) of *owner*."""
    return f"{counted}:{owner}"


async def reserve(store: Store, counted: str, owner: str, name: str, limit: int, exists: Callable[[str], bool]) -> None:
    """Count *name* in the ledger, or raise QuotaExceeded when *limit* names are counted.
    *exists* tells whether a name's resource exists (for dropping stale reservations)."""

    def add(ledger: dict[str, Any] | None) -> dict[str, Any] | None:
        names: dict[str, float] = dict((ledger or {}).get("names", {}))
        if name in names:
            return ledger
        if len(names) >= limit:
            now = time.time()
            names = {kept: at for kept, at in names.items() if exists(kept) or now - at < GRACE}
            if len(names) >= limit:
                raise QuotaExceeded(owner)
        names[name] = time.time()
        return {"names": names}

    await store.modify(QUOTA, ledger_key(counted, owner), add)


async def release(store: Store, counted: str, owner: str, name: str) -> None:
    """Stop counting *name* (its resource was deleted)."""

    def remove(ledger: dict[str, Any] | None) -> dict[str, Any] | None:
        names = dict((ledger or {}).get("names", {}))
        if name not in names:
            return ledger
        del names[name]
        return {"names": names} if names else None

    await store.modify(QUOTA, ledger_key(counted, owner), remove)
