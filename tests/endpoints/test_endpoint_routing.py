"""PutEvents through a global endpoint, end to end: boto3 signs it with SigV4a (awscrt), busbar
puts the entries on the primary Region's bus while its Route 53 health check (moto's) is
healthy, on the secondary's while it is unhealthy, and copies each event to the other
Region's bus when replication is on."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from aws_support import eventually
from endpoint_support import SECONDARY, Pair, log_lines, routing, stored_buses, wait_active
from support import ACCOUNT, REGION, error_of, unique


def test_events_go_to_the_primary_regions_bus_and_its_rules(pair: Pair):
    pair.create_endpoint()
    ids = pair.put(3)
    delivered = pair.delivered(REGION, 3)
    assert sorted(event["id"] for event in delivered) == sorted(ids)  # delivered concurrently: any order
    assert {(event["region"], event["account"]) for event in delivered} == {(REGION, ACCOUNT)}
    copies = stored_buses(pair.server)
    assert [[bus for bus, _ in copies[event_id]] for event_id in ids] == [[f"{ACCOUNT}/{REGION}/{pair.bus}"]] * 3


def test_an_unhealthy_primary_sends_new_events_to_the_secondary_and_back(pair: Pair):
    pair.create_endpoint()
    [first] = pair.put()
    pair.invert(True)
    during = pair.put(2)
    delivered = pair.delivered(SECONDARY, 2)
    assert sorted(event["id"] for event in delivered) == sorted(during)
    assert {event["region"] for event in delivered} == {SECONDARY}
    pair.invert(False)
    [after] = pair.put()
    assert sorted(event["id"] for event in pair.delivered(REGION, 2)) == sorted([first, after])
    copies = stored_buses(pair.server)
    assert {event_id: [bus for bus, _ in copies[event_id]] for event_id in [first, *during, after]} == {
        first: [f"{ACCOUNT}/{REGION}/{pair.bus}"],
        during[0]: [f"{ACCOUNT}/{SECONDARY}/{pair.bus}"],
        during[1]: [f"{ACCOUNT}/{SECONDARY}/{pair.bus}"],
        after: [f"{ACCOUNT}/{REGION}/{pair.bus}"],
    }
    # Every switch is logged, naming both Regions and why.
    [failed_over] = log_lines(pair.server, "endpoint fails over", pair.endpoint_arn)
    assert (failed_over["from_region"], failed_over["to_region"], failed_over["endpoint_id"]) == (
        REGION,
        SECONDARY,
        pair.endpoint_id,
    )
    assert failed_over["reason"].endswith("the health check is inverted")
    [back] = log_lines(pair.server, "endpoint routes to its primary Region again", pair.endpoint_arn)
    assert (back["from_region"], back["to_region"]) == (SECONDARY, REGION)


def test_replication_puts_every_event_on_both_buses(pair: Pair):
    pair.create_endpoint(replication="ENABLED")
    ids = pair.put(2)
    for region in (REGION, SECONDARY):
        assert sorted(event["id"] for event in pair.delivered(region, 2)) == sorted(ids)
    primary = {event["id"]: event for event in pair.delivered(REGION, 2)}
    replica = {event["id"]: event for event in pair.delivered(SECONDARY, 2)}
    for event_id in ids:
        # The replica keeps the event's id and the Region it was put in, and names the endpoint.
        assert primary[event_id]["resources"] == []
        assert replica[event_id]["resources"] == [pair.endpoint_arn]
        assert primary[event_id]["region"] == replica[event_id]["region"] == REGION
        assert {k: v for k, v in replica[event_id].items() if k != "resources"} == {
            k: v for k, v in primary[event_id].items() if k != "resources"
        }

    # Failed over, the secondary takes the event and the primary gets the copy.
    pair.invert(True)
    [during] = pair.put()
    original = next(e for e in pair.delivered(SECONDARY, 3) if e["id"] == during)
    copy = next(e for e in pair.delivered(REGION, 3) if e["id"] == during)
    assert (original["region"], original["resources"]) == (SECONDARY, [])
    assert (copy["region"], copy["resources"]) == (SECONDARY, [pair.endpoint_arn])
    pair.invert(False)


def test_replication_turned_off_by_update(pair: Pair):
    pair.create_endpoint(replication="ENABLED")
    [replicated] = pair.put()
    pair.east.update_endpoint(Name=pair.name, ReplicationConfig={"State": "DISABLED"})
    assert wait_active(pair.east, pair.name)["ReplicationConfig"] == {"State": "DISABLED"}
    [alone] = pair.put()
    assert [e["id"] for e in pair.delivered(REGION, 2)] == [replicated, alone]
    copies = stored_buses(pair.server)
    assert len(copies[replicated]) == 2
    assert [bus for bus, _ in copies[alone]] == [f"{ACCOUNT}/{REGION}/{pair.bus}"]


def test_entries_name_the_bus_by_name_or_by_either_regions_arn(pair: Pair):
    pair.create_endpoint()
    by_secondary_arn = pair.put(bus=pair.arns[1])
    by_primary_arn = pair.put(bus=pair.arns[0])
    assert [e["id"] for e in pair.delivered(REGION, 2)] == by_secondary_arn + by_primary_arn
    answer = pair.east.put_events(
        EndpointId=pair.endpoint_id,
        Entries=[
            {"Source": pair.source, "DetailType": "d", "Detail": "{}", "EventBusName": "default"},
            {"Source": pair.source, "DetailType": "d", "Detail": "{}"},
            {"Source": pair.source, "DetailType": "d", "Detail": "{}", "EventBusName": pair.bus},
        ],
    )
    assert answer["FailedEntryCount"] == 2
    for refused, given in zip(answer["Entries"][:2], ["default", "default"], strict=True):
        assert refused == {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": f"Parameter EventBusName is not valid. Reason: endpoint {pair.name} sends events to "
            f"event bus {pair.bus} ({pair.arns[0]} or {pair.arns[1]}), not {given}.",
        }
    assert "EventId" in answer["Entries"][2]


def test_an_endpoint_id_that_does_not_exist_fails_the_request(pair: Pair):
    with pytest.raises(ClientError) as raised:
        pair.east.put_events(
            EndpointId="abcde.xyz", Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "x"}]
        )
    assert error_of(raised) == ("ResourceNotFoundException", "Endpoint abcde.xyz does not exist.")


def test_an_endpoint_that_failed_to_create_takes_no_events(pair: Pair):
    name, bus = unique("endpoint"), unique("lonely")
    present = pair.east.create_event_bus(Name=bus)["EventBusArn"]
    pair.east.create_endpoint(
        Name=name,
        RoutingConfig=routing(pair.health_check),
        ReplicationConfig={"State": "DISABLED"},
        EventBuses=[{"EventBusArn": present}, {"EventBusArn": present.replace(REGION, SECONDARY)}],
    )
    failed = wait_active(pair.east, name)
    assert failed["State"] == "CREATE_FAILED"
    with pytest.raises(ClientError) as raised:
        pair.east.put_events(
            EndpointId=failed["EndpointId"], Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]
        )
    assert error_of(raised) == (
        "IllegalStatusException",
        f"Endpoint {name} is CREATE_FAILED; it takes events once it is ACTIVE.",
    )


def test_a_health_check_route53_cannot_read_keeps_the_primary(pair: Pair):
    pair.health_check = f"arn:aws:route53:::healthcheck/{uuid.uuid4()}"  # not in moto's Route 53
    pair.create_endpoint()
    warned = eventually(
        lambda: [
            line
            for line in pair.server.log().splitlines()
            if "Route 53 health check cannot be read" in line and pair.health_check in line
        ]
    )
    assert warned and "NoSuchHealthCheck" in warned[0]
    ids = pair.put()
    assert [e["id"] for e in pair.delivered(REGION, 1)] == ids


def test_a_calculated_health_check_follows_its_children(pair: Pair):
    child = pair.health_check_id
    parent = pair.route53.create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": [child], "HealthThreshold": 1},
    )["HealthCheck"]["Id"]
    pair.health_check = f"arn:aws:route53:::healthcheck/{parent}"
    pair.create_endpoint()
    pair.invert(True)  # the child: the calculated parent has none of its one child healthy
    ids = pair.put()
    assert [e["id"] for e in pair.delivered(SECONDARY, 1)] == ids
    pair.invert(False)
