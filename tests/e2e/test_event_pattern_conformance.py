"""TestEventPattern through real boto3 against AWS's recorded answers: all 155 cases of
conformance/event-patterns, the duplicate-key case, malformed patterns and events."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE

CASES = sorted(CONFORMANCE.glob("event-patterns/*.json5"))
SNAPSHOT = json.loads((CONFORMANCE / "event-patterns-aws-errors.snapshot.json").read_text())
PREFIX = "tests/aws/services/events/test_events_patterns.py::TestEventPattern::"
EVENT = json.dumps(
    {
        "id": "1",
        "source": "s",
        "detail-type": "d",
        "account": "123456789012",
        "region": "us-east-2",
        "time": "2022-07-13T13:48:01Z",
        "detail": {},
    }
)


def _aws_error(key: str) -> dict:
    recorded = SNAPSHOT[PREFIX + key]["recorded-content"]
    (answer,) = recorded.values()
    return answer.get("exception_message", answer)["Error"]


def test_all_155_cases_are_here():
    assert len(CASES) == 155


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(events, path: Path):
    case = json5.loads(path.read_text())
    pattern, event = json.dumps(case["EventPattern"]), json.dumps(case["Event"])
    if path.stem.endswith("_EXC"):
        with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
            events.test_event_pattern(EventPattern=pattern, Event=event)
        expected = _aws_error(f"test_event_pattern[{path.stem}]")
        assert raised.value.response["Error"]["Message"] == expected["Message"].split("\n")[0]
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        result = events.test_event_pattern(EventPattern=pattern, Event=event)["Result"]
        assert result is (not path.stem.endswith("_NEG"))


def test_duplicate_keys_in_the_pattern(events):
    # Sent as the file's text: the pattern names "location" twice; as in AWS, the last one counts.
    pattern = (CONFORMANCE / "event-patterns/complex_multi_key_event_pattern.json").read_text()
    event = (CONFORMANCE / "event-patterns/complex_multi_key_event.json").read_text()
    assert events.test_event_pattern(EventPattern=pattern, Event=event)["Result"] is True


@pytest.mark.parametrize(
    "pattern",
    [
        "this is valid json but not a dict",
        "{'bad': 'quotation'}",
        '{"not": closed mark"',
        '["not", "a", "dict", "but valid json"]',
    ],
)
def test_malformed_patterns(events, pattern):
    with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
        events.test_event_pattern(EventPattern=pattern, Event=EVENT)
    expected = _aws_error(f"test_invalid_json_event_pattern[{pattern}]")
    assert raised.value.response["Error"]["Message"] == expected["Message"].split("\n")[0]


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ("hello world", "test_plain_string_payload"),
        (json.dumps({"id": "1", "source": "s"}), "test_invalid_event_payload"),
        (json.dumps([json.loads(EVENT)]), "test_array_event_payload"),
    ],
)
def test_events_that_are_not_valid(events, event, key):
    with pytest.raises(ClientError) as raised:
        events.test_event_pattern(EventPattern='{"source": ["s"]}', Event=event)
    assert raised.value.response["Error"] == {**_aws_error(key), "Code": "ValidationException"}
    assert raised.value.response["Error"]["Message"] == "Parameter Event is not valid."


def test_pattern_size_quota(events):
    big = json.dumps({"source": ["x" * 2100]})
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.test_event_pattern(EventPattern=big, Event=EVENT)
