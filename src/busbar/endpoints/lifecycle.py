"""Settling global endpoints: ``CREATING`` and ``UPDATING`` become ``ACTIVE`` once both
event buses exist (else ``CREATE_FAILED``/``UPDATE_FAILED``, with a ``StateReason`` that
names the missing bus), and a ``DELETING`` endpoint is deleted and uncounted.

The API answers create, update and delete at once, in the transitional state, as AWS
does; this follows the store's changes and settles each endpoint a moment later.  Every
step is a compare-and-set on the endpoint, so the nodes of a cluster may all run it: one
of them wins each step, the others find nothing left to do.  At start it settles what a
stopped server left unsettled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from busbar.resources import quotas
from busbar.resources.endpoints import (
    ACTIVE,
    CREATE_FAILED,
    CREATING,
    DELETING,
    SETTLING,
    UPDATE_FAILED,
    legs,
)
from busbar.resources.kinds import BUS, ENDPOINT
from busbar.resources.scope import scope_of_key
from busbar.store.base import Conflict, NotFound, Store
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.endpoints")

# Seconds before settling again after the store refused a step (it said why, once).
RETRY_DELAY = 1.0


class Lifecycle:
    """Moves endpoints out of their transitional states (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._unwatch: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unwatch = self._store.watch(self._changed)
        for key, endpoint in self._store.list_resources(ENDPOINT):
            if endpoint.get("State") in SETTLING:
                self._schedule(key)

    async def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        await cancel_and_wait(list(self._pending.values()))

    def _changed(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        if kind == ENDPOINT and value is not None and value.get("State") in SETTLING:
            self._schedule(key)

    def _schedule(self, key: str) -> None:
        if key not in self._pending:
            task = asyncio.create_task(self._settle(key), name=f"busbar-endpoint-{key}")
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))

    async def _settle(self, key: str) -> None:
        while True:
            try:
                await self.settle(key)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep settling; the store says why it refused
                log.exception("endpoint could not be settled; trying again", extra={"key": key})
                await asyncio.sleep(RETRY_DELAY)

    async def settle(self, key: str) -> None:
        """Take one endpoint out of its transitional state, if it is in one (reading it again
        when it changed meanwhile: a change made while this runs is settled here too)."""
        while True:
            found = self._store.get_versioned(ENDPOINT, key)
            if found is None or found.value.get("State") not in SETTLING:
                return
            try:
                await self._step(key, found.value, found.revision)
                return
            except (Conflict, NotFound):
                continue

    async def _step(self, key: str, endpoint: dict[str, Any], revision: int) -> None:
        if endpoint["State"] == DELETING:
            await self._store.delete_resource(ENDPOINT, key, revision)
            await quotas.release(self._store, ENDPOINT, scope_of_key(key).prefix, endpoint["Name"])
            log.info("endpoint deleted", extra={"endpoint": endpoint["Arn"]})
            return
        missing = [leg.arn for leg in legs(endpoint) if self._store.get_resource(BUS, leg.key) is None]
        settled = {member: value for member, value in endpoint.items() if member != "StateReason"}
        if missing:
            settled["State"] = CREATE_FAILED if endpoint["State"] == CREATING else UPDATE_FAILED
            settled["StateReason"] = f"Event bus {missing[0]} does not exist."
        else:
            settled["State"] = ACTIVE
        await self._store.update_resource(ENDPOINT, key, settled, revision)
        log.log(
            logging.WARNING if missing else logging.INFO,
            f"endpoint {settled['State']}",
            extra={"endpoint": endpoint["Arn"], "state": settled["State"], "reason": settled.get("StateReason")},
        )
