"""Random and malformed requests never get a 500 and never stop the server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import busbar.api

from support import BusbarProcess

OPERATIONS = sorted(busbar.api.OPERATIONS) + ["CreateEndpoint", "NoSuchOperation"]
MEMBERS = [
    "Entries",
    "Source",
    "DetailType",
    "Detail",
    "Time",
    "Resources",
    "EventBusName",
    "TraceHeader",
    "EndpointId",
    "Name",
    "NamePrefix",
    "Limit",
    "NextToken",
    "Description",
    "Tags",
    "Key",
    "Value",
    "ResourceARN",
    "TagKeys",
    "EventPattern",
    "Event",
    "LogConfig",
    "DeadLetterConfig",
    "Arn",
    "Rule",
    "Targets",
    "Id",
    "Ids",
    "Input",
    "InputPath",
    "InputTransformer",
    "InputPathsMap",
    "InputTemplate",
    "RetryPolicy",
    "State",
    "ScheduleExpression",
    "AuthorizationType",
    "AuthParameters",
    "ConnectionArn",
    "InvocationEndpoint",
    "HttpMethod",
    "InvocationRateLimitPerSecond",
    "TargetArn",
    "Force",
    "ArchiveName",
    "EventSourceArn",
    "RetentionDays",
    "ReplayName",
    "EventStartTime",
    "EventEndTime",
    "Destination",
    "FilterArns",
    "StatementId",
    "Principal",
    "Action",
    "Policy",
    "Condition",
    "RemoveAllPermissions",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(MEMBERS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=25,
)
detail_texts = st.one_of(st.text(max_size=60), json_values.map(json.dumps))
entries = st.fixed_dictionaries(
    {},
    optional={
        "Source": st.one_of(st.text(max_size=20), json_values),
        "DetailType": st.one_of(st.text(max_size=20), json_values),
        "Detail": st.one_of(detail_texts, json_values),
        "Time": st.one_of(st.integers(), st.text(max_size=25), json_values),
        "Resources": st.one_of(st.lists(st.text(max_size=10), max_size=3), json_values),
        "EventBusName": st.one_of(
            st.sampled_from(["default", "x", "arn:aws:events:us-east-1:000000000000:event-bus/default"]),
            st.text(max_size=10),
        ),
        "TraceHeader": st.text(max_size=10),
    },
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(MEMBERS), json_values, max_size=5),
    st.fixed_dictionaries({"Entries": st.lists(entries, max_size=12)}),
    st.fixed_dictionaries(
        {
            "EventPattern": st.one_of(detail_texts, st.text(max_size=30)),
            "Event": st.one_of(detail_texts, st.text(max_size=30)),
        }
    ),
    st.fixed_dictionaries({"Name": st.sampled_from(["r1", "r2"]), "EventPattern": detail_texts}),
    st.fixed_dictionaries(
        {
            "Rule": st.sampled_from(["r1", "r2"]),
            "Targets": st.lists(
                st.fixed_dictionaries(
                    {
                        "Id": st.sampled_from(["a", "b"]),
                        "Arn": st.sampled_from(
                            [
                                "arn:aws:logs:us-east-1:000000000000:log-group:fuzz",
                                "arn:aws:events:us-east-1:000000000000:event-bus/default",
                                "arn:aws:sqs:us-east-1:1:q",
                                "x",
                            ]
                        ),
                    },
                    optional={
                        "Input": detail_texts,
                        "InputPath": st.text(max_size=12),
                        "InputTransformer": st.dictionaries(
                            st.sampled_from(["InputPathsMap", "InputTemplate"]), json_values, max_size=2
                        ),
                        "RetryPolicy": json_values,
                        "DeadLetterConfig": json_values,
                    },
                ),
                max_size=3,
            ),
        }
    ),
    json_values,
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    process = BusbarProcess(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield process
    process.stop()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(operation=st.sampled_from(OPERATIONS), body=bodies)
def test_random_bodies_get_client_errors_not_500(fuzz_server, operation, body):
    response = fuzz_server.post(f"AWSEvents.{operation}", json.dumps(body))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        answer = response.json()
        assert set(answer) == {"__type", "message"} and answer["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(operation=st.sampled_from(OPERATIONS), raw=st.binary(max_size=200))
def test_random_bytes_get_client_errors_not_500(fuzz_server, operation, raw):
    response = fuzz_server.post(f"AWSEvents.{operation}", raw)
    assert response.status_code in (200, 400), response.text


def test_server_still_serves_after_fuzzing(fuzz_server):
    client = fuzz_server.client()
    assert client.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])["FailedEntryCount"] == 0
    assert fuzz_server.alive()
    assert '"level":"error"' not in fuzz_server.log()
