"""Quotas as operations meet them: count a new resource in its ledger
(:mod:`busbar.resources.quotas`) or refuse it in AWS's words."""

from __future__ import annotations

from collections.abc import Callable

from busbar.api.errors import LimitExceededException
from busbar.resources import quotas
from busbar.store.base import Store

LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."


async def count_new(
    store: Store, counted: str, owner: str, name: str, limit: int, exists: Callable[[str], bool]
) -> None:
    """Count *name* against the quota of *counted* things of *owner*, or raise
    LimitExceededException (see :func:`busbar.resources.quotas.reserve`)."""
    try:
        await quotas.reserve(store, counted, owner, name, limit, exists)
    except quotas.QuotaExceeded:
        raise LimitExceededException(LIMIT_EXCEEDED) from None
