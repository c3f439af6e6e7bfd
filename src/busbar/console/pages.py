"""The console's resource pages: event buses, their rules and targets, connections and
API destinations (never a secret), archives and replays when there are any, the
metrics charts and the event bus logs.  All read the store's resources as the API
keeps them; nothing here writes."""

from __future__ import annotations

import asyncio
import collections
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from busbar.api.connections import public_auth
from busbar.console import charts
from busbar.observe.buslogs import bus_log_group, records_of
from busbar.resources import kinds
from busbar.resources.kinds import API_DESTINATION, BUS, CONNECTION, RULE
from busbar.resources.scope import name_of_key, scope_of_key

if TYPE_CHECKING:
    from busbar.console.app import Console

# Defaults AWS applies to a target without a RetryPolicy (busbar.delivery.retry).
DEFAULT_RETRIES, DEFAULT_AGE = 185, 86400
# The most bus log records a page shows (the newest).
LOG_RECORDS = 500


def routes(console: Console) -> list[BaseRoute]:
    pages = Pages(console)
    guard = console.guard
    return [
        Route("/", guard(pages.buses)),
        Route("/buses/{key:path}", guard(pages.bus)),
        Route("/rules/{key:path}", guard(pages.rule)),
        Route("/connections", guard(pages.connections)),
        Route("/archives", guard(pages.archives)),
        Route("/metrics", guard(pages.metrics)),
        Route("/logs", guard(pages.logs)),
    ]


class Pages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.store = console.store
        # The newest records of each bus log read so far, and where reading goes on.
        self._tails: dict[str, tuple[int, collections.deque[dict[str, Any]]]] = {}

    def _log_tail(self, group: str) -> list[dict[str, Any]]:
        """The newest records of a log group, oldest first (read on from where the last view
        stopped; blocking)."""
        after, newest = self._tails.get(group, (0, collections.deque(maxlen=LOG_RECORDS)))
        while True:
            lines = self.store.read_log_lines(group, after, 1000)
            newest.extend(records_of(lines))
            if lines:
                after = lines[-1].position
            if len(lines) < 1000:
                break
        self._tails[group] = (after, newest)
        return list(newest)

    async def buses(self, request: Request) -> Response:
        rows = []
        for key, bus in self.store.list_resources(BUS):
            scope = scope_of_key(key)
            rules = self.store.list_resources(RULE, key + "/")
            rows.append(
                {
                    "key": key,
                    "name": bus["Name"],
                    "arn": bus["Arn"],
                    "account": scope.account,
                    "region": scope.region,
                    "rules": len(rules),
                    "log_level": (bus.get("LogConfig") or {}).get("Level", "OFF"),
                    "description": bus.get("Description", ""),
                }
            )
        history = self.console.observer.history
        counts = await asyncio.to_thread(self.store.delivery_counts)
        return self.console.render(
            request,
            "buses.html",
            "buses",
            buses=rows,
            charts=[charts.svg(series) for series in history.series()] if history else [],
            pending=sum(n for (state, _), n in counts.items() if state == "pending"),
            dead=sum(n for (state, _), n in counts.items() if state == "dead"),
            has_archives=bool(_archive_kinds(self.store)),
        )

    async def bus(self, request: Request) -> Response:
        key = request.path_params["key"]
        bus = self.store.get_resource(BUS, key)
        if bus is None:
            return self.console.render(request, "missing.html", "buses", status=404, what=f"Event bus {key}")
        rules = []
        for rule_key, rule in self.store.list_resources(RULE, key + "/"):
            rules.append(
                {
                    "key": rule_key,
                    "name": rule["Name"],
                    "state": rule.get("State", "ENABLED"),
                    "pattern": _compact(rule.get("EventPattern")),
                    "schedule": rule.get("ScheduleExpression", ""),
                    "targets": len(rule.get("Targets") or []),
                }
            )
        return self.console.render(
            request,
            "bus.html",
            "buses",
            key=key,
            bus=bus,
            name=bus["Name"],
            rules=rules,
            log_config=bus.get("LogConfig"),
            dead_letter=(bus.get("DeadLetterConfig") or {}).get("Arn"),
            policy=_pretty(bus.get("Policy")),
        )

    async def rule(self, request: Request) -> Response:
        key = request.path_params["key"]
        rule = self.store.get_resource(RULE, key)
        if rule is None:
            return self.console.render(request, "missing.html", "buses", status=404, what=f"Rule {key}")
        bus_key = key.rsplit("/", 1)[0]
        targets = [_target(target) for target in rule.get("Targets") or []]
        return self.console.render(
            request,
            "rule.html",
            "buses",
            key=key,
            bus_key=bus_key,
            bus_name=name_of_key(bus_key),
            rule=rule,
            pattern=_pretty(rule.get("EventPattern")),
            targets=targets,
        )

    async def connections(self, request: Request) -> Response:
        connections = []
        for key, connection in self.store.list_resources(CONNECTION):
            connections.append(
                {
                    "name": connection["Name"],
                    "arn": connection["ConnectionArn"],
                    "scope": _scope_text(key),
                    "type": connection.get("AuthorizationType"),
                    "state": connection.get("ConnectionState"),
                    "reason": connection.get("StateReason", ""),
                    # Names and endpoints only: public_auth drops every credential, as Describe does.
                    "auth": json.dumps(public_auth(connection.get("AuthParameters") or {}), indent=2),
                }
            )
        destinations = []
        for key, destination in self.store.list_resources(API_DESTINATION):
            destinations.append(
                {
                    "name": destination["Name"],
                    "arn": destination["ApiDestinationArn"],
                    "scope": _scope_text(key),
                    "endpoint": destination.get("InvocationEndpoint"),
                    "method": destination.get("HttpMethod"),
                    "rate": destination.get("InvocationRateLimitPerSecond"),
                    "state": destination.get("ApiDestinationState"),
                    "connection": destination.get("ConnectionArn"),
                }
            )
        return self.console.render(
            request, "connections.html", "connections", connections=connections, destinations=destinations
        )

    async def archives(self, request: Request) -> Response:
        """Archives and replays, when this busbar has them (their kinds come with that feature)."""
        sections = []
        for title, kind in _archive_kinds(self.store):
            items = [_pretty_flat(doc) for _, doc in self.store.list_resources(kind)]
            sections.append({"title": title, "items": items})
        return self.console.render(request, "archives.html", "buses", sections=sections)

    async def metrics(self, request: Request) -> Response:
        history = self.console.observer.history
        return self.console.render(
            request,
            "metrics.html",
            "metrics",
            enabled=history is not None,
            charts=[charts.svg(series) for series in history.series()] if history else [],
            every=int(history.every) if history else 0,
        )

    async def logs(self, request: Request) -> Response:
        buses = [(key, bus) for key, bus in self.store.list_resources(BUS)]
        chosen = request.query_params.get("bus") or (buses[0][0] if buses else "")
        bus = self.store.get_resource(BUS, chosen) if chosen else None
        records: list[dict[str, Any]] = []
        if bus is not None:
            records = (await asyncio.to_thread(self._log_tail, bus_log_group(chosen)))[::-1]
        return self.console.render(
            request,
            "logs.html",
            "logs",
            buses=[(key, _scope_text(key)) for key, _ in buses],
            chosen=chosen,
            log_config=(bus or {}).get("LogConfig"),
            records=[(record, json.dumps(record, indent=2)) for record in records],
        )


def _target(target: dict[str, Any]) -> dict[str, Any]:
    policy = target.get("RetryPolicy") or {}
    shaping = {key: target[key] for key in ("Input", "InputPath", "InputTransformer") if key in target}
    extra = {
        key: value
        for key, value in target.items()
        if key not in ("Id", "Arn", "RoleArn", "RetryPolicy", "DeadLetterConfig", "Input", "InputPath")
        and key != "InputTransformer"
    }
    return {
        "id": target["Id"],
        "arn": target["Arn"],
        "role": target.get("RoleArn", ""),
        "retries": policy.get("MaximumRetryAttempts", DEFAULT_RETRIES),
        "max_age": policy.get("MaximumEventAgeInSeconds", DEFAULT_AGE),
        "default_policy": not policy,
        "dead_letter": (target.get("DeadLetterConfig") or {}).get("Arn", ""),
        "shaping": json.dumps(shaping, indent=2) if shaping else "",
        "extra": json.dumps(extra, indent=2) if extra else "",
    }


def _archive_kinds(store: Any) -> list[tuple[str, str]]:
    """(title, resource kind) of archives and replays, if this busbar keeps them."""
    found = []
    for title, name in (("Archives", "ARCHIVE"), ("Replays", "REPLAY")):
        kind = getattr(kinds, name, None)
        if isinstance(kind, str) and store.list_resources(kind):
            found.append((title, kind))
    return found


def _pretty(text: Any) -> str:
    """JSON text (a pattern, a policy) indented for reading; other text as it is."""
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text) if isinstance(text, str) else text, indent=2)
    except ValueError:
        return str(text)


def _compact(text: Any) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), separators=(", ", ": "))
    except ValueError:
        return str(text)


def _pretty_flat(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, default=str)


def _scope_text(key: str) -> str:
    scope = scope_of_key(key)
    return f"{scope.account} {scope.region}"
