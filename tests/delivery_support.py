"""Helpers for delivery tests: API destinations pointing at a local HttpTarget,
rules with targets, and reading log-group files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from busbar.delivery.loggroup import log_group_path
from busbar.resources.scope import Scope
from busbar.store.sqlite import SqliteStore

from support import ACCOUNT, REGION, BusbarProcess, unique


def api_destination(
    client: Any,
    endpoint: str,
    *,
    method: str = "POST",
    rate: int | None = None,
    auth: tuple[str, dict[str, Any]] | None = None,
) -> str:
    """Create a connection (API key by default) and an API destination; return its ARN."""
    kind, params = auth or (
        "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret-key"}},
    )
    connection = client.create_connection(Name=unique("conn"), AuthorizationType=kind, AuthParameters=params)[
        "ConnectionArn"
    ]
    kwargs: dict[str, Any] = {
        "Name": unique("dest"),
        "ConnectionArn": connection,
        "InvocationEndpoint": endpoint,
        "HttpMethod": method,
    }
    if rate is not None:
        kwargs["InvocationRateLimitPerSecond"] = rate
    return client.create_api_destination(**kwargs)["ApiDestinationArn"]


def rule_with_targets(client: Any, pattern: dict[str, Any], targets: list[dict[str, Any]], bus: str = "default") -> str:
    name = unique("rule")
    client.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus)
    client.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return name


def log_group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def bus_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def read_log_group(
    server: BusbarProcess, name: str, count: int, timeout: float = 15.0, region: str = REGION, account: str = ACCOUNT
) -> list[Any]:
    """Wait until the log group (of *account* and *region*) of *server*'s store holds *count*
    lines; return them parsed (the embedded store: its file, as a person would read it; NATS:
    its stream)."""
    deadline = time.monotonic() + timeout
    lines: list[Any] = []
    store = server.store()
    group = f"{account}/{region}/{name}"
    if isinstance(store, SqliteStore):  # the file itself, where the README says it is
        path = log_group_path(server.data_dir, name, Scope(account, region), Scope(ACCOUNT, REGION))
    try:
        while time.monotonic() < deadline:
            if isinstance(store, SqliteStore):
                if path.exists():
                    lines = [json.loads(line) for line in path.read_text().splitlines()]
            else:
                lines = [json.loads(found.line) for found in store.read_log_lines(group, 0, 100_000)]
            if len(lines) >= count:
                return lines
            time.sleep(0.02)
    finally:
        closing = getattr(store, "close_reads", None)
        if closing is not None:
            closing()
    raise AssertionError(f"log group {name} has {len(lines)} lines, expected {count}")


def put(client: Any, detail: dict[str, Any], source: str = "shop.orders", bus: str = "default", **extra: Any) -> str:
    answer = client.put_events(
        Entries=[
            {"Source": source, "DetailType": "OrderPlaced", "Detail": json.dumps(detail), "EventBusName": bus, **extra}
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer
    return answer["Entries"][0]["EventId"]


def dead_letters_of(server: BusbarProcess, event_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until ``busbar dead-letters list`` shows deliveries of *event_id*; return them."""
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run(
            [sys.executable, "-m", "busbar", "dead-letters", "list", *server.store_args()],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        dead = [line for line in map(json.loads, listed.splitlines()) if line["event_id"] == event_id]
        if dead or time.monotonic() > deadline:
            return dead
        time.sleep(0.1)


def stored_events(server: BusbarProcess) -> list[dict[str, Any]]:
    """Every event the log of *server*'s store holds, oldest first (``busbar events``)."""
    printed = subprocess.run(
        [sys.executable, "-m", "busbar", "events", *server.store_args(), "--limit", "1000000"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line)["event"] for line in printed.splitlines()]
