"""Log-group targets: each delivered payload becomes one JSON line of its log group,
kept by the store (:meth:`Store.append_log_lines`), so the lines are readable in one
place whichever node delivered them (``busbar log-groups tail NAME``).  The embedded
store writes them to ``<data-dir>/log-groups/<log group name, URL-quoted>.jsonl`` (log
groups of the server's own ``--account-id`` and ``--region``) or
``<data-dir>/log-groups/<account>/<region>/<name, URL-quoted>.jsonl`` (others)."""

from __future__ import annotations

import logging

import orjson

from busbar.delivery.base import Delivery, Outcome
from busbar.observe.shapes import delivery_fields
from busbar.resources.loggroups import log_group_key, log_group_path
from busbar.resources.scope import Scope
from busbar.store.base import Store, Unavailable

__all__ = ["LogGroupSender", "log_group_path"]

log = logging.getLogger("busbar.delivery")


class LogGroupSender:
    """Appends payloads to log groups, one JSON line each."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def send(self, delivery: Delivery) -> Outcome:
        assert delivery.to is not None
        name = delivery.to.name
        payload = delivery.payload
        try:
            line = orjson.dumps(orjson.loads(payload))  # one line, whatever the template's layout
        except orjson.JSONDecodeError:
            line = orjson.dumps(payload.decode("utf-8", "replace"))  # plain text becomes a JSON string
        group = log_group_key(name, Scope(delivery.to.account, delivery.to.region))
        try:
            await self._store.append_log_lines(group, [line])
        except (OSError, Unavailable) as error:
            # The message names the log group, never a path of the server's machine.
            reason = error.strerror if isinstance(error, OSError) and error.strerror else "the store is unavailable"
            log.warning(
                "log group write failed", extra={**delivery_fields(delivery), "log_group": name, "error": str(error)}
            )
            return Outcome.retry("LogGroupWriteFailed", f"Could not write to log group {name}: {reason}")
        return Outcome.success()

    async def close(self) -> None:
        pass
