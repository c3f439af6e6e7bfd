"""Dead letters: what busbar does with a delivery it gives up on.

EventBridge sends such an event to the target's SQS dead-letter queue with the
message attributes ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION,
RETRY_ATTEMPTS, RULE_ARN and TARGET_ARN.  busbar does that too when it delivers to AWS
service targets (``--aws-targets``): the dead letter becomes a delivery of the original
event to the queue (:func:`dead_letter_delivery`), durable and retried like any other,
with those attributes.  The dead-letter config may also name an event bus (with or
without ``--aws-targets``), and busbar puts this event on it::

    {"source": "busbar.dead-letter", "detail-type": "Event delivery failed",
     "resources": [rule ARN, target ARN],
     "detail": {"event": <the original event>, "attributes": {ERROR_CODE: ..., ...}}}

so rules on that bus can route dead letters anywhere busbar delivers.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from busbar.delivery.base import Delivery
from busbar.model.arns import parse_events
from busbar.model.entries import format_time, new_event_ids
from busbar.store.base import NewDelivery, NewEvent

SOURCE = "busbar.dead-letter"
DETAIL_TYPE = "Event delivery failed"
# The key of a dead-letter delivery's target that holds the attributes its message carries.
ATTRIBUTES = "DeadLetterAttributes"


def attributes(
    delivery: Delivery, retry_attempts: int, error_code: str, error_message: str, condition: str | None
) -> dict[str, Any]:
    """AWS's dead-letter attributes for a delivery."""
    result: dict[str, Any] = {
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": error_message,
        "RETRY_ATTEMPTS": retry_attempts,
        "RULE_ARN": delivery.rule_arn,
        "TARGET_ARN": delivery.target["Arn"],
    }
    if condition:
        result["EXHAUSTED_RETRY_CONDITION"] = condition
    return result


def dead_letter_event(delivery: Delivery, bus: str, attrs: dict[str, Any], bus_arn: str) -> NewEvent:
    """The event busbar puts on the dead-letter bus (*bus* is its store key, *bus_arn* its
    ARN: the event names that bus's account and region)."""
    parts = parse_events(bus_arn, "event-bus")
    assert parts is not None, "a dead-letter bus is named by its ARN"
    account, region = parts.account, parts.region
    now = time.time()
    event_id = new_event_ids(1)[0]
    envelope = {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": format_time(now),
        "region": region,
        "resources": [delivery.rule_arn, delivery.target["Arn"]],
        "detail": {"event": orjson.loads(delivery.envelope), "attributes": attrs},
    }
    return NewEvent(
        event_id=event_id,
        bus=bus,
        envelope=orjson.dumps(envelope),
        time=now,
        ingested_at=now,
        trace_header=delivery.trace_header,
    )


def dead_letter_delivery(delivery: Delivery, attrs: dict[str, Any], queue_arn: str) -> NewDelivery:
    """The original event on its way to the SQS dead-letter queue *queue_arn*, as EventBridge
    sends it: the event itself (never the shaped input) with the dead-letter attributes.
    The delivery keeps the rule, the target's id and its trace header; it has no retry
    policy (AWS's default) and no dead-letter config of its own (a dead letter that cannot
    be sent is kept for ``busbar dead-letters``)."""
    return NewDelivery(
        event_id=delivery.event_id,
        bus=delivery.bus,
        rule_name=delivery.rule_name,
        rule_arn=delivery.rule_arn,
        target={"Id": delivery.target["Id"], "Arn": queue_arn, ATTRIBUTES: attrs},
        envelope=delivery.envelope,
        payload=None,
        trace_header=delivery.trace_header,
        ingested_at=time.time(),  # the dead letter's own age counts from now
        hops=delivery.hops,
    )
