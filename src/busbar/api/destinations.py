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

from busbar.api.connections import (
    DEAUTHORIZED,
    check_endpoint,
    connection_by_arn,
    find_connection,
    find_named,
    named_arn,
)
from busbar.api.context import Context
from busbar.api.errors import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from busbar.api.paging import listing
from busbar.api.resources import API_DESTINATION
from busbar.store.base import AlreadyExists, Store

DEFAULT_RATE_LIMIT = 300


def api_destination_arn(region: str, account: str, name: str, unique: str) -> str:
    """``arn:aws:events:{region}:{account}:api-destination/{name}/{uuid}``."""
    return named_arn(API_DESTINATION, region, account, name, unique)


def find_api_destination(store: Store, arn: str) -> dict[str, Any] | None:
    """The destination *arn* names, or None (see :func:`find_named`)."""
    return find_named(store, API_DESTINATION, arn, "ApiDestinationArn")


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
    )


def _get(ctx: Context, name: str) -> dict[str, Any]:
    destination = ctx.store.get_resource(API_DESTINATION, name)
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
    if ctx.store.get_resource(API_DESTINATION, name) is not None:
        raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
    check_endpoint(body["InvocationEndpoint"], "InvocationEndpoint")
    connection_by_arn(ctx, body["ConnectionArn"])
    quota = ctx.settings.limits.max_api_destinations
    if len(ctx.store.list_resources(API_DESTINATION)) >= quota:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.")
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
        await ctx.store.create_resource(API_DESTINATION, name, destination)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.") from None
    return _with_state(ctx, destination, _SUMMARY)


async def describe_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return _with_state(ctx, _get(ctx, body["Name"]), _DESCRIBED)


async def list_api_destinations(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("NamePrefix") or ""
    connection = body.get("ConnectionArn")
    found = [
        (name, _with_state(ctx, destination, _LISTED))
        for name, destination in ctx.store.list_resources(API_DESTINATION)
        if name.startswith(prefix) and (connection is None or destination["ConnectionArn"] == connection)
    ]
    return listing("ApiDestinations", found, body)


async def update_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    destination = dict(_get(ctx, body["Name"]))
    if body.get("InvocationEndpoint") is not None:
        check_endpoint(body["InvocationEndpoint"], "InvocationEndpoint")
    if body.get("ConnectionArn") is not None:
        connection_by_arn(ctx, body["ConnectionArn"])
    for key in ("Description", "ConnectionArn", "InvocationEndpoint", "HttpMethod", "InvocationRateLimitPerSecond"):
        if body.get(key) is not None:
            destination[key] = body[key]
    destination["LastModifiedTime"] = time.time()
    await ctx.store.put_resource(API_DESTINATION, destination["Name"], destination)
    return _with_state(ctx, destination, _SUMMARY)


async def delete_api_destination(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    destination = _get(ctx, body["Name"])
    await ctx.store.delete_resource(API_DESTINATION, destination["Name"])
    return {}
