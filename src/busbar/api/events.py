"""PutEvents: check each entry as EventBridge does, store the accepted ones durably,
answer one result per entry in request order.  With an ``EndpointId`` the entries go
through that global endpoint (:mod:`busbar.api.endpoints`).

An entry that fails its checks fails alone (``ErrorCode``/``ErrorMessage``); the
request fails as a whole only for the model's constraints and the total size.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from busbar.api.context import Context
from busbar.api.endpoints import via_endpoint
from busbar.api.errors import ValidationException
from busbar.api.permissions import put_events_refusal
from busbar.api.resources import bus_ref
from busbar.model import entries as checks
from busbar.model.size import entry_size
from busbar.resources.kinds import BUS, bus_key
from busbar.resources.scope import Scope, name_of_key
from busbar.store.base import NewEvent, Unavailable

log = logging.getLogger("busbar.api")

NO_BUS = "ResourceNotFoundException"
TOO_LARGE = "Total size of the entries in the request is over the limit."
THROTTLED = checks.EntryError("ThrottlingException", "Rate exceeded.")
# The retryable code AWS documents for entries it could not take in.
STORE_FAILED = {"ErrorCode": "InternalFailure", "ErrorMessage": "The event could not be stored; send it again."}


async def put_events(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()  # busbar.observe: PutEventsLatency
    request_entries: list[dict[str, Any]] = body["Entries"]
    limits = ctx.settings.limits
    if sum(entry_size(entry) for entry in request_entries) >= limits.max_put_events_request_bytes:
        ctx.observer.put_events(ctx.scope, request_entries, None, started)  # busbar.observe hook
        raise ValidationException(TOO_LARGE)
    # Through a global endpoint, the entries go to its bus in the Region it routes to now.
    via = via_endpoint(ctx, body["EndpointId"]) if body.get("EndpointId") is not None else None
    if via is not None:
        ctx = via.ctx

    now, now_text = ctx.clock.now()
    bucket = ctx.put_events_bucket
    allowed = len(request_entries) if bucket is None else bucket.take(len(request_entries))
    results: list[dict[str, str]] = []
    accepted: list[NewEvent] = []
    replicas: dict[int, NewEvent] = {}  # by the position of its event in accepted
    event_ids = checks.new_event_ids(len(request_entries))
    buses: dict[str | None, _TargetBus] = {}

    def outcome_of(index: int, entry: dict[str, Any]) -> NewEvent | checks.EntryError:
        if index >= allowed:
            return THROTTLED
        if via is None:
            return _accept(ctx, entry, event_ids[index], now, now_text, buses)
        routed = via.entry(entry)  # the entry names the endpoint's bus, which is then the active Region's
        if isinstance(routed, checks.EntryError):
            return routed
        return _accept(ctx, routed, event_ids[index], now, now_text, buses)

    outcomes = [outcome_of(index, entry) for index, entry in enumerate(request_entries)]
    if any(isinstance(outcome, checks.EntryError) and outcome.code == NO_BUS for outcome in outcomes):
        # The bus may have been made a moment ago through another node: take in every change
        # committed so far and look again (a no-op for the embedded store).
        await ctx.store.sync()
        buses.clear()
        outcomes = [
            outcome_of(index, entry) if isinstance(outcome, checks.EntryError) and outcome.code == NO_BUS else outcome
            for index, (entry, outcome) in enumerate(zip(request_entries, outcomes, strict=True))
        ]
    for entry, outcome in zip(request_entries, outcomes, strict=True):
        if isinstance(outcome, checks.EntryError):
            results.append({"ErrorCode": outcome.code, "ErrorMessage": outcome.message})
        else:
            results.append({"EventId": outcome.event_id})
            replica = via.replica(outcome, entry["Detail"]) if via is not None else None
            if replica is not None:
                replicas[len(accepted)] = replica
            accepted.append(outcome)
    if accepted:
        # Answer success only once the events are durable (group commit); an event and its
        # replica are appended together, so neither is acknowledged without the other.
        batch = accepted + list(replicas.values())
        try:
            await ctx.store.append_events(batch)
        except Unavailable as error:  # the store said why; those it names in error.stored were stored all the same
            log.warning("events could not be stored", extra={"count": len(accepted), "reason": str(error)})
            replica_at = {index: len(accepted) + n for n, index in enumerate(replicas)}
            stored = {
                event.event_id
                for index, event in enumerate(accepted)
                if index in error.stored and replica_at.get(index, index) in error.stored
            }
            results = [
                STORE_FAILED if "EventId" in result and result["EventId"] not in stored else result
                for result in results
            ]
            accepted = [event for event in accepted if event.event_id in stored]
        except Exception:  # noqa: BLE001 - e.g. a full disk: nothing was stored, say so per entry
            log.exception("events could not be stored", extra={"count": len(accepted)})
            results = [STORE_FAILED if "EventId" in result else result for result in results]
            accepted = []
    failed = len(request_entries) - len(accepted)
    ctx.observer.put_events(ctx.scope, request_entries, results, started)  # busbar.observe hook
    return {"FailedEntryCount": failed, "Entries": results}


_TargetBus = tuple[Scope, str, "dict[str, Any] | None", bool]


def _target_bus(ctx: Context, named: str | None) -> _TargetBus:
    """(scope, store key, stored bus or None, whether of another account) of the bus an
    entry's ``EventBusName`` names."""
    scope, bus = bus_ref(ctx, named)
    # A bus named by name is the caller's (bus_ref answers the context's own scope then).
    foreign = scope is not ctx.scope and scope != ctx.scope
    key = bus_key(scope, bus)
    # Another region's buses are not reached through this one.
    stored = ctx.store.get_resource(BUS, key) if not foreign or scope.region == ctx.region else None
    return scope, key, stored, foreign


def _accept(
    ctx: Context,
    entry: dict[str, Any],
    event_id: str,
    now: float,
    now_text: str,
    buses: dict[str | None, _TargetBus],
) -> NewEvent | checks.EntryError:
    """The event one entry becomes, or why it is refused (*buses* remembers, for this
    request, the buses entries named: ten entries usually name one)."""
    source = entry.get("Source")
    if not source:
        return checks.MISSING_SOURCE
    detail_type = entry.get("DetailType")
    if not detail_type:
        return checks.MISSING_DETAIL_TYPE
    detail_text = entry.get("Detail")
    if not detail_text:
        return checks.MISSING_DETAIL
    if source.startswith("aws."):
        return checks.AWS_SOURCE
    limits = ctx.settings.limits
    if len(detail_type) > limits.max_detail_type_chars:
        return checks.detail_type_too_long(limits.max_detail_type_chars)
    detail = checks.parse_detail(detail_text, limits.max_detail_depth)
    if detail is None:
        return checks.MALFORMED_DETAIL
    named = entry.get("EventBusName")
    target = buses.get(named)
    if target is None:
        target = buses[named] = _target_bus(ctx, named)
    scope, key, stored, foreign = target
    if stored is None:
        # AWS answers success and drops the event; busbar says so (see README).
        bus = name_of_key(key)
        return checks.EntryError(NO_BUS, f"Event bus {named if foreign else bus} does not exist.")
    if foreign or "Policy" in stored:
        # Another account's bus (named by ARN) takes the event only where its policy allows
        # the caller's account; a bus's own policy may deny even its own account.
        refused = put_events_refusal(ctx, stored, source, detail_type)
        if refused is not None:
            return refused
    if entry.get("Time") is not None:
        parsed = checks.event_time(entry["Time"])
        if parsed is None:
            return checks.EntryError("InvalidArgument", "Parameter Time is not valid.")
        when, when_text = parsed
    else:
        when, when_text = now, now_text
    # The event names the account that sent it and the region of its bus, as in AWS.
    envelope = checks.envelope(event_id, entry, detail, when_text, ctx.account, scope.region)
    return NewEvent(
        event_id=event_id,
        bus=key,
        envelope=checks.encode_envelope(envelope, detail_text),
        time=when,
        ingested_at=now,
        trace_header=entry.get("TraceHeader"),
    )
