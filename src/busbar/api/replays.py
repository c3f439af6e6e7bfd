"""Replays: StartReplay, DescribeReplay, ListReplays, CancelReplay.

``StartReplay`` only records the replay (``STARTING``); the replayer of some node
(:mod:`busbar.replayer`) claims it and runs it: ``RUNNING`` while it puts the archived
events of ``[EventStartTime, EventEndTime)`` back on the archive's bus, then
``COMPLETED``; ``CancelReplay`` asks it to stop (``CANCELLING``, then ``CANCELLED``);
``FAILED`` with a ``StateReason`` when it cannot go on (its archive was deleted).
The replay's progress lives in its document (see the replayer), never in memory.
"""

from __future__ import annotations

import time
from typing import Any

from busbar.api.archives import archive_not_found
from busbar.api.context import Context
from busbar.api.errors import (
    IllegalStatusException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import listing
from busbar.api.resources import get_bus
from busbar.model import arns
from busbar.model.timestamps import parse_timestamp
from busbar.resources.kinds import ARCHIVE, REPLAY
from busbar.resources.scope import Scope
from busbar.store.base import AlreadyExists

ACTIVE = ("STARTING", "RUNNING")
UNFINISHED = ("STARTING", "RUNNING", "CANCELLING")
# AWS's quota: replays in STARTING or RUNNING at once, per account and region.
MAX_ACTIVE = 10
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."

_DESCRIBED = (
    "ReplayName",
    "ReplayArn",
    "Description",
    "State",
    "StateReason",
    "EventSourceArn",
    "Destination",
    "EventStartTime",
    "EventEndTime",
    "EventLastReplayedTime",
    "ReplayStartTime",
    "ReplayEndTime",
)
_LISTED = (
    "ReplayName",
    "EventSourceArn",
    "State",
    "StateReason",
    "EventStartTime",
    "EventEndTime",
    "EventLastReplayedTime",
    "ReplayStartTime",
    "ReplayEndTime",
)


def replay_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Replay {name} does not exist.")


def _epoch(value: Any) -> float:
    parsed = parse_timestamp(value)
    assert parsed is not None, "the server's validation checked the timestamp"
    return parsed.timestamp()


async def start_replay(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["ReplayName"]
    destination: dict[str, Any] = body["Destination"]
    if arns.parse_events(destination["Arn"], "event-bus") is None:
        raise ValidationException("Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.")
    bus = get_bus(ctx, destination["Arn"])
    source = body["EventSourceArn"]
    parts = arns.parse_events(source, "archive")
    archive = None
    if parts is not None and Scope(parts.account, parts.region) == ctx.scope:
        archive = ctx.store.get_resource(ARCHIVE, ctx.scope.key(parts.name))
    if archive is None:
        missing = parts.name if parts is not None else source
        raise ValidationException(
            f"Parameter EventSourceArn is not valid. Reason: {archive_not_found(missing).message}"
        )
    if archive["EventSourceArn"] != bus["Arn"]:
        raise ValidationException(
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted."
        )
    start, end = _epoch(body["EventStartTime"]), _epoch(body["EventEndTime"])
    if start >= end:
        raise ValidationException(
            "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime."
        )
    store, scope = ctx.store, ctx.scope
    if store.get_resource(REPLAY, scope.key(name)) is not None:
        raise ResourceAlreadyExistsException(f"Replay {name} already exists.")
    active = [r for _, r in store.list_resources(REPLAY, scope.prefix) if r["State"] in ACTIVE]
    if len(active) >= MAX_ACTIVE:
        raise LimitExceededException(LIMIT_EXCEEDED)
    now = time.time()
    replay: dict[str, Any] = {
        "ReplayName": name,
        "ReplayArn": arns.replay_arn(scope.region, scope.account, name),
        "EventSourceArn": archive["ArchiveArn"],
        "Destination": {key: destination[key] for key in ("Arn", "FilterArns") if destination.get(key)},
        "EventStartTime": start,
        "EventEndTime": end,
        "State": "STARTING",
        "ReplayStartTime": now,
        # The replayer's: where the events are, which bus they go back to, how far it got.
        "Storage": archive["Storage"],
        "Archive": archive["ArchiveName"],
        "Bus": archive["Bus"],
        "Cursor": None,
        "Replayed": 0,
    }
    if body.get("Description") is not None:
        replay["Description"] = body["Description"]
    try:
        await store.create_resource(REPLAY, scope.key(name), replay)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Replay {name} already exists.") from None
    return {"ReplayArn": replay["ReplayArn"], "State": "STARTING", "ReplayStartTime": now}


def get_replay(ctx: Context, name: str) -> dict[str, Any]:
    replay = ctx.store.get_resource(REPLAY, ctx.scope.key(name))
    if replay is None:
        raise replay_not_found(name)
    return replay


async def describe_replay(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    replay = get_replay(ctx, body["ReplayName"])
    return {key: replay[key] for key in _DESCRIBED if key in replay}


async def list_replays(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix, source, state = body.get("NamePrefix"), body.get("EventSourceArn"), body.get("State")
    if sum(value is not None for value in (prefix, source, state)) > 1:
        raise ValidationException(
            "At most one filter is allowed for ListReplays. Use either : State, EventSourceArn, or NamePrefix."
        )
    scope_prefix = ctx.scope.prefix
    listed = [
        (key[len(scope_prefix) :], {field: replay[field] for field in _LISTED if field in replay})
        for key, replay in ctx.store.list_resources(REPLAY, scope_prefix + (prefix or ""))
        if (source is None or replay["EventSourceArn"] == source) and (state is None or replay["State"] == state)
    ]
    return listing("Replays", listed, body)


async def cancel_replay(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["ReplayName"]

    def cancel(replay: dict[str, Any] | None) -> dict[str, Any]:
        if replay is None:
            raise replay_not_found(name)
        if replay["State"] not in ACTIVE:
            raise IllegalStatusException(f"Replay {name} is not in a valid state for this operation.")
        return {**replay, "State": "CANCELLING"}

    replay = await ctx.store.modify(REPLAY, ctx.scope.key(name), cancel)
    assert replay is not None
    return {"ReplayArn": replay["ReplayArn"], "State": "CANCELLING"}
