"""The AWS JSON 1.1 wire protocol: targets, bodies, error shapes, request ids."""

from __future__ import annotations

import re

import httpx
import pytest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_health(server):
    response = httpx.get(server.endpoint_url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0", "deliveries_backlog": 0}


def test_every_answer_has_a_request_id(server):
    ok = server.post("AWSEvents.ListEventBuses", b"{}")
    bad = server.post("AWSEvents.Nope", b"{}")
    for response in (ok, bad):
        assert UUID.match(response.headers["x-amzn-RequestId"])
        assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert ok.headers["x-amzn-RequestId"] != bad.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("target", ["AWSEvents.NoSuchOperation", "Nope.PutEvents", None, ""])
def test_unknown_operation(server, target):
    response = server.post(target, b"{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert response.json()["message"]


def test_unimplemented_operation_says_so(server):
    response = server.post("AWSEvents.CreatePartnerEventSource", b"{}")
    assert response.status_code == 400
    assert response.json() == {
        "__type": "UnknownOperationException",
        "message": "busbar does not implement CreatePartnerEventSource yet.",
    }


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"42", b"null", b"{", b"\xff\xfe", b'{"a":1}}'])
def test_body_that_is_not_a_json_object(server, body):
    response = server.post("AWSEvents.ListEventBuses", body)
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


def test_empty_body_is_an_empty_request(server):
    response = server.post("AWSEvents.ListEventBuses", b"")
    assert response.status_code == 200
    assert "EventBuses" in response.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"Entries": "x"}',
            "1 validation error detected: Value of type str at 'entries' failed to satisfy "
            "constraint: Member must be of type list",
        ),
        (
            b'{"Entries": [{"Source": 5}]}',
            "1 validation error detected: Value of type int at 'entries.1.member.source' "
            "failed to satisfy constraint: Member must be of type string",
        ),
        (
            b'{"Entries": [{"Time": "yesterday"}]}',
            "1 validation error detected: Value of type str at "
            "'entries.1.member.time' failed to satisfy constraint: Member must be "
            "of type Timestamp",
        ),
        (
            b"{}",
            "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not "
            "be null",
        ),
    ],
)
def test_wrong_types_and_missing_members(server, body, message):
    response = server.post("AWSEvents.PutEvents", body)
    assert response.status_code == 400
    assert response.json() == {"__type": "ValidationException", "message": message}


def test_several_constraint_failures_in_one_message(server):
    response = server.post("AWSEvents.ListEventBuses", b'{"NamePrefix": "", "Limit": 101}')
    assert response.json() == {
        "__type": "ValidationException",
        "message": "3 validation errors detected: "
        "Value '' at 'namePrefix' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value '' at 'namePrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[/\\.\\-_A-Za-z0-9]+; "
        "Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
    }


def test_enum_constraint(server):
    response = server.post("AWSEvents.CreateEventBus", b'{"Name": "enum-bus", "LogConfig": {"Level": "LOUD"}}')
    assert response.json()["message"] == (
        "1 validation error detected: Value 'LOUD' at 'logConfig.level' failed to satisfy constraint: "
        "Member must satisfy enum value set: [OFF, ERROR, INFO, TRACE]"
    )


def test_unknown_members_are_ignored(server):
    response = server.post("AWSEvents.ListEventBuses", b'{"Whatever": [1, 2]}')
    assert response.status_code == 200


def test_other_paths(server):
    assert httpx.get(server.endpoint_url + "/nope").status_code == 404
