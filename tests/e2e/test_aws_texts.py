"""Where busbar was stricter than AWS, or used its own words where AWS's are known
(issue #11): connections and API destinations as AWS recorded them
(conformance/connections-aws.snapshot.json), and texts AWS is known to use."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from delivery_support import put
from httptarget import HttpTarget
from support import error_of, unique

SNAPSHOT = json.loads((CONFORMANCE / "connections-aws.snapshot.json").read_text())
PREFIX = "tests/aws/services/events/test_api_destinations_and_connection.py::"


def recorded(test: str, key: str) -> Any:
    return SNAPSHOT[PREFIX + test]["recorded-content"][key]


def test_validation_messages_list_enums_and_errors_as_aws_does(events):
    want = recorded(
        "TestEventBridgeApiDestinations::test_create_api_destination_invalid_parameters",
        "create-api-destination-invalid-parameters-error",
    )["Error"]
    with pytest.raises(ClientError) as raised:
        events.create_api_destination(
            Name=unique("dest"),
            ConnectionArn="invalid-connection-arn",
            HttpMethod="INVALID_METHOD",
            InvocationEndpoint="invalid-endpoint",
        )
    assert error_of(raised) == (want["Code"], want["Message"])
    want = recorded(
        "TestEventBridgeConnections::test_create_connection_invalid_parameters", "create-connection-invalid-auth-error"
    )["Error"]
    with pytest.raises(ClientError) as raised:
        events.create_connection(
            Name=unique("conn"),
            AuthorizationType="INVALID_AUTH_TYPE",
            AuthParameters={"BasicAuthParameters": {"Username": "user", "Password": "pass"}},
        )
    assert error_of(raised) == (want["Code"], want["Message"])
    want = recorded(
        "TestEventBridgeConnections::test_create_connection_name_validation", "create-connection-invalid-name-error"
    )["Error"]
    with pytest.raises(ClientError) as raised:
        events.create_connection(
            Name="Invalid Name With Spaces!",
            AuthorizationType="BASIC",
            AuthParameters={"BasicAuthParameters": {"Username": "user", "Password": "pass"}},
        )
    assert error_of(raised) == (want["Code"], want["Message"])


def _wait_for_state(events: Any, name: str, state: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = events.describe_connection(Name=name)
        if described["ConnectionState"] == state or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_an_oauth_connection_is_checked_as_aws_checks_it_and_fails_when_it_authorizes(events):
    # What AWS accepted (test_api_destinations[auth2]): a lower-case HttpMethod and an
    # AuthorizationEndpoint that is no URL.
    name = unique("oauth")
    created = events.create_connection(
        Name=name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "AuthorizationEndpoint": "replace_this",
                "ClientParameters": {"ClientID": "id", "ClientSecret": "password"},
                "HttpMethod": "put",
            }
        },
    )
    case = "TestEventBridgeConnections::test_create_connection_with_auth[auth_params2]"
    assert set(created) - {"ResponseMetadata"} == set(recorded(case, "create-connection-auth")) - {"ResponseMetadata"}
    described = events.describe_connection(Name=name)
    assert set(described) - {"ResponseMetadata"} == set(recorded(case, "describe-connection-auth")) - {
        "ResponseMetadata"
    }
    assert described["ConnectionState"] == "AUTHORIZING"
    destination = events.create_api_destination(
        Name=unique("dest"),
        ConnectionArn=created["ConnectionArn"],
        HttpMethod="POST",
        InvocationEndpoint="https://x.example",
    )["ApiDestinationArn"]
    source = unique("src")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": destination}])
    put(events, {"n": 1}, source=source)
    described = _wait_for_state(events, name, "DEAUTHORIZED")
    assert described["ConnectionState"] == "DEAUTHORIZED"
    assert described["StateReason"] == "The authorization endpoint is not a URL a request can be sent to."


def test_http_methods_in_any_case_as_aws_takes_them(events, target: HttpTarget):
    connection = events.create_connection(
        Name=unique("conn"),
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "v"}},
    )["ConnectionArn"]
    destination = events.create_api_destination(
        Name=unique("dest"), ConnectionArn=connection, HttpMethod="put", InvocationEndpoint=target.url + "/lower"
    )["ApiDestinationArn"]
    source, rule = unique("src"), unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": destination}])
    put(events, {"n": 1}, source=source)
    [received] = target.wait_for(1, "/lower")
    assert received.method == "PUT"


def test_texts_aws_is_known_to_use(events):
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="not/partner")
    assert error_of(raised) == ("ValidationException", "Event bus name must not contain '/'.")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["x"]}))
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": "not-an-arn"}])
    assert error_of(raised) == (
        "ValidationException",
        "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.",
    )
