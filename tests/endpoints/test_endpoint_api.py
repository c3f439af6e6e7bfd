"""The endpoint operations through boto3: AWS's shapes, states, validation and paging."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from aws_support import eventually
from endpoint_support import ROLE, SECONDARY, client_of, routing, wait_active
from support import ACCOUNT, REGION, error_of, unique


@pytest.fixture
def east(endpoint_busbar):  # noqa: ANN001, ANN201
    return client_of(endpoint_busbar, REGION)


@pytest.fixture
def west(endpoint_busbar):  # noqa: ANN001, ANN201
    return client_of(endpoint_busbar, SECONDARY)


@pytest.fixture
def buses(east, west) -> list[dict[str, str]]:  # noqa: ANN001
    name = unique("orders")
    return [
        {"EventBusArn": east.create_event_bus(Name=name)["EventBusArn"]},
        {"EventBusArn": west.create_event_bus(Name=name)["EventBusArn"]},
    ]


HEALTH = "arn:aws:route53:::healthcheck/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"


def test_create_answers_creating_then_describe_shows_it_active(east, buses):
    name = unique("endpoint")
    created = east.create_endpoint(
        Name=name, Description="orders, twice", RoutingConfig=routing(HEALTH), EventBuses=buses, RoleArn=ROLE
    )
    created.pop("ResponseMetadata")
    assert created == {
        "Name": name,
        "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:endpoint/{name}",
        "RoutingConfig": routing(HEALTH),
        "ReplicationConfig": {"State": "ENABLED"},  # AWS's default
        "EventBuses": buses,
        "RoleArn": ROLE,
        "State": "CREATING",
    }
    described = wait_active(east, name)
    assert described["State"] == "ACTIVE"
    assert re.fullmatch(r"[a-z0-9]{5}\.[a-z0-9]{3}", described["EndpointId"])
    assert described["EndpointUrl"] == f"https://{described['EndpointId']}.endpoint.events.amazonaws.com"
    assert described["Description"] == "orders, twice"
    assert described["CreationTime"] == described["LastModifiedTime"]
    assert "StateReason" not in described


def test_an_endpoint_over_a_bus_that_does_not_exist_fails_to_create(east):
    name, bus = unique("endpoint"), unique("lonely")
    present = east.create_event_bus(Name=bus)["EventBusArn"]
    missing = f"arn:aws:events:{SECONDARY}:{ACCOUNT}:event-bus/{bus}"
    east.create_endpoint(
        Name=name,
        RoutingConfig=routing(HEALTH),
        ReplicationConfig={"State": "DISABLED"},
        EventBuses=[{"EventBusArn": present}, {"EventBusArn": missing}],
    )
    described = wait_active(east, name)
    assert (described["State"], described["StateReason"]) == ("CREATE_FAILED", f"Event bus {missing} does not exist.")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda buses: [buses[0], {"EventBusArn": buses[0]["EventBusArn"]}],
            "Parameter EventBuses is not valid. Reason: the two event buses must be in different Regions.",
        ),
        (
            lambda buses: [buses[0], {"EventBusArn": f"arn:aws:events:{SECONDARY}:{ACCOUNT}:event-bus/other"}],
            "Parameter EventBuses is not valid. Reason: the two event buses must have the same name.",
        ),
        (
            lambda buses: [buses[0], {"EventBusArn": buses[1]["EventBusArn"].replace(ACCOUNT, "999999999999")}],
            f"Parameter EventBuses is not valid. Reason: the event buses must belong to account {ACCOUNT}.",
        ),
        (
            lambda buses: [
                {"EventBusArn": buses[0]["EventBusArn"].replace(REGION, "eu-west-1")},
                buses[1],
            ],
            f"Parameter EventBuses is not valid. Reason: one event bus must be in {REGION}, the Region the "
            "endpoint is made in (its primary Region).",
        ),
    ],
)
def test_the_two_buses_must_fit_together(east, buses, change, message):
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(
            Name=unique("endpoint"),
            RoutingConfig=routing(HEALTH),
            ReplicationConfig={"State": "DISABLED"},
            EventBuses=change(buses),
        )
    assert error_of(raised) == ("ValidationException", message)


def test_the_secondary_route_is_the_other_buss_region(east, buses):
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(
            Name=unique("endpoint"),
            RoutingConfig=routing(HEALTH, secondary="eu-west-1"),
            ReplicationConfig={"State": "DISABLED"},
            EventBuses=buses,
        )
    assert error_of(raised) == (
        "ValidationException",
        "Parameter RoutingConfig.FailoverConfig.Secondary.Route is not valid. "
        f"Reason: it must be {SECONDARY}, the Region of the other event bus.",
    )


def test_replication_needs_a_role(east, buses):
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(Name=unique("endpoint"), RoutingConfig=routing(HEALTH), EventBuses=buses)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message.startswith("Parameter RoleArn is not valid. Reason: RoleArn is required while event replication")


def test_the_model_checks_the_health_check_and_the_bus_count(east, buses):
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(
            Name=unique("endpoint"),
            RoutingConfig=routing("arn:aws:route53:::hostedzone/Z1"),
            EventBuses=buses,
            RoleArn=ROLE,
        )
    assert error_of(raised) == (
        "ValidationException",
        "1 validation error detected: Value 'arn:aws:route53:::hostedzone/Z1' at "
        "'routingConfig.failoverConfig.primary.healthCheck' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: ^arn:aws([a-z]|\\-)*:route53:::healthcheck/[\\-a-z0-9]+$",
    )
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(Name=unique("endpoint"), RoutingConfig=routing(HEALTH), EventBuses=buses * 2)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message.endswith(
        "at 'eventBuses' failed to satisfy constraint: Member must have length less than or equal to 2"
    )


def test_names_are_unique_per_region(east, west, buses):
    name = unique("endpoint")
    arguments = {
        "RoutingConfig": routing(HEALTH),
        "ReplicationConfig": {"State": "DISABLED"},
        "EventBuses": buses,
    }
    east.create_endpoint(Name=name, **arguments)
    with pytest.raises(ClientError) as raised:
        east.create_endpoint(Name=name, **arguments)
    assert error_of(raised) == ("ResourceAlreadyExistsException", f"Endpoint {name} already exists.")


def test_describe_update_and_delete_of_an_unknown_endpoint(east):
    name = unique("nothing")
    for call in (east.describe_endpoint, east.update_endpoint, east.delete_endpoint):
        with pytest.raises(ClientError) as raised:
            call(Name=name)
        assert error_of(raised) == ("ResourceNotFoundException", f"Endpoint {name} does not exist.")


def test_home_region_names_where_an_endpoint_lives(east, west, buses):
    name = unique("endpoint")
    east.create_endpoint(
        Name=name, RoutingConfig=routing(HEALTH), ReplicationConfig={"State": "DISABLED"}, EventBuses=buses
    )
    with pytest.raises(ClientError):
        west.describe_endpoint(Name=name)
    assert wait_active(west, name, HomeRegion=REGION)["Name"] == name
    assert name in [e["Name"] for e in west.list_endpoints(HomeRegion=REGION)["Endpoints"]]
    assert name not in [e["Name"] for e in west.list_endpoints()["Endpoints"]]


def test_list_by_prefix_in_pages(east, buses):
    prefix = unique("paged")
    names = [f"{prefix}-{n}" for n in range(5)]
    for name in names:
        east.create_endpoint(
            Name=name, RoutingConfig=routing(HEALTH), ReplicationConfig={"State": "DISABLED"}, EventBuses=buses
        )
    seen, token = [], None
    pages = 0
    while True:
        page = east.list_endpoints(NamePrefix=prefix, MaxResults=2, **({"NextToken": token} if token else {}))
        pages += 1
        seen += [endpoint["Name"] for endpoint in page["Endpoints"]]
        assert all(endpoint["EventBuses"] == buses for endpoint in page["Endpoints"])
        token = page.get("NextToken")
        if token is None:
            break
    assert (seen, pages) == (names, 3)


def test_update_goes_through_updating_and_keeps_the_id(east, buses):
    name = unique("endpoint")
    east.create_endpoint(
        Name=name, RoutingConfig=routing(HEALTH), ReplicationConfig={"State": "DISABLED"}, EventBuses=buses
    )
    before = wait_active(east, name)
    updated = east.update_endpoint(
        Name=name, Description="now replicated", ReplicationConfig={"State": "ENABLED"}, RoleArn=ROLE
    )
    assert (updated["State"], updated["EndpointId"], updated["ReplicationConfig"]) == (
        "UPDATING",
        before["EndpointId"],
        {"State": "ENABLED"},
    )
    after = wait_active(east, name)
    assert (after["State"], after["Description"], after["RoleArn"]) == ("ACTIVE", "now replicated", ROLE)
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    with pytest.raises(ClientError) as raised:  # the merged configuration is checked too
        east.update_endpoint(Name=name, RoutingConfig=routing(HEALTH, secondary="eu-west-1"))
    assert error_of(raised)[0] == "ValidationException"


def test_delete_goes_through_deleting(east, buses):
    name = unique("endpoint")
    east.create_endpoint(
        Name=name, RoutingConfig=routing(HEALTH), ReplicationConfig={"State": "DISABLED"}, EventBuses=buses
    )
    wait_active(east, name)
    assert east.delete_endpoint(Name=name)["ResponseMetadata"]["HTTPStatusCode"] == 200

    def gone() -> bool:
        try:
            east.describe_endpoint(Name=name)
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    assert eventually(gone)
    # The name is free again.
    east.create_endpoint(
        Name=name, RoutingConfig=routing(HEALTH), ReplicationConfig={"State": "DISABLED"}, EventBuses=buses
    )
    assert wait_active(east, name)["State"] == "ACTIVE"
