"""The pure pieces of PutEvents: event ids, entry sizes, detail checks, timestamps."""

from __future__ import annotations

import uuid

import pytest

from busbar.model.entries import new_event_ids, parse_detail
from busbar.model.size import entry_size
from busbar.model.timestamps import parse_timestamp


def test_event_ids_are_unique_uuid4():
    ids = [i for _ in range(5000) for i in new_event_ids(10)]  # crosses several pool refills
    assert len(set(ids)) == len(ids)
    for text in ids[::97]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_entry_size_counts_utf8_and_time():
    entry = {"Source": "é", "DetailType": "t", "Detail": "{}", "Resources": ["ab", "€"]}
    assert entry_size(entry) == 2 + 1 + 2 + 2 + 3
    assert entry_size({**entry, "Time": 0}) == entry_size(entry) + 14
    assert entry_size({**entry, "EventBusName": "x" * 100, "TraceHeader": "y"}) == entry_size(entry)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ('{"a": 1}', True),
        ("[]", False),
        ('"x"', False),
        ("{", False),
        ("", False),
        ('{"n": 9223372036854775807}', True),
        ('{"n": 9223372036854775808}', False),
        ('{"s": "99999999999999999999"}', True),
        ('{"a":' * 1000 + "1" + "}" * 1000, True),
        ('{"a":' * 1001 + "1" + "}" * 1001, False),
    ],
)
def test_parse_detail(text, ok):
    assert (parse_detail(text, 1000) is not None) is ok


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        (0, "1970-01-01T00:00:00+00:00"),
        (1.5, "1970-01-01T00:00:01.500000+00:00"),
        ("2022-01-01", "2022-01-01T00:00:00+00:00"),
        ("2022-01-01 00:00:00Z", "2022-01-01T00:00:00+00:00"),
        ("2022-01-01T02:00:00+02:00", "2022-01-01T00:00:00+00:00"),
        ("1700000000", "2023-11-14T22:13:20+00:00"),
    ],
)
def test_timestamps(value, iso):
    assert parse_timestamp(value).isoformat() == iso


@pytest.mark.parametrize("value", ["yesterday", None, True, [], "2022-13-01"])
def test_bad_timestamps(value):
    assert parse_timestamp(value) is None
