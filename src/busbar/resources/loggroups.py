"""Where busbar's local log groups live, by name and scope: the embedded store keeps each
as one JSON-lines file under the data directory (:mod:`busbar.store.logfiles`, which owns
the layout).  Log-group targets append to them through the store
(:mod:`busbar.delivery.loggroup`), and so does event bus logging
(:mod:`busbar.observe.buslogs`), into AWS's ``/aws/vendedlogs/events/event-bus/<bus>``."""

from __future__ import annotations

from pathlib import Path

from busbar.resources.scope import Scope
from busbar.store.logfiles import home_log_group_file, log_group_file


def log_group_key(name: str, scope: Scope) -> str:
    """The store's name of a log group: ``account/region/name``."""
    return scope.key(name)


def log_group_path(data_dir: Path, name: str, scope: Scope | None = None, home: Scope | None = None) -> Path:
    """Where the embedded store of a server whose own scope is *home* keeps the lines of the
    log group *name* of *scope* (None: of the server's own scope)."""
    if scope is None or scope == home:
        return home_log_group_file(data_dir, name)
    return log_group_file(data_dir, log_group_key(name, scope))
