"""PutEvents against the real server with real boto3: every rule of the spec,
with AWS's codes and messages (conformance/putevents-aws.snapshot.json)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from support import ACCOUNT, REGION

SNAPSHOT = json.loads((CONFORMANCE / "putevents-aws.snapshot.json").read_text())
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _recorded(test: str, key: str) -> dict:
    return SNAPSHOT[f"tests/aws/services/events/test_events.py::{test}"]["recorded-content"][key]


def entry(**overrides: object) -> dict:
    base = {"Source": "core.orders", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": 1})}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def stored(server, event_id: str) -> dict:
    store = server.store()
    try:
        for event in store.read_events(0, 1_000_000):
            if event.event_id == event_id:
                return {"bus": event.bus, "trace": event.trace_header, **json.loads(event.envelope)}
    finally:
        getattr(store, "close_reads", lambda: None)()
    raise AssertionError(f"event {event_id} is not in the store")


def test_accepted_entry_is_stored_as_envelope(events, server):
    answer = events.put_events(Entries=[entry(Resources=["arn:aws:s3:::bucket"], TraceHeader="Root=1-abc")])
    assert answer["FailedEntryCount"] == 0
    event_id = answer["Entries"][0]["EventId"]
    assert UUID4.match(event_id)
    envelope = stored(server, event_id)
    assert envelope == {
        "bus": f"{ACCOUNT}/{REGION}/default",
        "trace": "Root=1-abc",
        "version": "0",
        "id": event_id,
        "detail-type": "OrderPlaced",
        "source": "core.orders",
        "account": ACCOUNT,
        "time": envelope["time"],
        "region": REGION,
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {"order": 1},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", envelope["time"])


@pytest.mark.parametrize(
    ("missing", "test"),
    [
        ("Source", "TestEvents::test_put_events_without_source"),
        ("DetailType", "TestEvents::test_put_event_without_detail_type"),
        ("Detail", "TestEvents::test_put_event_without_detail"),
    ],
)
def test_missing_member_fails_the_entry(events, missing, test):
    answer = events.put_events(Entries=[entry(**{missing: None})])
    recorded = _recorded(test, "put-events")
    assert answer["FailedEntryCount"] == recorded["FailedEntryCount"] == 1
    assert answer["Entries"] == recorded["Entries"]


def test_empty_detail_type_is_missing(events):
    answer = events.put_events(Entries=[entry(DetailType="")])
    assert answer["Entries"][0]["ErrorCode"] == "InvalidArgument"
    assert answer["Entries"][0]["ErrorMessage"] == (
        "Parameter DetailType is not valid. Reason: DetailType is a required argument."
    )


@pytest.mark.parametrize(
    ("detail", "case"),
    [
        ('"a string"', "SERIALIZED_STRING"),
        ("[]", "ARRAY"),
        ("{{}", "MALFORMED_JSON"),
        ("NotJSON", "STRING"),
        ("42", None),
        ("null", None),
        ('{"a": NaN}', None),
    ],
)
def test_malformed_detail(events, detail, case):
    answer = events.put_events(Entries=[entry(Detail=detail)])
    expected = [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]
    if case:
        assert expected == _recorded(f"TestEvents::test_put_event_malformed_detail[{case}]", "put-events")["Entries"]
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"] == expected


def test_deep_nesting_fails_the_entry_not_the_server(events, server):
    too_deep = '{"a":' * 1001 + "1" + "}" * 1001
    just_fits = '{"a":' * 1000 + "1" + "}" * 1000
    far_too_deep = '{"a":' + "[" * 60_000 + "]" * 60_000 + "}"
    answer = events.put_events(Entries=[entry(Detail=too_deep), entry(Detail=just_fits), entry(Detail=far_too_deep)])
    assert [e.get("ErrorCode") for e in answer["Entries"]] == ["MalformedDetail", None, "MalformedDetail"]
    assert answer["FailedEntryCount"] == 2
    assert events.put_events(Entries=[entry()])["FailedEntryCount"] == 0


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("9223372036854775807", True),
        ("-9223372036854775808", True),
        ("9223372036854775808", False),
        ("-9223372036854775809", False),
        ("18446744073709551616", False),
        ("123456789012345678901234567890", False),
    ],
)
def test_integers_outside_int64_fail_the_entry(events, number, ok):
    answer = events.put_events(Entries=[entry(Detail=f'{{"n": {number}, "s": "12345678901234567890123"}}')])
    assert (answer["FailedEntryCount"] == 0) is ok
    if not ok:
        assert answer["Entries"][0]["ErrorCode"] == "MalformedDetail"


def test_long_digit_strings_are_not_numbers(events):
    answer = events.put_events(Entries=[entry(Detail='{"card": "123456789012345678901234567890"}')])
    assert answer["FailedEntryCount"] == 0


def test_detail_type_limit(events):
    ok = events.put_events(Entries=[entry(DetailType="x" * 128)])
    assert ok["FailedEntryCount"] == 0
    answer = events.put_events(Entries=[entry(DetailType="x" * 129)])
    assert answer["Entries"][0]["ErrorCode"] == "InvalidArgument"
    assert "DetailType" in answer["Entries"][0]["ErrorMessage"]


def test_aws_sources_are_refused(events):
    answer = events.put_events(Entries=[entry(Source="aws.ec2"), entry()])
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert answer["Entries"][0]["ErrorMessage"].startswith("Not authorized for the source")
    assert "EventId" in answer["Entries"][1]


def test_eleven_entries(events):
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry()] * 11)
    error = raised.value.response["Error"]
    recorded = _recorded(
        "TestEvents::test_put_events_exceed_limit_ten_entries[default]", "put-events-exceed-limit-error"
    )["Error"]
    assert error["Code"] == recorded["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value '[PutEventsRequestEntry(time=null, ")
    assert error["Message"].endswith(
        "' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"
    )
    assert recorded["Message"].endswith(error["Message"][-90:])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_eleven_entries_message_matches_aws_exactly(events):
    body = {"command": "update-account", "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}}
    one = {
        "Source": "core.update-account-command",
        "DetailType": "core.update-account-command",
        "Detail": json.dumps(body),
        "EventBusName": "my-bus-1",
    }
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[one] * 11)
    recorded = _recorded(
        "TestEvents::test_put_events_exceed_limit_ten_entries[custom]", "put-events-exceed-limit-error"
    )["Error"]["Message"]
    assert raised.value.response["Error"]["Message"] == recorded.replace("<bus-name>", "my-bus-1")


def test_no_entries(events, server):
    response = server.post("AWSEvents.PutEvents", b'{"Entries": []}')
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"
    assert "greater than or equal to 1" in response.json()["message"]


def test_total_size_limit(events):
    # 14 bytes for Time + Source + DetailType + Detail + resources: exactly at the limit fails.
    limit = 256 * 1024
    fixed = len("s") + len("t") + len('{"a":""}') + 14

    def detail(size: int) -> str:
        return json.dumps({"a": "x" * size}, separators=(",", ":"))

    at_limit = {"Source": "s", "DetailType": "t", "Time": 1700000000, "Detail": detail(limit - fixed)}
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[at_limit])
    recorded = _recorded("TestEvents::test_put_event_with_too_big_detail", "put-events-too-big-detail-error")
    assert raised.value.response["Error"] == recorded["Error"]
    below = dict(at_limit, Detail=detail(limit - fixed - 1))
    assert events.put_events(Entries=[below])["FailedEntryCount"] == 0


def test_size_counts_utf8_bytes_and_resources(events):
    limit = 256 * 1024
    # "é" is 2 bytes: a detail of limit/2 of them is over the limit though it has fewer characters.
    with pytest.raises(ClientError, match="Total size of the entries"):
        events.put_events(Entries=[entry(Detail=json.dumps({"a": "é" * (limit // 2)}, ensure_ascii=False))])
    with pytest.raises(ClientError, match="Total size of the entries"):
        events.put_events(Entries=[entry(Resources=["r" * 1024] * 256)])


def test_nonexistent_bus_fails_that_entry_only(events):
    answer = events.put_events(Entries=[entry(EventBusName="no-such-bus"), entry()])
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0] == {
        "ErrorCode": "ResourceNotFoundException",
        "ErrorMessage": "Event bus no-such-bus does not exist.",
    }
    assert "EventId" in answer["Entries"][1]


def test_bus_by_name_and_by_arn(events, server):
    name = f"bus-{uuid.uuid4().hex[:8]}"
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    answer = events.put_events(Entries=[entry(EventBusName=name), entry(EventBusName=arn)])
    assert answer["FailedEntryCount"] == 0
    assert {stored(server, e["EventId"])["bus"] for e in answer["Entries"]} == {f"{ACCOUNT}/{REGION}/{name}"}
    other_account = arn.replace(ACCOUNT, "123456789012")
    answer = events.put_events(Entries=[entry(EventBusName=other_account)])
    assert answer["Entries"][0]["ErrorCode"] == "ResourceNotFoundException"


def test_bad_bus_name_fails_the_request(events):
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry(EventBusName="not a name!")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "at 'entries.1.member.eventBusName' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern" in raised.value.response["Error"]["Message"]
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2022-01-01", "2022-01-01T00:00:00Z"),
        ("2022-01-01 00:00:00Z", "2022-01-01T00:00:00Z"),
        ("2022-01-01T12:30:45.123+02:00", "2022-01-01T10:30:45Z"),
    ],
)
def test_time_strings(server, sent, expected):
    body = json.dumps({"Entries": [dict(entry(), Time=sent)]})
    answer = server.post("AWSEvents.PutEvents", body).json()
    assert answer["FailedEntryCount"] == 0, answer
    assert stored(server, answer["Entries"][0]["EventId"])["time"] == expected


def test_time_epoch_from_boto3(events, server):
    import datetime as dt

    when = dt.datetime(2023, 5, 6, 7, 8, 9, 500000, tzinfo=dt.UTC)
    answer = events.put_events(Entries=[entry(Time=when)])
    assert stored(server, answer["Entries"][0]["EventId"])["time"] == "2023-05-06T07:08:09Z"


def test_results_in_request_order(events):
    batch = [entry(Detail=json.dumps({"i": i})) if i % 3 else entry(Source=None) for i in range(10)]
    answer = events.put_events(Entries=batch)
    assert answer["FailedEntryCount"] == 4
    assert [("EventId" in e) for e in answer["Entries"]] == [bool(i % 3) for i in range(10)]
    ids = [e["EventId"] for e in answer["Entries"] if "EventId" in e]
    assert len(set(ids)) == len(ids)


def test_an_endpoint_id_that_does_not_exist_fails_the_request(server):
    # Global endpoints are tested in tests/endpoints.
    body = json.dumps({"EndpointId": "abcde.veo", "Entries": [entry()]})
    answer = server.post("AWSEvents.PutEvents", body)
    assert (answer.status_code, answer.json()) == (
        400,
        {"__type": "ResourceNotFoundException", "message": "Endpoint abcde.veo does not exist."},
    )


def test_rate_limit_throttles_entries(fresh_server):
    fresh_server.args = ["--put-events-per-second", "5"]
    client = fresh_server.start().client()
    answer = client.put_events(Entries=[entry()] * 10)
    codes = [e.get("ErrorCode") for e in answer["Entries"]]
    assert codes.count("ThrottlingException") >= 4
    assert codes[: codes.index("ThrottlingException")] == [None] * codes.index("ThrottlingException")
    assert all(e["ErrorMessage"] == "Rate exceeded." for e in answer["Entries"] if "ErrorCode" in e)
