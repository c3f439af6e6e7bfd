"""HttpSender against a real local HTTP server (tests/httptarget.py) with a real
SqliteStore; connections and destinations are made by busbar's own API handlers."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from busbar.api import connections, destinations
from busbar.api.context import Context
from busbar.config import Settings
from busbar.delivery.base import Delivery, Outcome
from busbar.delivery.dispatcher import Dispatcher
from busbar.delivery.http import HttpSender
from busbar.model.arns import TargetKind, parse_target
from busbar.resources.kinds import CONNECTION
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.sqlite import SqliteStore

from httptarget import HttpTarget, Reply
from support import free_port

PAYLOAD = b'{"id":"e-1","detail":{"order":7}}'
SECRETS = ("pw-s3cret", "key-s3cret", "client-s3cret", "header-s3cret", "query-s3cret")

SCOPE = Scope("000000000000", "us-east-1")


class Bench:
    """A store, an API context to create resources with, and the sender under test."""

    def __init__(self, data_dir: Path, target: HttpTarget, timeout: float = 5.0) -> None:
        self.store = SqliteStore(data_dir, sync="normal")
        self.ctx = Context(settings=Settings(data_dir=data_dir), store=self.store, rules=RuleIndex(), scope=SCOPE)
        self.target = target
        self.timeout = timeout
        self.sender: HttpSender

    async def __aenter__(self) -> Bench:
        await self.store.start()
        self.sender = HttpSender(self.store, self.ctx.settings, secrets=self.ctx.secrets, timeout=self.timeout)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.sender.close()
        await self.store.close()

    async def connection(self, auth_type: str, auth: dict[str, Any]) -> dict[str, Any]:
        name = f"c-{uuid.uuid4().hex[:8]}"
        await connections.create_connection(
            self.ctx, {"Name": name, "AuthorizationType": auth_type, "AuthParameters": auth}
        )
        return self.store.get_resource(CONNECTION, SCOPE.key(name)) or {}

    async def destination(
        self, connection: dict[str, Any], path: str, method: str = "POST", rate: int | None = None
    ) -> str:
        body: dict[str, Any] = {
            "Name": f"d-{uuid.uuid4().hex[:8]}",
            "ConnectionArn": connection["ConnectionArn"],
            "InvocationEndpoint": self.target.url + path,
            "HttpMethod": method,
        }
        if rate:
            body["InvocationRateLimitPerSecond"] = rate
        return (await destinations.create_api_destination(self.ctx, body))["ApiDestinationArn"]

    def delivery(
        self, arn: str, http: dict[str, Any] | None = None, trace: str | None = None, delivery_id: int = 1
    ) -> Delivery:
        target: dict[str, Any] = {"Id": "t1", "Arn": arn}
        if http:
            target["HttpParameters"] = http
        return Delivery(
            id=delivery_id,
            to=parse_target(arn),
            event_id="e-1",
            bus="default",
            rule_name="r",
            rule_arn="arn:aws:events:us-east-1:000000000000:rule/r",
            target=target,
            payload=PAYLOAD,
            envelope=PAYLOAD,
            trace_header=trace,
            attempts=0,
            ingested_at=time.time(),
        )

    async def send(self, arn: str, http: dict[str, Any] | None = None, trace: str | None = None) -> Outcome:
        return await self.sender.send(self.delivery(arn, http, trace))


def run(tmp_path: Path, target: HttpTarget, body: Callable[[Bench], Awaitable[None]], timeout: float = 5.0) -> None:
    async def main() -> None:
        async with Bench(tmp_path / "data", target, timeout) as bench:
            await body(bench)

    asyncio.run(main())


def path() -> str:
    return f"/hook/{uuid.uuid4().hex[:8]}"


BASIC_AUTH = {"BasicAuthParameters": {"Username": "ann", "Password": "pw-s3cret"}}


def oauth_auth(target: HttpTarget, endpoint: str = HttpTarget.TOKEN_PATH) -> dict[str, Any]:
    return {
        "OAuthParameters": {
            "ClientParameters": {"ClientID": "client-1", "ClientSecret": "client-s3cret"},
            "AuthorizationEndpoint": target.url + endpoint,
            "HttpMethod": "POST",
            "OAuthHttpParameters": {
                "BodyParameters": [{"Key": "scope", "Value": "events", "IsValueSecret": False}],
                "HeaderParameters": [{"Key": "X-Tenant", "Value": "t1", "IsValueSecret": False}],
            },
        }
    }


def test_basic_auth_and_aws_headers(tmp_path, target):
    where = path()

    async def body(bench: Bench) -> None:
        arn = await bench.destination(await bench.connection("BASIC", BASIC_AUTH), where)
        assert await bench.send(arn, trace="Root=1-5759e988-bd862e3fe1be46a994272793") == Outcome.success()
        [request] = target.requests_to(where)
        assert request.method == "POST"
        assert request.body == PAYLOAD
        assert request.headers["authorization"] == "Basic " + base64.b64encode(b"ann:pw-s3cret").decode()
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert request.headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
        assert request.headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"

    run(tmp_path, target, body)


def test_api_key_auth_and_get_without_body(tmp_path, target):
    where = path()

    async def body(bench: Bench) -> None:
        connection = await bench.connection(
            "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-s3cret"}}
        )
        arn = await bench.destination(connection, where, method="GET")
        assert (await bench.send(arn)).ok
        [request] = target.requests_to(where)
        assert request.method == "GET" and request.body == b""
        assert request.headers["x-api-key"] == "key-s3cret"
        assert "authorization" not in request.headers and "x-amzn-trace-id" not in request.headers

    run(tmp_path, target, body)


def test_path_query_header_and_body_parameters(tmp_path, target):
    base = path()

    async def body(bench: Bench) -> None:
        connection = await bench.connection(
            "BASIC",
            {
                **BASIC_AUTH,
                "InvocationHttpParameters": {
                    "HeaderParameters": [
                        {"Key": "X-Shared", "Value": "connection", "IsValueSecret": False},
                        {"Key": "X-Secret", "Value": "header-s3cret", "IsValueSecret": True},
                    ],
                    "QueryStringParameters": [
                        {"Key": "shared", "Value": "connection", "IsValueSecret": False},
                        {"Key": "sig", "Value": "abc", "IsValueSecret": True},
                    ],
                    "BodyParameters": [{"Key": "source", "Value": "busbar", "IsValueSecret": False}],
                },
            },
        )
        arn = await bench.destination(connection, base + "/orders/*/items/*")
        outcome = await bench.send(
            arn,
            http={
                "PathParameterValues": ["a b", "7"],
                "QueryStringParameters": {"page": "2", "shared": "target"},
                "HeaderParameters": {"X-Target": "t", "X-Shared": "target"},
            },
        )
        assert outcome.ok
        [request] = target.requests_to(base + "/orders/a%20b/items/7")
        assert request.query == {"page": ["2"], "shared": ["connection"], "sig": ["abc"]}
        assert request.headers["x-target"] == "t"
        assert request.headers["x-shared"] == "connection"  # the connection wins a clash
        assert request.headers["x-secret"] == "header-s3cret"
        assert request.json() == {"id": "e-1", "detail": {"order": 7}, "source": "busbar"}

    run(tmp_path, target, body)


def test_oauth_token_fetch_cache_and_state(tmp_path, target):
    where = path()

    async def body(bench: Bench) -> None:
        connection = await bench.connection("OAUTH_CLIENT_CREDENTIALS", oauth_auth(target))
        assert connection["ConnectionState"] == "AUTHORIZING"
        arn = await bench.destination(connection, where)
        before = len(target.token_requests)
        assert (await bench.send(arn)).ok
        assert (await bench.send(arn)).ok
        fetched = target.token_requests[before:]
        assert len(fetched) == 1  # cached for the second send
        token_request = fetched[0]
        assert token_request.method == "POST"
        assert token_request.headers["authorization"] == "Basic " + base64.b64encode(b"client-1:client-s3cret").decode()
        assert token_request.headers["x-tenant"] == "t1"
        assert parse_qs(token_request.body.decode()) == {"grant_type": ["client_credentials"], "scope": ["events"]}
        sent = target.requests_to(where)
        assert len(sent) == 2
        assert sent[0].headers["authorization"].startswith("Bearer token-")
        assert sent[0].headers["authorization"] == sent[1].headers["authorization"]
        stored = bench.store.get_resource(CONNECTION, SCOPE.key(connection["Name"])) or {}
        assert stored["ConnectionState"] == "AUTHORIZED" and "LastAuthorizedTime" in stored

    run(tmp_path, target, body)


def test_oauth_refresh_on_401_and_expiry(tmp_path, target):
    where = path()

    async def body(bench: Bench) -> None:
        arn = await bench.destination(await bench.connection("OAUTH_CLIENT_CREDENTIALS", oauth_auth(target)), where)
        target.require_token_on.add(where)
        before = len(target.token_requests)
        assert (await bench.send(arn)).ok
        # The endpoint forgets every token: one 401, a fresh token, one more try, success.
        target.valid_tokens.clear()
        assert (await bench.send(arn)).ok
        sent = target.requests_to(where)
        assert [r.headers["authorization"] == sent[0].headers["authorization"] for r in sent] == [True, True, False]
        assert len(target.token_requests) - before == 2
        # A token is renewed before expires_in runs out.
        target.token_ttl = 1
        target.valid_tokens.clear()
        assert (await bench.send(arn)).ok  # 401, then a token that lives 1 s
        fetched = len(target.token_requests)
        await asyncio.sleep(1.1)
        assert (await bench.send(arn)).ok
        assert len(target.token_requests) == fetched + 1
        target.token_ttl = 3600

    try:
        run(tmp_path, target, body)
    finally:
        target.require_token_on.discard(where)


def test_oauth_refused_deauthorizes(tmp_path, target):
    where, deny = path(), path()
    target.script(deny, Reply(status=401, body=b'{"error":"invalid_client"}'))

    async def body(bench: Bench) -> None:
        connection = await bench.connection("OAUTH_CLIENT_CREDENTIALS", oauth_auth(target, deny))
        arn = await bench.destination(connection, where)
        outcome = await bench.send(arn)
        assert (outcome.ok, outcome.retryable, outcome.error_code) == (False, False, "CONNECTION_FAILURE")
        stored = bench.store.get_resource(CONNECTION, SCOPE.key(connection["Name"])) or {}
        assert stored["ConnectionState"] == "DEAUTHORIZED"
        assert "401" in stored["StateReason"]
        again = await bench.send(arn)
        assert (again.retryable, again.error_code) == (False, "CONNECTION_FAILURE")
        assert target.requests_to(where) == [] and len(target.requests_to(deny)) == 1

    run(tmp_path, target, body)


def test_status_codes(tmp_path, target):
    where = path()
    http_date = email.utils.formatdate(time.time() + 30, usegmt=True)
    target.script(
        where,
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=503, headers={"Retry-After": http_date}),
        Reply(status=500),
        Reply(status=408),
        Reply(status=400),
        Reply(status=404),
        Reply(status=204),
    )

    async def body(bench: Bench) -> None:
        arn = await bench.destination(await bench.connection("BASIC", BASIC_AUTH), where)
        outcomes = [await bench.send(arn) for _ in range(7)]
        assert [(o.ok, o.retryable, o.error_code) for o in outcomes] == [
            (False, True, "THROTTLING"),
            (False, True, "ERROR_FROM_TARGET"),
            (False, True, "ERROR_FROM_TARGET"),
            (False, True, "TIMEOUT"),
            (False, False, "ERROR_FROM_TARGET"),
            (False, False, "ERROR_FROM_TARGET"),
            (True, False, ""),
        ]
        assert outcomes[0].retry_after == 7
        assert 25 <= (outcomes[1].retry_after or 0) <= 31
        assert outcomes[2].retry_after is None
        assert outcomes[0].error_message == (
            "Unable to invoke ApiDestination endpoint: The endpoint answered HTTP status 429."
        )

    run(tmp_path, target, body)


def test_basic_401_deauthorizes_the_connection(tmp_path, target):
    where = path()
    target.script(where, Reply(status=401))

    async def body(bench: Bench) -> None:
        connection = await bench.connection("BASIC", BASIC_AUTH)
        arn = await bench.destination(connection, where)
        outcome = await bench.send(arn)
        assert (outcome.retryable, outcome.error_code) == (False, "ERROR_FROM_TARGET")
        assert (bench.store.get_resource(CONNECTION, SCOPE.key(connection["Name"])) or {})[
            "ConnectionState"
        ] == "DEAUTHORIZED"
        again = await bench.send(arn)
        assert (again.retryable, again.error_code) == (False, "CONNECTION_FAILURE")
        assert len(target.requests_to(where)) == 1
        # New credentials authorize it again.
        await connections.update_connection(
            bench.ctx,
            {"Name": connection["Name"], "AuthParameters": {"BasicAuthParameters": {"Password": "pw-s3cret-2"}}},
        )
        assert (await bench.send(arn)).ok

    run(tmp_path, target, body)


def test_timeout_and_unreachable(tmp_path, target):
    slow = path()
    target.script(slow, Reply(delay=1.0))

    async def body(bench: Bench) -> None:
        connection = await bench.connection("BASIC", BASIC_AUTH)
        outcome = await bench.send(await bench.destination(connection, slow))
        assert (outcome.retryable, outcome.error_code) == (True, "TIMEOUT")
        assert outcome.error_message.startswith("Unable to invoke ApiDestination endpoint: Timeout calling endpoint")
        closed = (
            await destinations.create_api_destination(
                bench.ctx,
                {
                    "Name": "closed",
                    "ConnectionArn": connection["ConnectionArn"],
                    "InvocationEndpoint": f"http://127.0.0.1:{free_port()}/x",
                    "HttpMethod": "POST",
                },
            )
        )["ApiDestinationArn"]
        outcome = await bench.send(closed)
        assert (outcome.retryable, outcome.error_code, outcome.error_message) == (
            True,
            "SDK_CLIENT_ERROR",
            "Unable to invoke ApiDestination endpoint: API destination endpoint cannot be reached.",
        )

    run(tmp_path, target, body, timeout=0.3)


def test_missing_destination_connection_and_deauthorized(tmp_path, target):
    where = path()

    async def body(bench: Bench) -> None:
        connection = await bench.connection("BASIC", BASIC_AUTH)
        arn = await bench.destination(connection, where)
        await connections.deauthorize_connection(bench.ctx, {"Name": connection["Name"]})
        outcome = await bench.send(arn)
        assert (outcome.retryable, outcome.error_code) == (False, "CONNECTION_FAILURE")
        await connections.delete_connection(bench.ctx, {"Name": connection["Name"]})
        outcome = await bench.send(arn)
        assert (outcome.retryable, outcome.error_code) == (False, "NO_RESOURCE")
        name = arn.split("/")[1]
        await destinations.delete_api_destination(bench.ctx, {"Name": name})
        outcome = await bench.send(arn)
        assert (outcome.retryable, outcome.error_code) == (False, "NO_RESOURCE")
        assert target.requests_to(where) == []

    run(tmp_path, target, body)


def test_rate_limit_delays_not_drops(tmp_path, target):
    """The dispatcher paces an API destination's lane at its InvocationRateLimitPerSecond."""
    where, other = path(), path()

    async def body(bench: Bench) -> None:
        slow = await bench.destination(await bench.connection("BASIC", BASIC_AUTH), where, rate=5)
        fast = await bench.destination(await bench.connection("BASIC", BASIC_AUTH), other)
        assert bench.sender.rate_of(bench.delivery(slow).target["Arn"]) == 5.0
        dispatcher = Dispatcher(
            bench.store,
            {TargetKind.API_DESTINATION: bench.sender},
            concurrency=4,
        )
        await dispatcher.start()
        try:
            await dispatcher.submit(bench.delivery(slow, delivery_id=n) for n in range(15))
            await dispatcher.submit([bench.delivery(fast, delivery_id=100)])
            deadline = time.monotonic() + 10
            while len(target.requests_to(where)) < 15 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await dispatcher.stop(close_senders=False)
        times = sorted(r.at for r in target.requests_to(where))
        assert len(times) == 15
        # 5 at once (one second's burst), then one every 0.2 s: about 2 s for the other 10.
        assert times[-1] - times[0] >= 1.6
        assert sum(1 for t in times if t - times[0] < 1.0) <= 10
        # The other destination did not wait behind the slow one's lane.
        [quick] = target.requests_to(other)
        assert quick.at - times[0] < 1.0

    run(tmp_path, target, body)


def test_no_secret_in_logs_or_outcomes(tmp_path, target, caplog):
    where, deny = path(), path()
    target.script(where, Reply(status=401))
    target.script(deny, Reply(status=400))
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []

    async def body(bench: Bench) -> None:
        basic = await bench.connection(
            "BASIC",
            {
                **BASIC_AUTH,
                "InvocationHttpParameters": {
                    "HeaderParameters": [{"Key": "X-Secret", "Value": "header-s3cret", "IsValueSecret": True}],
                    "QueryStringParameters": [{"Key": "sig", "Value": "query-s3cret", "IsValueSecret": True}],
                },
            },
        )
        messages.append((await bench.send(await bench.destination(basic, where))).error_message)
        oauth = await bench.connection("OAUTH_CLIENT_CREDENTIALS", oauth_auth(target, deny))
        messages.append((await bench.send(await bench.destination(oauth, where))).error_message)

    run(tmp_path, target, body)
    text = caplog.text + " ".join(messages) + " ".join(str(r.__dict__) for r in caplog.records)
    assert all(message for message in messages)
    for secret in SECRETS:
        assert secret not in text
