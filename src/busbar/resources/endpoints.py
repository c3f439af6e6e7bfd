"""Global endpoints as the store keeps them, and where an endpoint sends events now.

An endpoint (``endpoint`` documents, keyed ``{account}/{home region}/{name}``) names two
event buses of one account with the same name in two regions: the *primary* one in the
endpoint's home region, and the *secondary* one in ``Secondary.Route``.  Its primary's
Route 53 health check decides which of the two takes new events: while the health check
is healthy (or its status is not known yet) the primary, else the secondary.

The health of every health check an endpoint uses is kept in the store too
(``endpoint-health`` documents keyed by the health check's ARN: ``{"Healthy": bool,
"Reason": str, "CheckedTime": epoch}``), written by :mod:`busbar.endpoints.health` when
Route 53 says the status changed, so every node of a cluster routes alike, and a restart
routes as before it until Route 53 is read again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from busbar.model import arns
from busbar.resources.kinds import ENDPOINT, ENDPOINT_HEALTH
from busbar.resources.scope import Scope
from busbar.store.base import Store

CREATING = "CREATING"
ACTIVE = "ACTIVE"
UPDATING = "UPDATING"
DELETING = "DELETING"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_FAILED = "DELETE_FAILED"

# States in which an endpoint takes events (UPDATE_FAILED keeps serving what it had).
SERVING = frozenset({ACTIVE, UPDATING, UPDATE_FAILED})
# States the lifecycle (busbar.endpoints.lifecycle) moves on from by itself.
SETTLING = frozenset({CREATING, UPDATING, DELETING})

ENABLED = "ENABLED"
DISABLED = "DISABLED"


def endpoint_key(scope: Scope, name: str) -> str:
    return scope.key(name)


def health_check_of(endpoint: dict[str, Any]) -> str:
    """The ARN of the Route 53 health check of the endpoint's primary."""
    return str(endpoint["RoutingConfig"]["FailoverConfig"]["Primary"]["HealthCheck"])


def replicates(endpoint: dict[str, Any]) -> bool:
    return bool((endpoint.get("ReplicationConfig") or {}).get("State", ENABLED) == ENABLED)


@dataclass(frozen=True, slots=True)
class Leg:
    """One of an endpoint's two buses: where it lives and its store key."""

    arn: str
    scope: Scope
    name: str

    @property
    def key(self) -> str:
        return self.scope.key(self.name)

    @property
    def region(self) -> str:
        return self.scope.region


def legs(endpoint: dict[str, Any]) -> tuple[Leg, Leg]:
    """(primary, secondary) bus of an endpoint as stored (CreateEndpoint checked that the
    buses are two, in the home region and in ``Secondary.Route``)."""
    secondary_region = endpoint["RoutingConfig"]["FailoverConfig"]["Secondary"]["Route"]
    found: dict[bool, Leg] = {}
    for bus in endpoint["EventBuses"]:
        parts = arns.parse_events(bus["EventBusArn"], "event-bus")
        assert parts is not None, "CreateEndpoint stores only event-bus ARNs"
        leg = Leg(bus["EventBusArn"], Scope(parts.account, parts.region), parts.name)
        found[parts.region == secondary_region] = leg
    return found[False], found[True]


def is_healthy(store: Store, health_check: str) -> bool:
    """Whether the health check is healthy as last read from Route 53 (True until read)."""
    health = store.get_resource(ENDPOINT_HEALTH, health_check)
    return health is None or bool(health.get("Healthy", True))


@dataclass(frozen=True, slots=True)
class Route:
    """Where an endpoint sends an event now: the active bus and, with replication on,
    the other one (which gets a copy)."""

    active: Leg
    replica: Leg | None
    failed_over: bool


def route_of(store: Store, endpoint: dict[str, Any]) -> Route:
    primary, secondary = legs(endpoint)
    failed_over = not is_healthy(store, health_check_of(endpoint))
    active, other = (secondary, primary) if failed_over else (primary, secondary)
    return Route(active, other if replicates(endpoint) else None, failed_over)


def find_by_id(store: Store, account: str, endpoint_id: str) -> tuple[str, dict[str, Any]] | None:
    """(key, endpoint) of the endpoint of *account* whose ``EndpointId`` is *endpoint_id*, or None.
    Endpoints are few (100 per region), so the account's are read from memory and compared."""
    for key, endpoint in store.list_resources(ENDPOINT, account + "/"):
        if endpoint.get("EndpointId") == endpoint_id:
            return key, endpoint
    return None
