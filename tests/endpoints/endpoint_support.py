"""Support for the global endpoint tests: clients per Region, Route 53 health checks in
moto, a pair of buses with rules in two Regions, and readers of what busbar stored,
delivered and logged."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_support import eventually
from delivery_support import read_log_group
from support import ACCOUNT, REGION, BusbarProcess, unique

SECONDARY = "us-west-2"
HEALTH_INTERVAL = "0.2"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/replication"


def route53_environment(tmp: Path, moto_url: str) -> dict[str, str]:
    """The standard AWS SDK settings that send busbar's Route 53 calls (only those) to moto,
    with nothing read from the user's home."""
    return {
        "AWS_ENDPOINT_URL_ROUTE_53": moto_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def client_of(server: BusbarProcess, region: str, key: str = "test", secret: str = "test") -> Any:
    """An EventBridge client of *server* signing for *region* (SigV4a, with awscrt, for
    PutEvents with an EndpointId)."""
    return server.client(region, key, secret)


def new_health_check(route53: Any) -> tuple[str, str]:
    """A health check in moto's Route 53: (its id, its ARN)."""
    check = route53.create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={"Type": "HTTP", "IPAddress": "127.0.0.1", "Port": 80, "ResourcePath": "/"},
    )["HealthCheck"]
    return check["Id"], f"arn:aws:route53:::healthcheck/{check['Id']}"


def routing(health_check: str, secondary: str = SECONDARY) -> dict[str, Any]:
    return {"FailoverConfig": {"Primary": {"HealthCheck": health_check}, "Secondary": {"Route": secondary}}}


def wait_active(client: Any, name: str, **home: str) -> dict[str, Any]:
    """DescribeEndpoint once the endpoint has left CREATING/UPDATING."""
    described = eventually(
        lambda: (
            (found := client.describe_endpoint(Name=name, **home))["State"] not in ("CREATING", "UPDATING") and found
        )
    )
    assert described, f"endpoint {name} did not settle"
    return described


def log_lines(server: BusbarProcess, message: str, endpoint_arn: str) -> list[dict[str, Any]]:
    """The server's JSON log lines with *message* about the endpoint *endpoint_arn*."""
    found = []
    for line in server.log().splitlines():
        if message in line and endpoint_arn in line:
            found.append(json.loads(line))
    return found


def stored_buses(server: BusbarProcess) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every stored event's copies by event id: (bus key, envelope), in the order stored."""
    copies: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for event in server.store().read_events(0, 10_000_000):
        copies.setdefault(event.event_id, []).append((event.bus, json.loads(event.envelope)))
    return copies


@dataclass
class Pair:
    """Two buses named alike in the primary (us-east-1) and secondary Region, each with a
    rule that copies its events to a log group of its Region, and an endpoint over them."""

    server: BusbarProcess
    east: Any
    west: Any
    bus: str
    arns: tuple[str, str]
    group: str
    source: str
    route53: Any
    health_check_id: str
    health_check: str
    name: str = ""
    endpoint_id: str = ""
    endpoint_arn: str = ""

    def create_endpoint(self, replication: str = "DISABLED") -> dict[str, Any]:
        self.name = unique("endpoint")
        extra = {"RoleArn": ROLE} if replication == "ENABLED" else {}
        self.east.create_endpoint(
            Name=self.name,
            RoutingConfig=routing(self.health_check),
            ReplicationConfig={"State": replication},
            EventBuses=[{"EventBusArn": arn} for arn in self.arns],
            **extra,
        )
        described = wait_active(self.east, self.name)
        assert described["State"] == "ACTIVE", described
        self.endpoint_id, self.endpoint_arn = described["EndpointId"], described["Arn"]
        return described

    def put(self, count: int = 1, bus: str | None = None, client: Any = None) -> list[str]:
        """Put *count* events through the endpoint (entries name the bus); their ids."""
        answer = (client or self.east).put_events(
            EndpointId=self.endpoint_id,
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": "Placed",
                    "Detail": json.dumps({"n": n}),
                    "EventBusName": bus or self.bus,
                }
                for n in range(count)
            ],
        )
        assert answer["FailedEntryCount"] == 0, answer
        return [entry["EventId"] for entry in answer["Entries"]]

    def delivered(self, region: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The events the rule of *region* copied to its log group (waits for *count*)."""
        return read_log_group(self.server, self.group, count, timeout=timeout, region=region)

    def invert(self, inverted: bool) -> None:
        """Make the primary's health check unhealthy (inverted) or healthy, as Route 53 users do,
        and wait until busbar has logged the switch."""
        message = "endpoint fails over" if inverted else "endpoint routes to its primary Region again"
        before = len(log_lines(self.server, message, self.endpoint_arn))
        self.route53.update_health_check(HealthCheckId=self.health_check_id, Inverted=inverted)
        switched = eventually(lambda: len(log_lines(self.server, message, self.endpoint_arn)) > before)
        assert switched, f"busbar did not log {message!r}"


def make_pair(server: BusbarProcess, route53: Any, key: str = "test", secret: str = "test") -> Pair:
    east, west = client_of(server, REGION, key, secret), client_of(server, SECONDARY, key, secret)
    bus, group, source = unique("orders"), unique("group"), unique("shop")
    arns = (east.create_event_bus(Name=bus)["EventBusArn"], west.create_event_bus(Name=bus)["EventBusArn"])
    for client, region in ((east, REGION), (west, SECONDARY)):
        rule = unique("rule")
        client.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
        account = arns[0].split(":")[4]
        client.put_targets(
            Rule=rule,
            EventBusName=bus,
            Targets=[{"Id": "log", "Arn": f"arn:aws:logs:{region}:{account}:log-group:{group}"}],
        )
    check_id, check_arn = new_health_check(route53)
    return Pair(server, east, west, bus, arns, group, source, route53, check_id, check_arn)
