"""What observation reads of a delivery and of an attempt's outcome.

The hooks are called from the delivery room, which sits above this one: these
protocols name the attributes they read (``busbar.delivery.base.Delivery`` and
``Outcome`` have them), so that this room imports nothing of delivery's.
"""

from __future__ import annotations

from typing import Any, Protocol

from busbar.resources.scope import name_of_key


class DeliveryLike(Protocol):
    """One event on its way to one target of one rule (``busbar.delivery.base.Delivery``)."""

    @property
    def id(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def bus(self) -> str: ...  # the store key of the rule's bus
    @property
    def rule_name(self) -> str: ...
    @property
    def rule_arn(self) -> str: ...
    @property
    def target(self) -> dict[str, Any]: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def envelope(self) -> bytes: ...
    @property
    def attempts(self) -> int: ...  # attempts made before this one
    @property
    def ingested_at(self) -> float: ...


class OutcomeLike(Protocol):
    """The result of one attempt (``busbar.delivery.base.Outcome``)."""

    @property
    def ok(self) -> bool: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def error_code(self) -> str: ...
    @property
    def error_message(self) -> str: ...


def delivery_fields(delivery: DeliveryLike) -> dict[str, Any]:
    """The fields every log line about a delivery carries: its event, bus, rule and target."""
    return {
        "event_id": delivery.event_id,
        "bus": name_of_key(delivery.bus) if delivery.bus.count("/") >= 2 else delivery.bus,
        "rule": delivery.rule_arn,
        "target_id": delivery.target.get("Id"),
        "target": delivery.target.get("Arn"),
        "delivery": delivery.id,
    }


# Error codes of outcomes whose target was never invoked (AWS counts these as
# DeadLetterInvocations, not as invocations): a forward that would loop, an input
# that could not be shaped, a kind of target this busbar cannot call.
NOT_INVOKED = frozenset({"LoopDetected", "InputTransformationFailed", "UnsupportedTarget"})
