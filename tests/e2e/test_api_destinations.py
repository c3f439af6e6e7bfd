"""API destinations through real boto3 against the real server: every operation and its errors."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, REGION, error_of, unique


@pytest.fixture
def connection_arn(events) -> str:
    return events.create_connection(
        Name=unique("conn"),
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"}},
    )["ConnectionArn"]


def test_create_and_describe(events, connection_arn):
    name = unique("dest")
    created = events.create_api_destination(
        Name=name,
        ConnectionArn=connection_arn,
        Description="orders hook",
        InvocationEndpoint="https://hooks.example.com/orders/*",
        HttpMethod="POST",
    )
    arn = created["ApiDestinationArn"]
    assert re.fullmatch(rf"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/{name}/[0-9a-f-]{{36}}", arn)
    assert created["ApiDestinationState"] == "ACTIVE"
    assert isinstance(created["CreationTime"], dt.datetime)
    described = events.describe_api_destination(Name=name)
    assert described["ApiDestinationArn"] == arn and described["Name"] == name
    assert described["Description"] == "orders hook"
    assert described["ConnectionArn"] == connection_arn
    assert described["InvocationEndpoint"] == "https://hooks.example.com/orders/*"
    assert described["HttpMethod"] == "POST"
    assert described["InvocationRateLimitPerSecond"] == 300  # AWS's default
    assert described["ApiDestinationState"] == "ACTIVE"


def test_http_endpoints_are_allowed(events, connection_arn):
    # A difference from AWS (https only): busbar calls local http targets too.
    name = unique("dest")
    events.create_api_destination(
        Name=name,
        ConnectionArn=connection_arn,
        InvocationEndpoint="http://127.0.0.1:9/x",
        HttpMethod="GET",
        InvocationRateLimitPerSecond=5,
    )
    described = events.describe_api_destination(Name=name)
    assert described["InvocationEndpoint"] == "http://127.0.0.1:9/x"
    assert described["InvocationRateLimitPerSecond"] == 5


def test_create_twice(events, connection_arn):
    name = unique("dest")
    events.create_api_destination(
        Name=name, ConnectionArn=connection_arn, InvocationEndpoint="https://a.example.com", HttpMethod="PUT"
    )
    with pytest.raises(events.exceptions.ResourceAlreadyExistsException) as raised:
        events.create_api_destination(
            Name=name, ConnectionArn=connection_arn, InvocationEndpoint="https://a.example.com", HttpMethod="PUT"
        )
    assert error_of(raised) == ("ResourceAlreadyExistsException", f"An api-destination '{name}' already exists.")


def test_connection_must_exist(events, connection_arn):
    missing = f"arn:aws:events:{REGION}:{ACCOUNT}:connection/nope-{uuid.uuid4().hex[:6]}/{uuid.uuid4()}"
    with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
        events.create_api_destination(
            Name=unique("dest"), ConnectionArn=missing, InvocationEndpoint="https://a.example.com", HttpMethod="POST"
        )
    connection_name = missing.split("/")[1]
    assert error_of(raised) == (
        "ResourceNotFoundException",
        f"Failed to describe the connection(s). Connection '{connection_name}' does not exist.",
    )
    # The right name with another connection's id is another connection.
    stale = connection_arn.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.create_api_destination(
            Name=unique("dest"), ConnectionArn=stale, InvocationEndpoint="https://a.example.com", HttpMethod="POST"
        )


def test_model_and_endpoint_validation(server, events, connection_arn):
    with pytest.raises(ClientError) as raised:
        events.create_api_destination(
            Name=unique("dest"),
            ConnectionArn=connection_arn,
            InvocationEndpoint="https://a.example.com",
            HttpMethod="TRACE",
        )
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'TRACE' at 'httpMethod' failed to satisfy constraint: "
        "Member must satisfy enum value set: [HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]"  # AWS's order
    )
    # boto3 refuses a rate of 0 itself; the server does too.
    answer = server.post(
        "AWSEvents.CreateApiDestination",
        json.dumps(
            {
                "Name": unique("dest"),
                "ConnectionArn": connection_arn,
                "InvocationEndpoint": "https://a.example.com",
                "HttpMethod": "POST",
                "InvocationRateLimitPerSecond": 0,
            }
        ),
    )
    assert answer.status_code == 400
    assert answer.json()["__type"] == "ValidationException"
    assert "Member must have value greater than or equal to 1" in answer.json()["message"]
    with pytest.raises(ClientError) as raised:
        events.create_api_destination(
            Name=unique("dest"), ConnectionArn=connection_arn, InvocationEndpoint="a.example.com/x", HttpMethod="POST"
        )
    assert error_of(raised) == (
        "ValidationException",
        "Parameter InvocationEndpoint is not valid. Reason: "
        "a.example.com/x is not an http:// or https:// URL with a host.",
    )


def test_missing_destination_errors(events):
    name = unique("dest")
    calls = [
        lambda: events.describe_api_destination(Name=name),
        lambda: events.update_api_destination(Name=name, Description="x"),
        lambda: events.delete_api_destination(Name=name),
    ]
    for call in calls:
        with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
            call()
        assert error_of(raised) == (
            "ResourceNotFoundException",
            f"Failed to describe the api-destination(s). An api-destination '{name}' does not exist.",
        )


def test_update(events, connection_arn):
    name = unique("dest")
    created = events.create_api_destination(
        Name=name, ConnectionArn=connection_arn, InvocationEndpoint="https://a.example.com", HttpMethod="POST"
    )
    other = events.create_connection(
        Name=unique("conn"),
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )["ConnectionArn"]
    updated = events.update_api_destination(
        Name=name,
        ConnectionArn=other,
        HttpMethod="PATCH",
        InvocationEndpoint="https://b.example.com/v2",
        InvocationRateLimitPerSecond=20,
    )
    assert updated["ApiDestinationArn"] == created["ApiDestinationArn"]
    assert updated["ApiDestinationState"] == "ACTIVE"
    described = events.describe_api_destination(Name=name)
    assert (
        described["ConnectionArn"],
        described["HttpMethod"],
        described["InvocationEndpoint"],
        described["InvocationRateLimitPerSecond"],
    ) == (other, "PATCH", "https://b.example.com/v2", 20)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.update_api_destination(Name=name, ConnectionArn=other.rsplit("/", 1)[0] + f"/{uuid.uuid4()}")


def test_state_follows_the_connection(events):
    connection = unique("conn")
    arn = events.create_connection(
        Name=connection,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )["ConnectionArn"]
    name = unique("dest")
    events.create_api_destination(
        Name=name, ConnectionArn=arn, InvocationEndpoint="https://a.example.com", HttpMethod="POST"
    )
    events.deauthorize_connection(Name=connection)
    assert events.describe_api_destination(Name=name)["ApiDestinationState"] == "INACTIVE"
    events.update_connection(Name=connection, AuthParameters={"BasicAuthParameters": {"Password": "q"}})
    assert events.describe_api_destination(Name=name)["ApiDestinationState"] == "ACTIVE"
    # As in AWS, a connection in use can be deleted; its destinations become INACTIVE.
    events.delete_connection(Name=connection)
    assert events.describe_api_destination(Name=name)["ApiDestinationState"] == "INACTIVE"


def test_list_with_prefix_connection_and_pages(events, connection_arn):
    prefix = unique("list")
    names = [f"{prefix}-{i:02d}" for i in range(5)]
    for name in names:
        events.create_api_destination(
            Name=name, ConnectionArn=connection_arn, InvocationEndpoint="https://a.example.com", HttpMethod="POST"
        )
    listed = events.list_api_destinations(NamePrefix=prefix)["ApiDestinations"]
    assert [d["Name"] for d in listed] == names
    assert set(listed[0]) == {
        "ApiDestinationArn",
        "Name",
        "ApiDestinationState",
        "ConnectionArn",
        "InvocationEndpoint",
        "HttpMethod",
        "InvocationRateLimitPerSecond",
        "CreationTime",
        "LastModifiedTime",
    }
    by_connection = events.list_api_destinations(ConnectionArn=connection_arn)["ApiDestinations"]
    assert [d["Name"] for d in by_connection] == names
    seen, token = [], None
    while True:
        page = events.list_api_destinations(NamePrefix=prefix, Limit=2, **({"NextToken": token} if token else {}))
        seen += [d["Name"] for d in page["ApiDestinations"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names


def test_delete(events, connection_arn):
    name = unique("dest")
    events.create_api_destination(
        Name=name, ConnectionArn=connection_arn, InvocationEndpoint="https://a.example.com", HttpMethod="DELETE"
    )
    assert events.delete_api_destination(Name=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_api_destination(Name=name)
