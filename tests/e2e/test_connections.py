"""Connections through real boto3 against the real server: every operation, its
errors, and that no secret ever comes back."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, REGION, error_of, unique

SECRETS = ("s3cret-password", "s3cret-api-key", "s3cret-client", "s3cret-header", "s3cret-query", "s3cret-body")


def assert_no_secret(answer: dict) -> None:
    text = json.dumps(answer, default=str)
    for secret in SECRETS:
        assert secret not in text


def basic(name: str, events, **extra):
    return events.create_connection(
        Name=name,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "ann", "Password": "s3cret-password"}, **extra},
    )


def test_create_basic_and_describe_without_secrets(events):
    name = unique("conn")
    created = basic(
        name,
        events,
        InvocationHttpParameters={
            "HeaderParameters": [
                {"Key": "X-Team", "Value": "shop", "IsValueSecret": False},
                {"Key": "X-Token", "Value": "s3cret-header", "IsValueSecret": True},
            ],
            "QueryStringParameters": [{"Key": "sig", "Value": "s3cret-query", "IsValueSecret": True}],
            "BodyParameters": [{"Key": "extra", "Value": "s3cret-body", "IsValueSecret": True}],
        },
    )
    arn = created["ConnectionArn"]
    assert re.fullmatch(rf"arn:aws:events:{REGION}:{ACCOUNT}:connection/{name}/[0-9a-f-]{{36}}", arn)
    assert created["ConnectionState"] == "AUTHORIZED"
    assert isinstance(created["CreationTime"], dt.datetime)
    described = events.describe_connection(Name=name)
    assert_no_secret(described)
    assert described["ConnectionArn"] == arn and described["Name"] == name
    assert described["AuthorizationType"] == "BASIC"
    assert described["ConnectionState"] == "AUTHORIZED"
    # AWS's shape: the secret has an id of its own (not the connection's) and a six-character suffix.
    unique_part = arn.rsplit("/", 1)[1]
    secret_id = described["SecretArn"].rsplit("/", 1)[1]
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:events!connection/{name}/[0-9a-f-]{{36}}-[A-Za-z0-9]{{6}}",
        described["SecretArn"],
    )
    assert not secret_id.startswith(unique_part)
    assert "LastAuthorizedTime" not in created  # CreateConnection's answer has none, as AWS's
    assert isinstance(described["LastAuthorizedTime"], dt.datetime)
    auth = described["AuthParameters"]
    assert auth["BasicAuthParameters"] == {"Username": "ann"}
    headers = auth["InvocationHttpParameters"]["HeaderParameters"]
    assert headers == [
        {"Key": "X-Team", "Value": "shop", "IsValueSecret": False},
        {"Key": "X-Token", "IsValueSecret": True},
    ]
    assert auth["InvocationHttpParameters"]["QueryStringParameters"] == [{"Key": "sig", "IsValueSecret": True}]


def test_create_api_key_and_oauth(events):
    key_name = unique("key")
    created = events.create_connection(
        Name=key_name,
        AuthorizationType="API_KEY",
        Description="partner key",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret-api-key"}},
    )
    assert created["ConnectionState"] == "AUTHORIZED"
    described = events.describe_connection(Name=key_name)
    assert_no_secret(described)
    assert described["Description"] == "partner key"
    assert described["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"}}

    oauth_name = unique("oauth")
    created = events.create_connection(
        Name=oauth_name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "client-1", "ClientSecret": "s3cret-client"},
                "AuthorizationEndpoint": "https://auth.example.com/oauth/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "scope", "Value": "events", "IsValueSecret": False}]
                },
            }
        },
    )
    # Authorized once busbar fetched a token (on the first invocation).
    assert created["ConnectionState"] == "AUTHORIZING"
    described = events.describe_connection(Name=oauth_name)
    assert_no_secret(described)
    assert isinstance(described["LastAuthorizedTime"], dt.datetime)  # as AWS answers, while AUTHORIZING too
    assert described["AuthParameters"]["OAuthParameters"] == {
        "ClientParameters": {"ClientID": "client-1"},
        "AuthorizationEndpoint": "https://auth.example.com/oauth/token",
        "HttpMethod": "POST",
        "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "events", "IsValueSecret": False}]},
    }


def test_create_twice(events):
    name = unique("conn")
    basic(name, events)
    with pytest.raises(events.exceptions.ResourceAlreadyExistsException) as raised:
        basic(name, events)
    assert error_of(raised) == ("ResourceAlreadyExistsException", f"Connection {name} already exists.")


def test_missing_connection_errors(events):
    name = unique("conn")
    calls = [
        lambda: events.describe_connection(Name=name),
        lambda: events.update_connection(Name=name, Description="x"),
        lambda: events.delete_connection(Name=name),
        lambda: events.deauthorize_connection(Name=name),
    ]
    for call in calls:
        with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
            call()
        assert error_of(raised) == (
            "ResourceNotFoundException",
            f"Failed to describe the connection(s). Connection '{name}' does not exist.",
        )


def test_auth_parameters_must_fit_the_type(events):
    cases = [
        (
            "BASIC",
            {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
            "ApiKeyAuthParameters cannot be specified for authorization type BASIC; specify only BasicAuthParameters.",
        ),
        ("API_KEY", {}, "ApiKeyAuthParameters must be specified for authorization type API_KEY."),
    ]
    for auth_type, params, message in cases:
        with pytest.raises(ClientError) as raised:
            events.create_connection(Name=unique("conn"), AuthorizationType=auth_type, AuthParameters=params)
        assert error_of(raised) == ("ValidationException", message)


def test_model_validation(events):
    with pytest.raises(ClientError) as raised:
        events.create_connection(
            Name="bad name",
            AuthorizationType="BASIC",
            AuthParameters={"BasicAuthParameters": {"Username": "a", "Password": "b"}},
        )
    assert error_of(raised) == (
        "ValidationException",
        "1 validation error detected: Value 'bad name' at 'name' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
    )


def test_update_merges_auth_parameters(events):
    name = unique("conn")
    basic(
        name,
        events,
        InvocationHttpParameters={
            "HeaderParameters": [{"Key": "X-A", "Value": "1", "IsValueSecret": False}],
            "QueryStringParameters": [{"Key": "q", "Value": "2", "IsValueSecret": False}],
        },
    )
    before = events.describe_connection(Name=name)
    # Only the password: the user name and the invocation parameters are kept.
    updated = events.update_connection(Name=name, AuthParameters={"BasicAuthParameters": {"Password": "new-pass"}})
    assert updated["ConnectionArn"] == before["ConnectionArn"]
    assert updated["ConnectionState"] == "AUTHORIZED"
    after = events.describe_connection(Name=name)
    assert after["AuthParameters"]["BasicAuthParameters"] == {"Username": "ann"}
    assert after["AuthParameters"]["InvocationHttpParameters"]["QueryStringParameters"] == [
        {"Key": "q", "Value": "2", "IsValueSecret": False}
    ]
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]
    # A given list replaces that list only.
    events.update_connection(
        Name=name,
        Description="d",
        AuthParameters={
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "X-B", "Value": "3", "IsValueSecret": False}]}
        },
    )
    after = events.describe_connection(Name=name)
    assert after["Description"] == "d"
    assert after["AuthParameters"]["InvocationHttpParameters"] == {
        "HeaderParameters": [{"Key": "X-B", "Value": "3", "IsValueSecret": False}],
        "QueryStringParameters": [{"Key": "q", "Value": "2", "IsValueSecret": False}],
    }


def test_update_changes_the_type(events):
    name = unique("conn")
    basic(name, events)
    with pytest.raises(ClientError) as raised:
        events.update_connection(
            Name=name, AuthorizationType="API_KEY", AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-key"}}
        )
    assert error_of(raised) == (
        "ValidationException",
        "ApiKeyAuthParameters.ApiKeyValue must be specified for authorization type API_KEY.",
    )
    events.update_connection(
        Name=name,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "s3cret-api-key"}},
    )
    described = events.describe_connection(Name=name)
    assert_no_secret(described)
    assert described["AuthorizationType"] == "API_KEY"
    assert described["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "x-key"}}
    # To OAuth: authorizing again until busbar has a token.
    updated = events.update_connection(
        Name=name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "c", "ClientSecret": "s3cret-client"},
                "AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "GET",
            }
        },
    )
    assert updated["ConnectionState"] == "AUTHORIZING"


def test_deauthorize_then_update_authorizes_again(events):
    name = unique("conn")
    basic(name, events)
    answer = events.deauthorize_connection(Name=name)
    assert answer["ConnectionState"] == "DEAUTHORIZING"
    described = events.describe_connection(Name=name)
    assert described["ConnectionState"] == "DEAUTHORIZED"
    assert described["StateReason"]
    assert described["AuthParameters"]["BasicAuthParameters"] == {"Username": "ann"}
    # A description alone does not authorize it again ...
    events.update_connection(Name=name, Description="still off")
    assert events.describe_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    # ... and the removed password must be given again.
    with pytest.raises(ClientError) as raised:
        events.update_connection(Name=name, AuthParameters={"BasicAuthParameters": {"Username": "bob"}})
    assert error_of(raised) == (
        "ValidationException",
        "BasicAuthParameters.Password must be specified for authorization type BASIC.",
    )
    answer = events.update_connection(Name=name, AuthParameters={"BasicAuthParameters": {"Password": "again"}})
    assert answer["ConnectionState"] == "AUTHORIZED"
    described = events.describe_connection(Name=name)
    assert described["ConnectionState"] == "AUTHORIZED" and "StateReason" not in described


def test_list_with_prefix_state_and_pages(events):
    prefix = unique("list")
    names = [f"{prefix}-{i:02d}" for i in range(5)]
    for name in names:
        basic(name, events)
    events.deauthorize_connection(Name=names[1])
    listed = events.list_connections(NamePrefix=prefix)["Connections"]
    assert [c["Name"] for c in listed] == names
    assert_no_secret({"c": listed})
    assert set(listed[0]) == {
        "ConnectionArn",
        "Name",
        "ConnectionState",
        "AuthorizationType",
        "CreationTime",
        "LastModifiedTime",
        "LastAuthorizedTime",
    }
    off = events.list_connections(NamePrefix=prefix, ConnectionState="DEAUTHORIZED")["Connections"]
    assert [c["Name"] for c in off] == [names[1]]
    seen, token = [], None
    while True:
        page = events.list_connections(NamePrefix=prefix, Limit=2, **({"NextToken": token} if token else {}))
        seen += [c["Name"] for c in page["Connections"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names


def test_delete(events):
    name = unique("conn")
    arn = basic(name, events)["ConnectionArn"]
    answer = events.delete_connection(Name=name)
    assert answer["ConnectionArn"] == arn and answer["ConnectionState"] == "DELETING"
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_connection(Name=name)
    # The name is free again, under a new ARN.
    assert basic(name, events)["ConnectionArn"] != arn


def test_connections_survive_restart(fresh_server):
    client = fresh_server.start().client()
    client.create_connection(
        Name="kept",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "s3cret-api-key"}},
    )
    assert fresh_server.stop() == 0
    client = fresh_server.start().client()
    described = client.describe_connection(Name="kept")
    assert described["ConnectionState"] == "AUTHORIZED"
    assert described["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "k"}}
    assert fresh_server.stop() == 0
    assert "s3cret" not in fresh_server.log()
