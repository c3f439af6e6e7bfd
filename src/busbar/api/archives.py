"""Archives: CreateArchive, DescribeArchive, ListArchives, UpdateArchive, DeleteArchive.

An archive keeps the events of one bus (those its optional ``EventPattern`` matches)
for replays.  As in AWS, creating one makes a *managed rule* on its bus,
``Events-Archive-<name>``, whose pattern is the archive's plus
``"replay-name": [{"exists": false}]`` (replayed events are not archived again) and
whose one target is the archive; ``ListRules``/``DescribeRule`` show it with
``ManagedBy``, and users may not change it (see :mod:`busbar.api.rules`).  So
archiving is fed by the same matching step as every rule and is as durable as any
delivery (:mod:`busbar.delivery.archive`).

The archive document holds ``Storage``, the id of its events in the store (a new one
for every archive made, so an archive deleted and made again under its name starts
empty).  ``EventCount`` and ``SizeBytes`` are counted by the store;
``RetentionDays`` (0: forever) is applied by :mod:`busbar.retention`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import listing
from busbar.api.patterns import compile_pattern
from busbar.api.resources import bus_not_found, get_bus
from busbar.model import arns
from busbar.model.arns import archive_arn, rule_arn
from busbar.resources import quotas
from busbar.resources.kinds import ARCHIVE, RULE, bus_key, rule_key
from busbar.resources.lookup import find_rule
from busbar.resources.scope import Scope
from busbar.store.base import AlreadyExists

# What AWS shows as the ManagedBy of an archive's rule (as moto records it; AWS's own
# value for archives is not in busbar's recorded answers).
MANAGED_BY = "prod.vhs.events.aws.internal"
RULE_PREFIX = "Events-Archive-"
# Replayed events carry "replay-name": an archive's rule never matches them.
NOT_REPLAYED = {"replay-name": [{"exists": False}]}
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."

_DESCRIBED = (
    "ArchiveArn",
    "ArchiveName",
    "EventSourceArn",
    "Description",
    "EventPattern",
    "State",
    "StateReason",
    "KmsKeyIdentifier",
    "RetentionDays",
    "CreationTime",
)
_LISTED = ("ArchiveName", "EventSourceArn", "State", "StateReason", "RetentionDays", "CreationTime")


def archive_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Archive {name} does not exist.")


def get_archive(ctx: Context, name: str) -> dict[str, Any]:
    """The stored archive *name* of the request's scope, or AWS's ResourceNotFoundException."""
    archive = ctx.store.get_resource(ARCHIVE, ctx.scope.key(name))
    if archive is None:
        raise archive_not_found(name)
    return archive


def source_bus(ctx: Context, arn: str) -> dict[str, Any]:
    """The bus an archive's ``EventSourceArn`` names, or AWS's answer naming the bus (an
    ARN of another account or region names no bus of this one)."""
    parts = arns.parse_events(arn, "event-bus")
    if parts is not None and Scope(parts.account, parts.region) != ctx.scope:
        raise bus_not_found(parts.name)
    return get_bus(ctx, arn)


def rule_pattern(pattern: str | None) -> str:
    """The pattern of an archive's managed rule: the archive's, and never a replayed event."""
    merged = json.loads(pattern) if pattern else {}
    merged.update(NOT_REPLAYED)
    return json.dumps(merged, separators=(",", ":"))


async def create_archive(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["ArchiveName"]
    bus = source_bus(ctx, body["EventSourceArn"])
    store, scope = ctx.store, ctx.scope
    if store.get_resource(ARCHIVE, scope.key(name)) is not None:
        raise ResourceAlreadyExistsException(f"Archive {name} already exists.")
    pattern = body.get("EventPattern")
    if pattern:
        compile_pattern(ctx, pattern)
    rule_name = RULE_PREFIX + name
    if find_rule(store, scope, bus["Name"], rule_name) is None:
        try:
            await quotas.reserve(
                store,
                RULE,
                bus_key(scope, bus["Name"]),
                rule_name,
                ctx.settings.limits.max_rules_per_bus,
                lambda kept: find_rule(store, scope, bus["Name"], kept) is not None,
            )
        except quotas.QuotaExceeded:
            raise LimitExceededException(LIMIT_EXCEEDED) from None
    now = time.time()
    arn = archive_arn(scope.region, scope.account, name)
    archive: dict[str, Any] = {
        "ArchiveName": name,
        "ArchiveArn": arn,
        "EventSourceArn": bus["Arn"],
        "State": "ENABLED",
        "RetentionDays": body.get("RetentionDays") or 0,
        "CreationTime": now,
        "Bus": bus["Name"],
        "Storage": uuid.uuid4().hex,
    }
    for key in ("Description", "EventPattern", "KmsKeyIdentifier"):
        if body.get(key) is not None:
            archive[key] = body[key]
    try:
        await store.create_resource(ARCHIVE, scope.key(name), archive)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Archive {name} already exists.") from None
    await store.put_resource(RULE, rule_key(scope, bus["Name"], rule_name), _managed_rule(ctx, archive, now))
    return {"ArchiveArn": arn, "State": archive["State"], "CreationTime": now}


def _managed_rule(ctx: Context, archive: dict[str, Any], now: float) -> dict[str, Any]:
    name = RULE_PREFIX + archive["ArchiveName"]
    return {
        "Name": name,
        "Arn": rule_arn(ctx.region, ctx.account, archive["Bus"], name),
        "EventBusName": archive["Bus"],
        "EventPattern": rule_pattern(archive.get("EventPattern")),
        "State": "ENABLED",
        "ManagedBy": MANAGED_BY,
        "CreatedBy": ctx.account,
        "CreationTime": now,
        "LastModifiedTime": now,
        "Targets": [{"Id": name, "Arn": archive["ArchiveArn"]}],
    }


async def describe_archive(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    archive = get_archive(ctx, body["ArchiveName"])
    answer = {key: archive[key] for key in _DESCRIBED if key in archive}
    stats = await ctx.store.archive_stats(archive["Storage"])
    answer.update(EventCount=stats.count, SizeBytes=stats.size_bytes)
    return answer


async def list_archives(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix, source, state = body.get("NamePrefix"), body.get("EventSourceArn"), body.get("State")
    if sum(value is not None for value in (prefix, source, state)) > 1:
        raise ValidationException(
            "At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, or NamePrefix."
        )
    if source is not None:
        source = source_bus(ctx, source)["Arn"]
    scope_prefix = ctx.scope.prefix
    listed = []
    for key, archive in ctx.store.list_resources(ARCHIVE, scope_prefix + (prefix or "")):
        if source is not None and archive["EventSourceArn"] != source:
            continue
        if state is not None and archive["State"] != state:
            continue
        item = {field: archive[field] for field in _LISTED if field in archive}
        stats = await ctx.store.archive_stats(archive["Storage"])
        item.update(EventCount=stats.count, SizeBytes=stats.size_bytes)
        listed.append((key[len(scope_prefix) :], item))
    return listing("Archives", listed, body)


async def update_archive(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["ArchiveName"]
    if all(body.get(key) is None for key in ("Description", "EventPattern", "RetentionDays")):
        raise ValidationException("At least one of EventPattern, RetentionDays or Description must be provided.")
    pattern = body.get("EventPattern")
    if pattern:
        compile_pattern(ctx, pattern)

    def update(archive: dict[str, Any] | None) -> dict[str, Any]:
        if archive is None:
            raise archive_not_found(name)
        archive = dict(archive)
        for key in ("Description", "EventPattern", "RetentionDays", "KmsKeyIdentifier"):
            if body.get(key) is not None:
                archive[key] = body[key]
        return archive

    archive = await ctx.store.modify(ARCHIVE, ctx.scope.key(name), update)
    assert archive is not None
    if pattern is not None:

        def repattern(rule: dict[str, Any] | None) -> dict[str, Any] | None:
            if rule is None:
                return None  # its rule was deleted (with Force): archiving stays off, as in AWS
            return {**rule, "EventPattern": rule_pattern(archive.get("EventPattern")), "LastModifiedTime": time.time()}

        await ctx.store.modify(RULE, rule_key(ctx.scope, archive["Bus"], RULE_PREFIX + name), repattern)
    return {"ArchiveArn": archive["ArchiveArn"], "State": archive["State"], "CreationTime": archive["CreationTime"]}


async def delete_archive(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["ArchiveName"]
    archive = get_archive(ctx, name)
    rule_name = RULE_PREFIX + name
    bus = archive["Bus"]
    # The rule first: nothing is archived once the archive is gone.
    await ctx.store.delete_resource(RULE, rule_key(ctx.scope, bus, rule_name))
    await quotas.release(ctx.store, RULE, bus_key(ctx.scope, bus), rule_name)
    await ctx.store.delete_resource(ARCHIVE, ctx.scope.key(name))
    await ctx.store.drop_archive(archive["Storage"])
    return {}
