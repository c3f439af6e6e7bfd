"""busbar.client.Publisher against the real server with real boto3.

Requests are counted with boto3's own event hooks; the only stand-ins are the
publisher's sleep (where a test wants to see the delays) and, for request-level
errors the server does not make on demand, a proxy in front of the real server
that answers the first requests with an error.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest
from botocore.config import Config

from busbar.client import CONNECTION_ERROR, Publisher, failed_count, failures
from busbar.model.size import DEFAULT_MAX_REQUEST_BYTES, entry_size
from busbar.store.sqlite import SqliteStore

from support import REGION, BusbarProcess

LIMIT = DEFAULT_MAX_REQUEST_BYTES


class Wire:
    """What one boto3 client sent and got back, request by request (boto3 hooks)."""

    def __init__(self, client: Any) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.answers: list[list[dict[str, str]]] = []
        client.meta.events.register("before-call.events.PutEvents", self._before)
        client.meta.events.register("after-call.events.PutEvents", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(json.loads(params["body"])["Entries"])

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.answers.append(parsed.get("Entries", []))

    def sent(self, n: int) -> int:
        """How many times the entry numbered *n* was sent."""
        return sum(1 for request in self.requests for e in request if json.loads(e["Detail"])["n"] == n)


def entries(count: int, source: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"Source": source, "DetailType": "Numbered", "Detail": json.dumps({"n": n}), **extra} for n in range(count)]


def sized(size: int, source: str, n: int) -> dict[str, Any]:
    """An entry whose entry_size is exactly *size*."""
    entry = {"Source": source, "DetailType": "Sized", "Detail": json.dumps({"n": n, "pad": ""})}
    entry["Detail"] = json.dumps({"n": n, "pad": "x" * (size - entry_size(entry))})
    assert entry_size(entry) == size
    return entry


def stored(data_dir: Path, source: str) -> list[dict[str, Any]]:
    """The envelopes of *source*'s events, in the order the store committed them."""
    envelopes = (orjson.loads(e.envelope) for e in SqliteStore(data_dir).read_events(0, 100_000))
    return [envelope for envelope in envelopes if envelope["source"] == source]


@pytest.fixture
def source() -> str:
    return f"test.client.{uuid.uuid4().hex[:8]}"


def test_25_entries_go_in_three_requests_and_results_keep_the_callers_order(server, source):
    client = server.client()
    wire = Wire(client)
    results = Publisher(client).publish(entries(25, source))
    assert [len(request) for request in wire.requests] == [10, 10, 5]
    assert failed_count(results) == 0 and failures(results) == []
    events = stored(server.data_dir, source)
    assert [e["detail"]["n"] for e in events] == list(range(25))
    assert [e["id"] for e in events] == [r["EventId"] for r in results]


def test_no_entries_no_request(server):
    client = server.client()
    wire = Wire(client)
    assert Publisher(client).publish([]) == []
    assert wire.requests == []


def test_entries_of_100_kib_go_two_by_two(server, source):
    client = server.client()
    wire = Wire(client)
    results = Publisher(client).publish(sized(100 * 1024, source, n) for n in range(5))
    assert [len(request) for request in wire.requests] == [2, 2, 1]
    assert failed_count(results) == 0


def test_requests_stay_strictly_under_the_limit(server, source):
    client = server.client()
    wire = Wire(client)
    below = [sized(LIMIT // 2 - 1, source, n) for n in range(2)]  # total LIMIT - 2: one request
    exact = [sized(LIMIT // 2, source, n) for n in range(2, 4)]  # total LIMIT: refused together
    results = Publisher(client).publish(below + exact)
    assert [len(request) for request in wire.requests] == [2, 1, 1]
    assert failed_count(results) == 0
    assert [e["detail"]["n"] for e in stored(server.data_dir, source)] == [0, 1, 2, 3]


def test_a_smaller_configured_limit_packs_smaller_requests(server, source):
    client = server.client()
    wire = Wire(client)
    results = Publisher(client, max_request_bytes=1000).publish(sized(300, source, n) for n in range(7))
    assert [len(request) for request in wire.requests] == [3, 3, 1]
    assert failed_count(results) == 0


def test_an_entry_too_large_alone_fails_without_a_request_and_the_others_go(server, source):
    client = server.client()
    wire = Wire(client)
    batch = [sized(100, source, 0), sized(LIMIT, source, 1), sized(100, source, 2)]
    results = Publisher(client).publish(batch)
    assert wire.requests == [[batch[0], batch[2]]]
    assert results[1]["ErrorCode"] == "ValidationException"
    assert str(LIMIT) in results[1]["ErrorMessage"]
    assert "EventId" in results[0] and "EventId" in results[2]
    assert failures(results) == [(1, results[1])]


def test_entry_errors_that_retrying_cannot_fix_are_returned_once(server, source):
    client = server.client()
    wire = Wire(client)
    good = entries(4, source)
    no_detail = {"Source": source, "DetailType": "Numbered"}
    no_bus = {**good[2], "EventBusName": f"missing-{uuid.uuid4().hex[:8]}"}
    aws_source = {**good[3], "Source": "aws.s3"}
    sleeps: list[float] = []
    results = Publisher(client, sleep=sleeps.append).publish([good[0], no_detail, good[1], no_bus, aws_source])
    assert len(wire.requests) == 1 and sleeps == []
    assert "EventId" in results[0] and "EventId" in results[2]
    assert results[1] == {
        "ErrorCode": "InvalidArgument",
        "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument.",
    }
    assert results[3]["ErrorCode"] == "ResourceNotFoundException"
    assert no_bus["EventBusName"] in results[3]["ErrorMessage"]
    assert results[4]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert failed_count(results) == 3


def test_an_entry_that_fails_its_whole_request_is_pinned_on_alone(server, source):
    client = server.client()
    wire = Wire(client)
    batch = entries(3, source)
    batch[1]["EventBusName"] = "not a bus name!"
    results = Publisher(client).publish(batch)
    # The whole request is refused (nothing stored), then each entry goes alone.
    assert [len(request) for request in wire.requests] == [3, 1, 1, 1]
    assert results[1]["ErrorCode"] == "ValidationException"
    assert "eventBusName" in results[1]["ErrorMessage"]
    assert "EventId" in results[0] and "EventId" in results[2]
    assert [e["detail"]["n"] for e in stored(server.data_dir, source)] == [0, 2]


def test_only_throttled_entries_are_sent_again_until_all_are_accepted_in_order(tmp_path, source):
    throttled = BusbarProcess(tmp_path / "data", args=["--put-events-per-second", "20"]).start()
    try:
        client = throttled.client()
        wire = Wire(client)
        count = 55
        publisher = Publisher(client, max_attempts=40, base_delay=0.05, max_delay=0.4, rng=random.Random(7))
        started = time.monotonic()
        results = publisher.publish(entries(count, source))
        elapsed = time.monotonic() - started
    finally:
        throttled.stop()

    assert failed_count(results) == 0
    # The bucket holds 20 and refills 20/s: the rest had to wait for it.
    assert elapsed >= (count - 20) / 20 * 0.8
    # Every entry was accepted exactly once, in the caller's order.
    events = stored(throttled.data_dir, source)
    assert [e["detail"]["n"] for e in events] == list(range(count))
    assert [e["id"] for e in events] == [r["EventId"] for r in results]
    # An entry went again only after the server throttled it, never after it was accepted.
    outcome: dict[int, list[str]] = {}
    for request, answer in zip(wire.requests, wire.answers, strict=True):
        for sent, result in zip(request, answer, strict=True):
            outcome.setdefault(json.loads(sent["Detail"])["n"], []).append(result.get("ErrorCode", "ok"))
    assert sum(codes.count("ThrottlingException") for codes in outcome.values()) > 0
    for n, codes in outcome.items():
        assert codes[-1] == "ok" and set(codes[:-1]) <= {"ThrottlingException"}, (n, codes)
        assert wire.sent(n) == len(codes)


def test_throttled_entries_keep_their_error_after_the_last_attempt(tmp_path, source):
    throttled = BusbarProcess(tmp_path / "data", args=["--put-events-per-second", "5"]).start()
    try:
        client = throttled.client()
        wire = Wire(client)
        sleeps: list[float] = []
        # No real sleep: the bucket cannot refill a whole token between the two attempts.
        publisher = Publisher(client, max_attempts=2, base_delay=0.5, max_delay=0.5, sleep=sleeps.append)
        results = publisher.publish(entries(10, source))
    finally:
        throttled.stop()
    assert results[:5] == [{"EventId": r["EventId"]} for r in results[:5]]
    assert results[5:] == [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded."}] * 5
    assert [len(request) for request in wire.requests] == [10, 5]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_connection_errors_are_retried_until_the_server_answers(fresh_server, source):
    client = fresh_server.client(connect_timeout=1)
    starter = threading.Timer(0.3, fresh_server.start)
    starter.start()
    try:
        results = Publisher(client, max_attempts=600, base_delay=0.05, max_delay=0.2).publish(entries(12, source))
    finally:
        starter.join()
    assert failed_count(results) == 0
    assert [e["detail"]["n"] for e in stored(fresh_server.data_dir, source)] == list(range(12))


def test_connection_errors_are_reported_after_the_last_attempt_with_growing_jittered_delays(fresh_server, source):
    client = fresh_server.client(connect_timeout=1)  # never started: connection refused
    sleeps: list[float] = []
    publisher = Publisher(
        client, max_attempts=4, base_delay=0.1, max_delay=0.3, sleep=sleeps.append, rng=random.Random(3)
    )
    results = publisher.publish(entries(3, source))
    assert [r["ErrorCode"] for r in results] == [CONNECTION_ERROR] * 3
    assert all(r["ErrorMessage"] for r in results)
    assert len(sleeps) == 3
    for retry, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(0.3, 0.1 * 2 ** (retry - 1))


class FaultyProxy:
    """Forwards to the real server, except that the first *errors* answers are replaced."""

    def __init__(self, upstream: str, errors: list[tuple[int, str]]) -> None:
        self.errors = list(errors)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.errors:
                    status, code = proxy.errors.pop(0)
                    content = json.dumps({"__type": code, "message": "injected"}).encode()
                    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "proxy"}
                else:
                    answer = httpx.post(upstream + "/", content=body, headers=dict(self.headers), timeout=10)
                    status, content = answer.status_code, answer.content
                    headers = {
                        k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "x-amzn-requestid")
                    }
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxied(server) -> Iterator[Any]:
    def make(errors: list[tuple[int, str]]) -> tuple[FaultyProxy, Any]:
        proxy = FaultyProxy(server.endpoint_url, errors).__enter__()
        opened.append(proxy)
        client = boto3.client(
            "events",
            endpoint_url=proxy.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )  # no botocore retries
        return proxy, client

    opened: list[FaultyProxy] = []
    yield make
    for proxy in opened:
        proxy.__exit__()


def test_a_request_failing_whole_with_a_retryable_error_is_sent_again(proxied, server, source):
    _, client = proxied([(400, "ThrottlingException"), (500, "InternalException"), (503, "SomethingElse")])
    wire = Wire(client)
    sleeps: list[float] = []
    results = Publisher(client, sleep=sleeps.append).publish(entries(4, source))
    assert failed_count(results) == 0
    assert [len(request) for request in wire.requests] == [4, 4, 4, 4]
    assert len(sleeps) == 3
    assert [e["detail"]["n"] for e in stored(server.data_dir, source)] == [0, 1, 2, 3]


def test_a_request_failing_whole_with_another_error_is_reported_once(proxied, source):
    _, client = proxied([(400, "AccessDeniedException")])
    wire = Wire(client)
    results = Publisher(client).publish(entries(3, source))
    assert len(wire.requests) == 1
    assert results == [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "injected"}] * 3


def test_result_helpers():
    results = [{"EventId": "a"}, {"ErrorCode": "X", "ErrorMessage": "m"}, {"EventId": "b"}]
    assert failed_count(results) == 1
    assert failures(results) == [(1, results[1])]


@pytest.mark.parametrize(
    "settings",
    [
        {"max_request_bytes": 0},
        {"max_entries": 11},
        {"max_entries": 0},
        {"max_attempts": 0},
        {"base_delay": -1},
        {"base_delay": 2.0, "max_delay": 1.0},
    ],
)
def test_nonsense_settings_are_refused(settings):
    with pytest.raises(ValueError):
        Publisher(None, **settings)
