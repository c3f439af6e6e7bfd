"""Bad input stays cheap and says nothing secret: error messages quote a bounded
prefix of a value, stop after a bounded number of failures, refuse a list over its
model limit without checking its items, never quote a member the model marks
``sensitive``, and bodies over the size cap are refused unread."""

from __future__ import annotations

import json

import pytest

ENTRY_LIMIT_FAILURE = "' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"


def test_a_million_empty_entries_are_refused_cheaply(server):
    body = b'{"Entries": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    response = server.post("AWSEvents.PutEvents", body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["__type"] == "ValidationException"
    assert len(answer["message"]) < 1000
    assert "request body is larger than" in answer["message"]


def test_entries_over_the_list_limit_quote_a_bounded_prefix(server):
    body = b'{"Entries": [' + b",".join([b"{}"] * 100_000) + b"]}"
    response = server.post("AWSEvents.PutEvents", body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(
        "1 validation error detected: Value '[PutEventsRequestEntry(time=null, source=null, resources=null, "
    )
    assert message.endswith("...]" + ENTRY_LIMIT_FAILURE)
    assert len(message) < 5000


def test_items_of_a_list_over_its_limit_are_not_checked(server):
    # The list's length is what fails it; its items' own failures could be megabytes.
    entries = [{"EventBusName": "no good"}] * 20
    response = server.post("AWSEvents.PutEvents", json.dumps({"Entries": entries}))
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("1 validation error detected: ")
    assert message.endswith(ENTRY_LIMIT_FAILURE)


def test_many_failures_are_bounded(server):
    # TagKeys has no length limit in the model; each empty key breaks the items' minimum.
    body = json.dumps({"ResourceARN": "arn:aws:events:us-east-1:000000000000:rule/r", "TagKeys": [""] * 200_000})
    response = server.post("AWSEvents.UntagResource", body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(
        "100 validation errors detected (and more; busbar lists the first 100): Value '' at 'tagKeys.1.member'"
    )
    assert message.count("failed to satisfy constraint") == 100
    assert len(message) < 20_000


def test_a_huge_string_is_quoted_by_a_prefix(server):
    response = server.post("AWSEvents.ListEventBuses", json.dumps({"NamePrefix": "!" * 500_000}))
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("2 validation errors detected: Value '" + "!" * 100)
    assert (
        "!!!...' at 'namePrefix' failed to satisfy constraint: Member must have length less than or equal to 256"
        in (message)
    )
    assert len(message) < 10_000


def test_deeply_nested_values_are_quoted_without_recursing_forever(server):
    deep = "[" * 900 + "]" * 900
    body = '{"Entries": [' + ",".join([deep] * 11) + "]}"
    response = server.post("AWSEvents.PutEvents", body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["__type"] == "ValidationException"
    assert answer["message"].endswith(ENTRY_LIMIT_FAILURE)
    assert len(answer["message"]) < 5000


def test_nesting_deeper_than_json_allows_is_a_serialization_error(server):
    response = server.post("AWSEvents.ListEventBuses", '{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


SECRET = "SEKRET"


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        ({"BasicAuthParameters": {"Username": "u", "Password": SECRET + ":x"}}, "basicAuthParameters.password"),
        ({"BasicAuthParameters": {"Username": "u", "Password": SECRET * 100}}, "basicAuthParameters.password"),
        (
            {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": SECRET + "\x01"}},
            "apiKeyAuthParameters.apiKeyValue",
        ),
    ],
)
def test_sensitive_values_are_never_quoted(server, auth, path):
    kind = "BASIC" if "BasicAuthParameters" in auth else "API_KEY"
    body = {"Name": "leaky", "AuthorizationType": kind, "AuthParameters": auth}
    response = server.post("AWSEvents.CreateConnection", json.dumps(body))
    assert response.status_code == 400
    message = response.json()["message"]
    assert SECRET not in message
    # AWS's form for a sensitive member: the value is left out.
    assert f"Value at 'authParameters.{path}' failed to satisfy constraint: Member must" in message


def test_sensitive_members_inside_a_quoted_structure_are_redacted(server):
    headers = [{"Key": "X-Token", "Value": SECRET, "IsValueSecret": True}] * 101
    body = {
        "Name": "leaky",
        "AuthorizationType": "API_KEY",
        "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"},
            "InvocationHttpParameters": {"HeaderParameters": headers},
        },
    }
    response = server.post("AWSEvents.CreateConnection", json.dumps(body))
    assert response.status_code == 400
    message = response.json()["message"]
    assert SECRET not in message
    assert (
        "ConnectionHeaderParameter(key=X-Token, value=*** Sensitive Data Redacted ***, isValueSecret=true)" in message
    )


def test_sensitive_values_are_not_logged(fresh_server):
    fresh_server.args = ["--log-level", "debug"]
    fresh_server.start()
    body = {
        "Name": "leaky",
        "AuthorizationType": "BASIC",
        "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": SECRET + ":x"}},
    }
    assert fresh_server.post("AWSEvents.CreateConnection", json.dumps(body)).status_code == 400
    fresh_server.stop()
    assert SECRET not in fresh_server.log()
