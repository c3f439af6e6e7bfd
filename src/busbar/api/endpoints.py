"""Global endpoints: CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
DeleteEndpoint, and what PutEvents does with an ``EndpointId``.

An endpoint lives in its home Region (the Region CreateEndpoint was called in, which is
its primary Region) and names two event buses of the caller's account with one name: one
in the home Region, one in ``RoutingConfig.FailoverConfig.Secondary.Route``.  Create,
update and delete answer at once with the state ``CREATING``, ``UPDATING`` or
``DELETING``; :mod:`busbar.endpoints.lifecycle` then settles it (``ACTIVE``, or
``CREATE_FAILED``/``UPDATE_FAILED`` with a ``StateReason`` when a bus does not exist;
a deleted endpoint disappears).

``PutEvents`` with an ``EndpointId`` (:func:`via_endpoint`) puts each entry on the
endpoint's bus in the primary Region, or in the secondary one while the primary's Route 53
health check is unhealthy (see :mod:`busbar.resources.endpoints`).  With replication on,
each event is also put on the other Region's bus in the same store append, so the two
copies are stored together or not at all: the replica keeps the event's id and ``region``
(the Region it was put in) and lists the endpoint's ARN in ``resources``, as AWS's
replicated events do.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from dataclasses import dataclass, replace
from typing import Any

import orjson

from busbar.api.context import Context
from busbar.api.errors import (
    ConcurrentModificationException,
    IllegalStatusException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import page
from busbar.model import arns
from busbar.model import entries as checks
from busbar.resources import quotas
from busbar.resources.endpoints import (
    CREATING,
    DELETING,
    ENABLED,
    SERVING,
    SETTLING,
    UPDATING,
    Route,
    endpoint_key,
    find_by_id,
    legs,
    route_of,
)
from busbar.resources.kinds import BUS, ENDPOINT
from busbar.resources.scope import Scope
from busbar.store.base import AlreadyExists, NewEvent

log = logging.getLogger("busbar.endpoints")

# The members of an endpoint that Create sets and Update may change.
_CONFIG = ("Description", "RoutingConfig", "ReplicationConfig", "EventBuses", "RoleArn")
_CREATED = ("Name", "Arn", "RoutingConfig", "ReplicationConfig", "EventBuses", "RoleArn", "State")
_UPDATED = (*_CREATED, "EndpointId", "EndpointUrl")
_DESCRIBED = (
    "Name",
    "Description",
    "Arn",
    "RoutingConfig",
    "ReplicationConfig",
    "EventBuses",
    "RoleArn",
    "EndpointId",
    "EndpointUrl",
    "State",
    "StateReason",
    "CreationTime",
    "LastModifiedTime",
)
_ID_ALPHABET = string.ascii_lowercase + string.digits
_BUSES = "Parameter EventBuses is not valid. Reason: "


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Endpoint {name} does not exist.")


def _shown(endpoint: dict[str, Any], members: tuple[str, ...]) -> dict[str, Any]:
    return {member: endpoint[member] for member in members if member in endpoint}


def _check(ctx: Context, config: dict[str, Any]) -> None:
    """Refuse a configuration whose buses, secondary Region or role do not fit together."""
    parsed = [arns.parse_events(bus["EventBusArn"], "event-bus") for bus in config["EventBuses"]]
    first, second = parsed
    if first is None or second is None:
        raise ValidationException(_BUSES + "each EventBusArn must be the ARN of an event bus.")
    if first.region == second.region:
        raise ValidationException(_BUSES + "the two event buses must be in different Regions.")
    if first.name != second.name:
        raise ValidationException(_BUSES + "the two event buses must have the same name.")
    if {first.account, second.account} != {ctx.account}:
        raise ValidationException(_BUSES + f"the event buses must belong to account {ctx.account}.")
    regions = {first.region, second.region}
    if ctx.region not in regions:
        raise ValidationException(
            _BUSES + f"one event bus must be in {ctx.region}, the Region the endpoint is made in (its primary Region)."
        )
    (other,) = regions - {ctx.region}
    if config["RoutingConfig"]["FailoverConfig"]["Secondary"]["Route"] != other:
        raise ValidationException(
            "Parameter RoutingConfig.FailoverConfig.Secondary.Route is not valid. "
            f"Reason: it must be {other}, the Region of the other event bus."
        )
    if config["ReplicationConfig"].get("State", ENABLED) == ENABLED and not config.get("RoleArn"):
        raise ValidationException(
            "Parameter RoleArn is not valid. Reason: RoleArn is required while event replication is ENABLED "
            "(the default); give a RoleArn or set ReplicationConfig.State to DISABLED."
        )


def _replication(config: dict[str, Any]) -> dict[str, Any]:
    """A ``ReplicationConfig`` with its ``State`` (``ENABLED`` when not given, as in AWS)."""
    return {"State": ENABLED, **config}


def _new_id(ctx: Context) -> str:
    """An ``EndpointId`` of AWS's form (``abcde.xyz``) that no endpoint of the account has."""
    while True:
        endpoint_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5)) + "."
        endpoint_id += "".join(secrets.choice(_ID_ALPHABET) for _ in range(3))
        if find_by_id(ctx.store, ctx.account, endpoint_id) is None:
            return endpoint_id


async def create_endpoint(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    config = {member: body[member] for member in _CONFIG if body.get(member) is not None}
    config["ReplicationConfig"] = _replication(body.get("ReplicationConfig") or {})
    _check(ctx, config)
    store, key = ctx.store, endpoint_key(ctx.scope, name)
    if store.get_resource(ENDPOINT, key) is not None:
        raise ResourceAlreadyExistsException(f"Endpoint {name} already exists.")
    try:
        await quotas.reserve(
            store,
            ENDPOINT,
            ctx.scope.prefix,
            name,
            ctx.settings.limits.max_endpoints,
            lambda kept: store.get_resource(ENDPOINT, endpoint_key(ctx.scope, kept)) is not None,
        )
    except quotas.QuotaExceeded:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.") from None
    endpoint_id = _new_id(ctx)
    now = time.time()
    endpoint = {
        "Name": name,
        "Arn": arns.endpoint_arn(ctx.region, ctx.account, name),
        **config,
        "EndpointId": endpoint_id,
        "EndpointUrl": arns.endpoint_url(endpoint_id),
        "State": CREATING,
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    try:
        await store.create_resource(ENDPOINT, key, endpoint)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Endpoint {name} already exists.") from None
    return _shown(endpoint, _CREATED)


def _home(ctx: Context, body: dict[str, Any]) -> Scope:
    """The scope of the endpoints a request names: its own Region, or ``HomeRegion``."""
    return Scope(ctx.account, body.get("HomeRegion") or ctx.region)


async def describe_endpoint(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    endpoint = ctx.store.get_resource(ENDPOINT, endpoint_key(_home(ctx, body), name))
    if endpoint is None:
        raise not_found(name)
    return _shown(endpoint, _DESCRIBED)


async def list_endpoints(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    scope = _home(ctx, body)
    found = [
        (key[len(scope.prefix) :], _shown(endpoint, _DESCRIBED))
        for key, endpoint in ctx.store.list_resources(ENDPOINT, scope.prefix + (body.get("NamePrefix") or ""))
    ]
    chunk, token = page(found, body.get("NextToken"), body.get("MaxResults"))
    answer: dict[str, Any] = {"Endpoints": chunk}
    if token:
        answer["NextToken"] = token
    return answer


async def update_endpoint(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]

    def change(endpoint: dict[str, Any] | None) -> dict[str, Any]:
        if endpoint is None:
            raise not_found(name)
        if endpoint["State"] in SETTLING:
            raise ConcurrentModificationException(
                f"Endpoint {name} is {endpoint['State']}; update it once that has finished."
            )
        changed = {member: body[member] for member in _CONFIG if body.get(member) is not None}
        if "ReplicationConfig" in changed:
            changed["ReplicationConfig"] = _replication(changed["ReplicationConfig"])
        updated = {**endpoint, **changed, "State": UPDATING, "LastModifiedTime": time.time()}
        updated.pop("StateReason", None)
        _check(ctx, updated)
        return updated

    endpoint = await ctx.store.modify(ENDPOINT, endpoint_key(ctx.scope, name), change)
    assert endpoint is not None
    return _shown(endpoint, _UPDATED)


async def delete_endpoint(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]

    def change(endpoint: dict[str, Any] | None) -> dict[str, Any]:
        if endpoint is None:
            raise not_found(name)
        if endpoint["State"] == DELETING:
            return endpoint
        return {**endpoint, "State": DELETING, "LastModifiedTime": time.time()}

    await ctx.store.modify(ENDPOINT, endpoint_key(ctx.scope, name), change)
    return {}


# -- PutEvents through an endpoint ---------------------------------------------------------


@dataclass(frozen=True)
class Via:
    """What PutEvents needs to put entries through one endpoint: the context of the active
    Region's scope, the route, and the endpoint."""

    ctx: Context
    route: Route
    endpoint: dict[str, Any]

    def entry(self, entry: dict[str, Any]) -> dict[str, Any] | checks.EntryError:
        """The entry with ``EventBusName`` naming the endpoint's bus in the active Region, or
        why it cannot go through this endpoint.  An entry may name the bus by its name or by
        its ARN in either Region (the ARN is preferred, as AWS says)."""
        primary, secondary = legs(self.endpoint)
        given = entry.get("EventBusName") or "default"
        if given not in (primary.name, primary.arn, secondary.arn):
            return checks.EntryError(
                "InvalidArgument",
                f"Parameter EventBusName is not valid. Reason: endpoint {self.endpoint['Name']} sends events to "
                f"event bus {primary.name} ({primary.arn} or {secondary.arn}), not {given}.",
            )
        return {**entry, "EventBusName": primary.name}

    def replica(self, event: NewEvent, detail_text: str) -> NewEvent | None:
        """The copy of *event* for the other Region's bus (None without replication, or when
        that bus does not exist: there is nobody to see it)."""
        leg = self.route.replica
        if leg is None:
            return None
        if self.ctx.store.get_resource(BUS, leg.key) is None:
            log.warning(
                "replica not stored: the other Region's event bus does not exist",
                extra={"endpoint": self.endpoint["Arn"], "event_bus": leg.arn, "event_id": event.event_id},
            )
            return None
        envelope = orjson.loads(event.envelope)
        envelope["resources"] = [*envelope["resources"], self.endpoint["Arn"]]
        return replace(
            event,
            bus=leg.key,
            envelope=checks.encode_envelope(envelope, detail_text),
            # Stored once however often the append is tried; never taken for the original.
            dedup_id=f"replica/{event.event_id}",
        )


def via_endpoint(ctx: Context, endpoint_id: str) -> Via:
    """How PutEvents puts entries through the endpoint *endpoint_id* of the caller's account,
    or the error that fails the request (no such endpoint, or one that takes no events)."""
    found = find_by_id(ctx.store, ctx.account, endpoint_id)
    if found is None or found[1]["State"] == DELETING:
        raise not_found(endpoint_id)
    endpoint = found[1]
    if endpoint["State"] not in SERVING:
        raise IllegalStatusException(
            f"Endpoint {endpoint['Name']} is {endpoint['State']}; it takes events once it is ACTIVE."
        )
    route = route_of(ctx.store, endpoint)
    return Via(ctx.in_scope(route.active.scope), route, endpoint)
