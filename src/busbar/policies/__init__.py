"""busbar.policies: an event bus's resource-based policy as a pure Python library — build it as
``PutPermission`` and ``RemovePermission`` do, show it as ``DescribeEventBus`` does, and decide
whether a caller may ``PutEvents`` to the bus.

    from busbar.policies import put_permission, remove_permission, policy_text, allows_put_events

    policy = put_permission(None, bus_arn, action="events:PutEvents", principal="111122223333",
                            statement_id="partner")             # or PolicyError(code, message)
    policy_text(policy)                                          # DescribeEventBus's "Policy"
    allows_put_events(policy, bus_arn, caller_account="111122223333")   # True
    policy = remove_permission(policy, statement_id="partner")  # None: no statement left

No I/O; nothing here imports the server, the store or delivery.
"""

from __future__ import annotations

from .document import MAX_POLICY_CHARS, policy_text, put_permission, remove_permission, validate_policy_document
from .errors import NOT_FOUND, TOO_LONG, VALIDATION, PolicyError
from .evaluate import (
    ACCESS_DENIED,
    PUT_EVENTS,
    BusPolicy,
    Caller,
    Decision,
    EntryError,
    Request,
    allows_put_events,
    put_events_denial,
)

__all__ = [
    "ACCESS_DENIED",
    "MAX_POLICY_CHARS",
    "NOT_FOUND",
    "PUT_EVENTS",
    "TOO_LONG",
    "VALIDATION",
    "BusPolicy",
    "Caller",
    "Decision",
    "EntryError",
    "PolicyError",
    "Request",
    "allows_put_events",
    "policy_text",
    "put_events_denial",
    "put_permission",
    "remove_permission",
    "validate_policy_document",
]
