"""Where busbar's local log groups live: one JSON-lines file per log group under the data
directory.  Log-group targets append to them (busbar.delivery.loggroup), and so does
event bus logging (busbar.observe.buslogs), into AWS's ``/aws/vendedlogs/events/event-bus/<bus>``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from busbar.resources.scope import Scope


def log_group_path(data_dir: Path, name: str, scope: Scope | None = None, home: Scope | None = None) -> Path:
    """Where a log group's lines go (the name is quoted: it may contain '/'); log groups of
    a *scope* other than the server's *home* one live in a directory of their scope's."""
    folder = Path(data_dir) / "log-groups"
    if scope is not None and scope != home:
        folder = folder / scope.account / scope.region
    return folder / f"{quote(name, safe='')}.jsonl"
