"""Finding resources by name or ARN, without answering errors (the API adds those).

Connections and API destinations are named by ARNs that carry a uuid: one deleted
and created again under the same name gets another ARN, so an old ARN finds
nothing — a deleted resource's users must not reach its successor.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from busbar.model import arns
from busbar.resources.kinds import API_DESTINATION, ARCHIVE, BUS, CONNECTION, RULE, bus_key, rule_key, rules_prefix
from busbar.resources.scope import Scope
from busbar.store.base import Store


def find_bus(store: Store, scope: Scope, name: str) -> dict[str, Any] | None:
    """The bus *name* of *scope*, or None."""
    return store.get_resource(BUS, bus_key(scope, name))


def find_bus_by_arn(store: Store, arn: str) -> tuple[str, dict[str, Any]] | None:
    """(key, bus) of the bus an event-bus ARN names, or None."""
    parts = arns.parse_events(arn, "event-bus")
    if parts is None:
        return None
    key = bus_key(Scope(parts.account, parts.region), parts.name)
    bus = store.get_resource(BUS, key)
    return (key, bus) if bus is not None else None


def find_rule(store: Store, scope: Scope, bus: str, name: str) -> dict[str, Any] | None:
    """The rule *name* of bus *bus* in *scope*, or None."""
    return store.get_resource(RULE, rule_key(scope, bus, name))


def rules_of_bus(store: Store, scope: Scope, bus: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, rule) of every rule of one bus, sorted by name."""
    prefix = rules_prefix(scope, bus)
    return [(key[len(prefix) :], rule) for key, rule in store.list_resources(RULE, prefix)]


@lru_cache(maxsize=4096)
def _named_key(kind: str, arn: str) -> str | None:
    """The store key of the resource of *kind* an ARN with a uuid names (every delivery to
    an API destination looks it and its connection up: the key is worked out once)."""
    parts = arns.parse_events(arn, kind)
    return Scope(parts.account, parts.region).key(parts.name) if parts is not None else None


def _find_named(store: Store, kind: str, arn: str, arn_field: str) -> dict[str, Any] | None:
    key = _named_key(kind, arn)
    if key is None:
        return None
    found = store.get_resource(kind, key)
    return found if found is not None and found[arn_field] == arn else None


def find_connection(store: Store, arn: str) -> dict[str, Any] | None:
    """The connection *arn* names, or None (see the module docstring)."""
    return _find_named(store, CONNECTION, arn, "ConnectionArn")


def find_api_destination(store: Store, arn: str) -> dict[str, Any] | None:
    """The API destination *arn* names, or None (see the module docstring)."""
    return _find_named(store, API_DESTINATION, arn, "ApiDestinationArn")


def find_archive_by_arn(store: Store, arn: str) -> dict[str, Any] | None:
    """The archive an archive ARN names, or None."""
    parts = arns.parse_events(arn, "archive")
    if parts is None:
        return None
    return store.get_resource(ARCHIVE, Scope(parts.account, parts.region).key(parts.name))
