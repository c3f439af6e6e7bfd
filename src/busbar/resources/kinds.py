"""The kinds of resource document in the store, and how their keys are made.

Keys (see :mod:`busbar.resources.scope`)::

    event-bus        {account}/{region}/{bus}
    rule             {account}/{region}/{bus}/{rule}
    connection       {account}/{region}/{name}
    api-destination  {account}/{region}/{name}
    archive          {account}/{region}/{name}
    replay           {account}/{region}/{name}
    tags             the resource's ARN
    quota            {kind}:{account}/{region}[/{bus}]  (see busbar.resources.quotas)
    endpoint         {account}/{home region}/{name}      (see busbar.resources.endpoints)
    endpoint-health  the Route 53 health check's ARN
"""

from __future__ import annotations

from busbar.resources.scope import Scope

BUS = "event-bus"
RULE = "rule"
TAGS = "tags"
CONNECTION = "connection"
API_DESTINATION = "api-destination"
QUOTA = "quota"
ARCHIVE = "archive"
REPLAY = "replay"
ENDPOINT = "endpoint"
ENDPOINT_HEALTH = "endpoint-health"

DEFAULT_BUS = "default"


def bus_key(scope: Scope, name: str) -> str:
    return scope.key(name)


def rule_key(scope: Scope, bus: str, name: str) -> str:
    return scope.key(bus, name)


def rules_prefix(scope: Scope, bus: str) -> str:
    """The beginning of the keys of every rule of one bus."""
    return scope.key(bus, "")
