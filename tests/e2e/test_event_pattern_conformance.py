"""TestEventPattern and PutRule through real boto3 against AWS's recorded answers: all 155 cases of
conformance/event-patterns, the duplicate-key case, malformed patterns and events. A refused
pattern's message is AWS's whole message (``MessageRaw``): the reason, then the parser's position."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest
from botocore.exceptions import ClientError

from data import CONFORMANCE
from support import unique

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


def as_recorded(message: str) -> str:
    """``message`` as the recording tool stored AWS's: it wrote the ARN partition and region of
    the recording account as placeholders, also inside the quoted pattern (the column numbers are
    AWS's, for the pattern as sent)."""
    return message.replace("arn:aws:", "arn:<partition>:").replace(":us-east-1:", ":<region>:")


def test_all_155_cases_are_here():
    assert len(CASES) == 155


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(events, path: Path):
    case = json5.loads(path.read_text())
    pattern, event = json.dumps(case["EventPattern"]), json.dumps(case["Event"])
    if path.stem.endswith("_EXC"):
        expected = _aws_error(f"test_event_pattern[{path.stem}]")
        with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
            events.test_event_pattern(EventPattern=pattern, Event=event)
        assert as_recorded(raised.value.response["Error"]["Message"]) == expected["MessageRaw"]
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
            events.put_rule(Name=unique("conformance"), EventPattern=pattern)
        assert as_recorded(raised.value.response["Error"]["Message"]) == expected["MessageRaw"]
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
    expected = _aws_error(f"test_invalid_json_event_pattern[{pattern}]")  # its Message is the whole message
    with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
        events.test_event_pattern(EventPattern=pattern, Event=EVENT)
    assert raised.value.response["Error"]["Message"] == expected["Message"]
    with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
        events.put_rule(Name=unique("malformed"), EventPattern=pattern)
    assert raised.value.response["Error"]["Message"] == expected["Message"]


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
