"""EventBridge's operations, one module per resource family.

``OPERATIONS`` maps each operation busbar implements to its handler: an async
function ``(Context, request body) -> answer body``.  The body reaching a handler
has already passed botocore's model (types, required members, constraints).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from busbar.api import (
    archives,
    buses,
    connections,
    destinations,
    endpoints,
    events,
    patterns,
    permissions,
    replays,
    rules,
    tags,
    targets,
)
from busbar.api.context import Context

Handler = Callable[[Context, dict[str, Any]], Awaitable[dict[str, Any]]]

OPERATIONS: dict[str, Handler] = {
    "PutEvents": events.put_events,
    "CreateEventBus": buses.create_event_bus,
    "DescribeEventBus": buses.describe_event_bus,
    "ListEventBuses": buses.list_event_buses,
    "UpdateEventBus": buses.update_event_bus,
    "DeleteEventBus": buses.delete_event_bus,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
    "TestEventPattern": patterns.test_event_pattern,
    "PutRule": rules.put_rule,
    "DescribeRule": rules.describe_rule,
    "ListRules": rules.list_rules,
    "DeleteRule": rules.delete_rule,
    "EnableRule": rules.enable_rule,
    "DisableRule": rules.disable_rule,
    "ListRuleNamesByTarget": rules.list_rule_names_by_target,
    "PutTargets": targets.put_targets,
    "RemoveTargets": targets.remove_targets,
    "ListTargetsByRule": targets.list_targets_by_rule,
    "CreateConnection": connections.create_connection,
    "DescribeConnection": connections.describe_connection,
    "ListConnections": connections.list_connections,
    "UpdateConnection": connections.update_connection,
    "DeleteConnection": connections.delete_connection,
    "DeauthorizeConnection": connections.deauthorize_connection,
    "CreateApiDestination": destinations.create_api_destination,
    "DescribeApiDestination": destinations.describe_api_destination,
    "ListApiDestinations": destinations.list_api_destinations,
    "UpdateApiDestination": destinations.update_api_destination,
    "DeleteApiDestination": destinations.delete_api_destination,
    "PutPermission": permissions.put_permission_op,
    "RemovePermission": permissions.remove_permission_op,
    "CreateArchive": archives.create_archive,
    "DescribeArchive": archives.describe_archive,
    "ListArchives": archives.list_archives,
    "UpdateArchive": archives.update_archive,
    "DeleteArchive": archives.delete_archive,
    "StartReplay": replays.start_replay,
    "DescribeReplay": replays.describe_replay,
    "ListReplays": replays.list_replays,
    "CancelReplay": replays.cancel_replay,
    "CreateEndpoint": endpoints.create_endpoint,
    "DescribeEndpoint": endpoints.describe_endpoint,
    "ListEndpoints": endpoints.list_endpoints,
    "UpdateEndpoint": endpoints.update_endpoint,
    "DeleteEndpoint": endpoints.delete_endpoint,
}

__all__ = ["OPERATIONS", "Context", "Handler"]
