"""PutEvents: check each entry as EventBridge does, store the accepted ones durably,
answer one result per entry in request order.

An entry that fails its checks fails alone (``ErrorCode``/``ErrorMessage``); the
request fails as a whole only for the model's constraints and the total size.
"""

from __future__ import annotations

import logging
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import AwsError, ValidationException
from busbar.api.resources import bus_name
from busbar.model import entries as checks
from busbar.model.size import entry_size
from busbar.resources.kinds import BUS, bus_key
from busbar.store.base import NewEvent, Unavailable

log = logging.getLogger("busbar.api")

NO_BUS = "ResourceNotFoundException"
TOO_LARGE = "Total size of the entries in the request is over the limit."
THROTTLED = checks.EntryError("ThrottlingException", "Rate exceeded.")
# The retryable code AWS documents for entries it could not take in.
STORE_FAILED = {"ErrorCode": "InternalFailure", "ErrorMessage": "The event could not be stored; send it again."}


async def put_events(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    request_entries: list[dict[str, Any]] = body["Entries"]
    limits = ctx.settings.limits
    if sum(entry_size(entry) for entry in request_entries) >= limits.max_put_events_request_bytes:
        raise ValidationException(TOO_LARGE)

    now, now_text = ctx.clock.now()
    bucket = ctx.put_events_bucket
    allowed = len(request_entries) if bucket is None else bucket.take(len(request_entries))
    results: list[dict[str, str]] = []
    accepted: list[NewEvent] = []
    event_ids = checks.new_event_ids(len(request_entries))
    outcomes = [
        _accept(ctx, entry, event_ids[index], now, now_text) if index < allowed else THROTTLED
        for index, entry in enumerate(request_entries)
    ]
    if any(isinstance(outcome, checks.EntryError) and outcome.code == NO_BUS for outcome in outcomes):
        # The bus may have been made a moment ago through another node: take in every change
        # committed so far and look again (a no-op for the embedded store).
        await ctx.store.sync()
        outcomes = [
            _accept(ctx, entry, event_ids[index], now, now_text)
            if isinstance(outcome, checks.EntryError) and outcome.code == NO_BUS
            else outcome
            for index, (entry, outcome) in enumerate(zip(request_entries, outcomes, strict=True))
        ]
    for outcome in outcomes:
        if isinstance(outcome, checks.EntryError):
            results.append({"ErrorCode": outcome.code, "ErrorMessage": outcome.message})
        else:
            results.append({"EventId": outcome.event_id})
            accepted.append(outcome)
    if accepted:
        # Answer success only once the events are durable (group commit).
        try:
            await ctx.store.append_events(accepted)
        except Unavailable as error:  # the store said why; those it names in error.stored were stored all the same
            log.warning("events could not be stored", extra={"count": len(accepted), "reason": str(error)})
            stored = {accepted[index].event_id for index in error.stored}
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
    return {"FailedEntryCount": failed, "Entries": results}


def _accept(
    ctx: Context, entry: dict[str, Any], event_id: str, now: float, now_text: str
) -> NewEvent | checks.EntryError:
    """The event one entry becomes, or why it is refused."""
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
    try:
        bus = bus_name(ctx, entry.get("EventBusName"))
    except AwsError as error:
        return checks.EntryError(error.code, error.message)
    key = bus_key(ctx.scope, bus)
    if ctx.store.get_resource(BUS, key) is None:
        # AWS answers success and drops the event; busbar says so (see README).
        return checks.EntryError(NO_BUS, f"Event bus {bus} does not exist.")
    if entry.get("Time") is not None:
        parsed = checks.event_time(entry["Time"])
        if parsed is None:
            return checks.EntryError("InvalidArgument", "Parameter Time is not valid.")
        when, when_text = parsed
    else:
        when, when_text = now, now_text
    envelope = checks.envelope(event_id, entry, detail, when_text, ctx.account, ctx.region)
    return NewEvent(
        event_id=event_id,
        bus=key,
        envelope=checks.encode_envelope(envelope, detail_text),
        time=when,
        ingested_at=now,
        trace_header=entry.get("TraceHeader"),
    )
