"""API destinations: CreateApiDestination, DescribeApiDestination, ListApiDestinations,
UpdateApiDestination, DeleteApiDestination.

An API destination is an HTTP endpoint (``InvocationEndpoint``, ``HttpMethod``)
called through a connection's credentials at most ``InvocationRateLimitPerSecond``
times a second (300 when not given; throttled invocations wait, they are not
dropped).  Rule targets name it by its ARN; :mod:`busbar.delivery.http` calls it.

``ApiDestinationState`` is not stored: it is ``ACTIVE`` while the destination's
connection exists and is not deauthorized (an OAuth connection that is still
``AUTHORIZING`` counts, since busbar fetches its token on the first call) and
``INACTIVE`` otherwise.

Difference from AWS: AWS calls only ``https://`` endpoints; busbar also calls
``http://`` ones, for targets on the local network.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from busbar.api.connections import check_endpoint, connection_by_arn
from busbar.api.context import Context
from busbar.api.errors import (
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from busbar.api.paging import listing
from busbar.api.quota import count_new
from busbar.model.arns import api_destination_arn
from busbar.resources import quotas
from busbar.resources.connections import DEAUTHORIZED
from busbar.resources.kinds import API_DESTINATION
from busbar.resources.lookup import find_connection
from busbar.store.base import AlreadyExists, Store

DEFAULT_RATE_LIMIT = 300


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
    )


def _get(ctx: Context, name: str) -> dict[str, Any]:
    destination = ctx.store.get_resource(API_DESTINATION, ctx.scope.key(name))
    if destination is None:
        raise not_found(name)
    return destination


def state_of(store: Store, destination: dict[str, Any]) -> str:
    """ACTIVE while the connection exists and is not deauthorized (see the module docstring)."""
    connection = find_connection(store, destination["ConnectionArn"])
    usable = connection is not None and connection["ConnectionState"] != DEAUTHORIZED
    return "ACTIVE" if usable else "INACTIVE"


def _with_state(ctx: Context, destination: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    answer = {key: destination[key] for key in keys if key in destination}
    answer["ApiDestinationState"] = state_of(ctx.store, destination)
    return answer


_SUMMARY = ("ApiDestinationArn", "CreationTime", "LastModifiedTime")
_LISTED = (
    "ApiDestinationArn",
    "Name",
    "ConnectionArn",
    "InvocationEndpoint",
    "HttpMethod",
    "InvocationRateLimitPerSecond",
    "CreationTime",
    "LastModifiedTime",
)
_DESCRIBED = (*_LISTED[:2], "Description", *_LISTED[2:])


async def create_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    store, stored_key = ctx.store, ctx.scope.key(name)
    if store.get_resource(API_DESTINATION, stored_key) is not None:
        raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
    check_endpoint(body["InvocationEndpoint"], "InvocationEndpoint")
    connection_by_arn(ctx, body["ConnectionArn"])
    await count_new(
        store,
        API_DESTINATION,
        ctx.scope.prefix,
        name,
        ctx.settings.limits.max_api_destinations,
        lambda kept: store.get_resource(API_DESTINATION, ctx.scope.key(kept)) is not None,
    )
    now = time.time()
    destination: dict[str, Any] = {
        "Name": name,
        "ApiDestinationArn": api_destination_arn(ctx.region, ctx.account, name, str(uuid.uuid4())),
        "ConnectionArn": body["ConnectionArn"],
        "InvocationEndpoint": body["InvocationEndpoint"],
        "HttpMethod": body["HttpMethod"],
        "InvocationRateLimitPerSecond": body.get("InvocationRateLimitPerSecond") or DEFAULT_RATE_LIMIT,
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    if body.get("Description") is not None:
        destination["Description"] = body["Description"]
    try:
        await store.create_resource(API_DESTINATION, stored_key, destination)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.") from None
    return _with_state(ctx, destination, _SUMMARY)


async def describe_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return _with_state(ctx, _get(ctx, body["Name"]), _DESCRIBED)


async def list_api_destinations(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("NamePrefix") or ""
    connection = body.get("ConnectionArn")
    scope_prefix = ctx.scope.prefix
    found = [
        (key[len(scope_prefix) :], _with_state(ctx, destination, _LISTED))
        for key, destination in ctx.store.list_resources(API_DESTINATION, scope_prefix + prefix)
        if connection is None or destination["ConnectionArn"] == connection
    ]
    return listing("ApiDestinations", found, body)


async def update_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    if body.get("InvocationEndpoint") is not None:
        check_endpoint(body["InvocationEndpoint"], "InvocationEndpoint")
    if body.get("ConnectionArn") is not None:
        connection_by_arn(ctx, body["ConnectionArn"])

    def change(destination: dict[str, Any] | None) -> dict[str, Any]:
        if destination is None:
            raise not_found(name)
        destination = dict(destination)
        for key in ("Description", "ConnectionArn", "InvocationEndpoint", "HttpMethod", "InvocationRateLimitPerSecond"):
            if body.get(key) is not None:
                destination[key] = body[key]
        destination["LastModifiedTime"] = time.time()
        return destination

    destination = await ctx.store.modify(API_DESTINATION, ctx.scope.key(name), change)
    assert destination is not None
    return _with_state(ctx, destination, _SUMMARY)


async def delete_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    destination = _get(ctx, body["Name"])
    await ctx.store.delete_resource(API_DESTINATION, ctx.scope.key(destination["Name"]))
    await quotas.release(ctx.store, API_DESTINATION, ctx.scope.prefix, destination["Name"])
    return {}
