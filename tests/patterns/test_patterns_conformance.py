"""AWS's recorded answers (tests/data/conformance) through validate / pattern_matches / Matcher."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest

from busbar.patterns import InvalidEventPattern, Matcher, pattern_matches, validate

from data import CONFORMANCE

SHARED = CONFORMANCE
CASES = sorted(SHARED.glob("event-patterns/*.json5"))
SNAPSHOT = json.loads((SHARED / "event-patterns-aws-errors.snapshot.json").read_text())
_KEY = "tests/aws/services/events/test_events_patterns.py::TestEventPattern::test_event_pattern[{}]"


def _aws_message(name: str) -> str:
    """The whole message AWS sent (``MessageRaw``: the reason, then the parser's position)."""
    content = SNAPSHOT[_KEY.format(name)]["recorded-content"][name]
    return content["exception_message"]["Error"]["MessageRaw"]


def as_recorded(message: str) -> str:
    """``message`` as the recording tool stored AWS's: it wrote the ARN partition and region of
    the recording account as placeholders, also inside the quoted pattern (the column numbers are
    AWS's, for the pattern as sent)."""
    return message.replace("arn:aws:", "arn:<partition>:").replace(":us-east-1:", ":<region>:")


def test_all_cases_present() -> None:
    assert len(CASES) == 155
    refused = [c.stem for c in CASES if c.stem.endswith("_EXC")]
    assert len(refused) == 38
    # 33 of AWS's refusals carry the parser's position, and so do the 4 malformed patterns below:
    # the 37 recorded positions. (CIDR errors and "Rule is too complex" are raised outside it.)
    positioned = [name for name in refused if "\n at [Source: " in _aws_message(name)]
    assert len(positioned) + len(_MALFORMED_PATTERNS) == 37


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json5.loads(path.read_text())
    name = path.stem
    pattern_text = json.dumps(case["EventPattern"])  # what boto3 would send
    if name.endswith("_EXC"):
        with pytest.raises(InvalidEventPattern) as info:
            validate(pattern_text)
        assert as_recorded(str(info.value)) == _aws_message(name)
        assert info.value.message == str(info.value)
        assert info.value.message == "Event pattern is not valid. Reason: " + info.value.reason + info.value.where
        return
    expected = not name.endswith("_NEG")
    assert pattern_matches(pattern_text, case["Event"]) is expected
    assert pattern_matches(case["EventPattern"], json.dumps(case["Event"])) is expected
    m = Matcher()
    m.add_rule("bus/rule", pattern_text)
    assert (m.matches(case["Event"]) == ["bus/rule"]) is expected


def test_duplicate_key_last_wins() -> None:
    pattern = (SHARED / "event-patterns" / "complex_multi_key_event_pattern.json").read_text()
    event = (SHARED / "event-patterns" / "complex_multi_key_event.json").read_text()
    assert pattern_matches(pattern, event)
    m = Matcher()
    m.add_rule("r", pattern)
    assert m.matches(event) == ["r"]


_MALFORMED = "tests/aws/services/events/test_events_patterns.py::TestEventPattern::test_invalid_json_event_pattern[{}]"


_MALFORMED_PATTERNS = [
    "this is valid json but not a dict",
    "{'bad': 'quotation'}",
    '{"not": closed mark"',
    '["not", "a", "dict", "but valid json"]',
]


@pytest.mark.parametrize("pattern", _MALFORMED_PATTERNS)
def test_malformed_pattern_messages(pattern: str) -> None:
    recorded = SNAPSHOT[_MALFORMED.format(pattern)]["recorded-content"]
    (answer,) = [v for v in recorded.values() if isinstance(v, dict) and "Error" in v] or [
        v["exception_message"] for v in recorded.values()
    ]
    with pytest.raises(InvalidEventPattern) as info:
        validate(pattern)
    assert str(info.value) == answer["Error"]["Message"]  # the whole message, with the position
