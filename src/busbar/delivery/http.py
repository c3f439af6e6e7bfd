"""The sender for API destinations: one HTTP request per attempt, with the
connection's credentials, at most the destination's rate.

The request, as AWS builds it
    * method: the destination's ``HttpMethod``; URL: its ``InvocationEndpoint``
      with each ``*`` replaced, in order, by the target's
      ``HttpParameters.PathParameterValues`` (URL-quoted);
    * query string: the target's ``HttpParameters.QueryStringParameters``, then
      the connection's ``InvocationHttpParameters.QueryStringParameters`` (the
      connection wins a clash);
    * headers: ``Content-Type: application/json; charset=utf-8`` (when there is a
      body), ``User-Agent: Amazon/EventBridge/ApiDestinations``, the target's
      ``HeaderParameters``, then the connection's (the connection wins a clash),
      ``X-Amzn-Trace-Id`` when the event has a trace header, ``X-Busbar-Event-Id`` and
      ``X-Busbar-Rule-Arn`` (the event and rule of the delivery), and the auth header;
    * body: the delivery's payload, for every method but GET, HEAD and OPTIONS;
      the connection's ``BodyParameters`` are added to a JSON-object payload.
    * auth: ``BASIC`` -> ``Authorization: Basic``; ``API_KEY`` -> the header
      ``ApiKeyName: ApiKeyValue``; ``OAUTH_CLIENT_CREDENTIALS`` -> ``Authorization:
      Bearer <token>``.

OAuth tokens
    A token is fetched from the connection's ``AuthorizationEndpoint`` with its
    ``HttpMethod``; the client id and secret travel as HTTP Basic auth (RFC 6749
    section 2.3.1), ``grant_type=client_credentials`` and the ``OAuthHttpParameters``
    body parameters as a form (in the query string for GET), plus the
    ``OAuthHttpParameters`` headers and query parameters.  The token is cached per
    connection until shortly before ``expires_in`` (until the endpoint answers 401
    when there is none) and until the connection's credentials change.  A 401 from
    the endpoint drops the token; busbar fetches a new one and tries once more at
    once.  Fetching the first token moves an ``AUTHORIZING`` connection to
    ``AUTHORIZED``; a 4xx from the authorization endpoint moves it to
    ``DEAUTHORIZED`` (as AWS does when it cannot refresh a token).  As AWS
    documents, a ``BASIC``/``API_KEY`` connection is deauthorized when the endpoint
    answers 401 or 407.

Outcomes (error codes are the ``ERROR_CODE`` values of AWS's dead-letter messages;
messages start as AWS's do, "Unable to invoke ApiDestination endpoint: ...")
    * 2xx -> success;
    * 429 -> retry, ``THROTTLING``; 5xx -> retry, ``ERROR_FROM_TARGET``; both honour
      ``Retry-After`` (seconds or an HTTP date);
    * 408 and timeouts (5 s) -> retry, ``TIMEOUT``;
    * the endpoint cannot be reached -> retry, ``SDK_CLIENT_ERROR``;
    * other statuses -> no retry, ``ERROR_FROM_TARGET``;
    * a deauthorized connection or a refused OAuth client -> no retry,
      ``CONNECTION_FAILURE``; an authorization endpoint that is down -> retry,
      ``CONNECTION_FAILURE``;
    * a destination or connection that does not exist -> no retry, ``NO_RESOURCE``.

Rate limits
    :meth:`HttpSender.rate_of` tells the dispatcher each destination's
    ``InvocationRateLimitPerSecond``; the dispatcher paces the destination's lane with
    a token bucket (bursts of one second's worth, see :mod:`busbar.delivery.lanes`):
    throttled invocations are delayed, never dropped, and the sender never waits.

Credentials never reach a log or an outcome message: logs and messages name the
destination and the status, never headers, query strings or bodies.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from busbar.config import Settings
from busbar.delivery.base import Delivery, Outcome
from busbar.model.arns import parse_events
from busbar.observe.shapes import delivery_fields
from busbar.resources.connections import API_KEY, AUTHORIZED, BASIC, DEAUTHORIZED, OAUTH
from busbar.resources.kinds import CONNECTION
from busbar.resources.lookup import find_api_destination, find_connection
from busbar.resources.scope import Scope
from busbar.resources.secretbox import SecretBox
from busbar.store.base import Store

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
USER_AGENT = "Amazon/EventBridge/ApiDestinations"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
PREFIX = "Unable to invoke ApiDestination endpoint: "

# AWS's dead-letter ERROR_CODE values used here.
THROTTLING = "THROTTLING"
TIMEOUT = "TIMEOUT"
ERROR_FROM_TARGET = "ERROR_FROM_TARGET"
SDK_CLIENT_ERROR = "SDK_CLIENT_ERROR"
CONNECTION_FAILURE = "CONNECTION_FAILURE"
NO_RESOURCE = "NO_RESOURCE"

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
# The event and the rule of every request, whatever its body (README: Targets).
EVENT_ID_HEADER = "X-Busbar-Event-Id"
RULE_ARN_HEADER = "X-Busbar-Rule-Arn"
# Headers the HTTP client computes from the request itself; a user's value would only break it.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class _Request:
    """One HTTP request to make."""

    method: str
    url: str
    params: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class _Response:
    """What came back (the body read whole)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class _Token:
    """A cached OAuth access token of one generation of a connection's credentials."""

    generation: int
    value: str
    expires_at: float  # time.monotonic(); inf when the endpoint gave no expires_in


class _Refused(Exception):
    """Fetching a token failed; ``outcome`` says how the delivery ends."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_message)
        self.outcome = outcome


class HttpSender:
    """Delivers to targets whose ``Arn`` is an API destination ARN.

    One per server: ``HttpSender(store, settings, secrets=box)``, where *box* opens the
    connections' sealed secrets; ``await send(delivery)`` for each attempt (safe to call
    concurrently), ``await close()`` at shutdown.
    """

    def __init__(
        self, store: Store, settings: Settings | None = None, *, secrets: SecretBox, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._store = store
        self._settings = settings
        self._secrets = secrets
        self._timeout = timeout
        # Created on first use: an aiohttp session belongs to the running event loop.
        # aiohttp rather than httpx: measured here, httpx's pool managed ~500 requests/s
        # with many concurrent deliveries, aiohttp over 9,000.
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, _Token] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env stays False: busbar calls endpoints directly, as AWS does; a proxy
            # variable in the server's environment must not reroute (or leak) invocations.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
            )
        return self._session

    # -- one attempt ------------------------------------------------------------------
    async def send(self, delivery: Delivery) -> Outcome:
        """Invoke the destination once (after waiting for its rate) and say how it went."""
        arn = delivery.target.get("Arn", "")
        destination = find_api_destination(self._store, arn)
        if destination is None:
            return Outcome.fail(NO_RESOURCE, f"{PREFIX}API destination {arn} does not exist.")
        connection = find_connection(self._store, destination["ConnectionArn"])
        if connection is None:
            return Outcome.fail(
                NO_RESOURCE,
                f"{PREFIX}Connection {destination['ConnectionArn']} of API "
                f"destination {destination['Name']} does not exist.",
            )
        if connection["ConnectionState"] == DEAUTHORIZED:
            return _deauthorized(connection)
        connection = self._secrets.opened(connection)  # secretbox hook: secrets opened for the request only
        request = self._request(destination, connection, delivery)
        try:
            outcome = await self._invoke(request, destination, connection)
        except _Refused as refused:
            outcome = refused.outcome
        if log.isEnabledFor(logging.DEBUG):
            fields = delivery_fields(delivery)
            log.debug("api destination invoked", extra={**fields, "ok": outcome.ok, "error": outcome.error_message})
        return outcome

    async def _invoke(self, request: _Request, destination: dict[str, Any], connection: dict[str, Any]) -> Outcome:
        auth_type = connection["AuthorizationType"]
        if auth_type == OAUTH:
            request.headers["Authorization"] = "Bearer " + await self._token(connection)
        response = await self._send(request)
        if isinstance(response, Outcome):
            return response
        if response.status == 401 and auth_type == OAUTH:
            # The token may have been revoked or expired early: one fresh token, one more try.
            self._tokens.pop(connection["ConnectionArn"], None)
            request.headers["Authorization"] = "Bearer " + await self._token(connection)
            response = await self._send(request)
            if isinstance(response, Outcome):
                return response
        outcome = _classify(response)
        if response.status in (401, 407) and auth_type in (BASIC, API_KEY):
            await self._set_state(
                connection,
                DEAUTHORIZED,
                f"The endpoint of API destination {destination['Name']} refused the "
                f"connection's credentials with HTTP status {response.status}.",
            )
        return outcome

    async def _send(self, request: _Request) -> _Response | Outcome:
        try:
            async with self._client().request(
                request.method,
                request.url,
                params=request.params or None,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
            ) as response:
                return _Response(response.status, response.headers, await response.read())
        except TimeoutError:
            return Outcome.retry(
                TIMEOUT,
                f"{PREFIX}Timeout calling endpoint for API Destination: no answer within {self._timeout:g} seconds.",
            )
        except (aiohttp.InvalidURL, ValueError):
            return Outcome.fail(
                SDK_CLIENT_ERROR,
                f"{PREFIX}The request to the API destination endpoint could not be made; check its InvocationEndpoint.",
            )
        except aiohttp.ClientError:
            return Outcome.retry(SDK_CLIENT_ERROR, f"{PREFIX}API destination endpoint cannot be reached.")

    # -- the request ------------------------------------------------------------------
    def _request(self, destination: dict[str, Any], connection: dict[str, Any], delivery: Delivery) -> _Request:
        method = destination["HttpMethod"].upper()  # AWS accepts it in any case
        target_http = delivery.target.get("HttpParameters") or {}
        invocation = connection.get("AuthParameters", {}).get("InvocationHttpParameters") or {}
        url = _fill_path(destination["InvocationEndpoint"], target_http.get("PathParameterValues") or [])
        params = dict(target_http.get("QueryStringParameters") or {})
        params.update(_pairs(invocation.get("QueryStringParameters")))
        headers: CIMultiDict[str] = CIMultiDict({"User-Agent": USER_AGENT})
        body: bytes | None = None
        if method not in _NO_BODY:
            headers["Content-Type"] = JSON_CONTENT_TYPE
            body = _with_body_parameters(delivery.payload, invocation.get("BodyParameters"))
        for name, value in [
            *(target_http.get("HeaderParameters") or {}).items(),
            *_pairs(invocation.get("HeaderParameters")).items(),
        ]:
            if name.lower() not in _RESERVED_HEADERS:
                headers[name] = value
        if delivery.trace_header:
            headers["X-Amzn-Trace-Id"] = delivery.trace_header
        # busbar's own, on every request and every retry of it: what it delivers, whatever the
        # body became (Input, InputPath, InputTransformer), so that a receiver can drop repeats.
        headers[EVENT_ID_HEADER] = delivery.event_id
        headers[RULE_ARN_HEADER] = delivery.rule_arn
        auth = connection.get("AuthParameters", {})
        if connection["AuthorizationType"] == BASIC:
            basic = auth.get("BasicAuthParameters", {})
            headers["Authorization"] = _basic(basic.get("Username", ""), basic.get("Password", ""))
        elif connection["AuthorizationType"] == API_KEY:
            key = auth.get("ApiKeyAuthParameters", {})
            headers[key.get("ApiKeyName", "")] = key.get("ApiKeyValue", "")
        return _Request(method, url, params, headers, body)

    # -- rate -------------------------------------------------------------------------
    def rate_of(self, target_arn: str) -> float | None:
        """The destination's InvocationRateLimitPerSecond: the dispatcher paces its lane,
        so a slow destination never holds the workers other targets need."""
        destination = find_api_destination(self._store, target_arn)
        if destination is None:
            return None
        return float(destination.get("InvocationRateLimitPerSecond") or 300)

    # -- OAuth ------------------------------------------------------------------------
    async def _token(self, connection: dict[str, Any]) -> str:
        """A valid access token for *connection*, fetched once for concurrent sends."""
        arn = connection["ConnectionArn"]
        generation = connection.get("Generation", 0)
        cached = self._tokens.get(arn)
        if cached and cached.generation == generation and cached.expires_at > time.monotonic():
            return cached.value
        lock = self._token_locks.setdefault(arn, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(arn)  # another send may have fetched it meanwhile
            if cached and cached.generation == generation and cached.expires_at > time.monotonic():
                return cached.value
            token = await self._fetch_token(connection)
            self._tokens[arn] = token
            if connection["ConnectionState"] != AUTHORIZED:
                await self._set_state(connection, AUTHORIZED, None)
            return token.value

    async def _fetch_token(self, connection: dict[str, Any]) -> _Token:
        oauth = connection.get("AuthParameters", {}).get("OAuthParameters", {})
        client = oauth.get("ClientParameters", {})
        extra = oauth.get("OAuthHttpParameters") or {}
        method = oauth.get("HttpMethod", "POST").upper()  # AWS accepts it in any case
        form = {"grant_type": "client_credentials", **_pairs(extra.get("BodyParameters"))}
        params = _pairs(extra.get("QueryStringParameters"))
        headers = {
            "Accept": "application/json",
            **_pairs(extra.get("HeaderParameters")),
            "Authorization": _basic(
                quote(client.get("ClientID", ""), safe=""), quote(client.get("ClientSecret", ""), safe="")
            ),
        }
        content: bytes | None = None
        if method == "GET":
            params = {**form, **params}
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form).encode()
        name = connection["Name"]
        response = await self._send(
            _Request(method, oauth.get("AuthorizationEndpoint", ""), params, CIMultiDict(headers), content)
        )
        if isinstance(response, Outcome) and not response.retryable:
            # Not a URL a request can go to (AWS checks it no more strictly when the connection is made).
            reason = "The authorization endpoint is not a URL a request can be sent to."
            await self._set_state(connection, DEAUTHORIZED, reason)
            raise _Refused(
                Outcome.fail(CONNECTION_FAILURE, f"{PREFIX}Connection {name} could not be authorized: {reason}")
            )
        if isinstance(response, Outcome):
            waited = "did not answer in time" if response.error_code == TIMEOUT else "cannot be reached"
            raise _Refused(
                Outcome.retry(CONNECTION_FAILURE, f"{PREFIX}The authorization endpoint of connection {name} {waited}.")
            )
        status = response.status
        if status == 429 or status == 408 or status >= 500:
            raise _Refused(
                Outcome.retry(
                    CONNECTION_FAILURE,
                    f"{PREFIX}The authorization endpoint of connection {name} answered HTTP status {status}.",
                    _retry_after(response),
                )
            )
        token, expires_in = _parse_token(response) if 200 <= status < 300 else (None, None)
        if token is None:
            reason = (
                f"The authorization endpoint refused the client with HTTP status {status}."
                if not 200 <= status < 300
                else "The authorization endpoint answered without an access_token."
            )
            await self._set_state(connection, DEAUTHORIZED, reason)
            raise _Refused(
                Outcome.fail(CONNECTION_FAILURE, f"{PREFIX}Connection {name} could not be authorized: {reason}")
            )
        if expires_in is None:
            expires_at = float("inf")
        else:
            # Renew a little early so that a token never expires on its way to the endpoint.
            expires_at = time.monotonic() + max(0.0, expires_in - min(60.0, expires_in / 10))
        return _Token(connection.get("Generation", 0), token, expires_at)

    async def _set_state(self, connection: dict[str, Any], state: str, reason: str | None) -> None:
        """Record what busbar learnt about the connection's credentials, unless they
        changed meanwhile (then the news is about credentials that are gone)."""
        parts = parse_events(connection["ConnectionArn"], CONNECTION)
        if parts is None:
            return
        changed = False

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            nonlocal changed
            changed = False
            if (
                current is None
                or current["ConnectionArn"] != connection["ConnectionArn"]
                or current.get("Generation") != connection.get("Generation")
                or current["ConnectionState"] == state
            ):
                return current
            updated = dict(current)
            updated["ConnectionState"] = state
            if reason:
                updated["StateReason"] = reason
            else:
                updated.pop("StateReason", None)
            if state == AUTHORIZED:
                updated["LastAuthorizedTime"] = time.time()
            changed = True
            return updated

        await self._store.modify(CONNECTION, Scope(parts.account, parts.region).key(parts.name), change)
        if changed:
            log.info("connection state changed", extra={"connection": connection["Name"], "state": state})


# -- helpers ----------------------------------------------------------------------------


def _deauthorized(connection: dict[str, Any]) -> Outcome:
    reason = connection.get("StateReason") or "It was deauthorized."
    return Outcome.fail(
        CONNECTION_FAILURE,
        f"{PREFIX}Connection {connection['Name']} is DEAUTHORIZED: {reason} "
        "Update the connection's credentials with UpdateConnection.",
    )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    """A connection's [{Key, Value, IsValueSecret}] as {Key: Value}."""
    return {item["Key"]: str(item.get("Value", "")) for item in items or () if item.get("Key")}


def _fill_path(endpoint: str, values: list[str]) -> str:
    """Replace the ``*`` wildcards of *endpoint* by *values*, in order."""
    if not values or "*" not in endpoint:
        return endpoint
    parts = endpoint.split("*")
    filled = [parts[0]]
    for index, part in enumerate(parts[1:]):
        filled.append(quote(str(values[index]), safe="") if index < len(values) else "*")
        filled.append(part)
    return "".join(filled)


def _with_body_parameters(payload: bytes, items: list[dict[str, Any]] | None) -> bytes:
    """The payload with the connection's body parameters added, when it is a JSON object."""
    extra = _pairs(items)
    if not extra:
        return payload
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(document, dict):
        return payload
    document.update(extra)
    return json.dumps(document, separators=(",", ":")).encode()


def _classify(response: _Response) -> Outcome:
    status = response.status
    if 200 <= status < 300:
        return Outcome.success()
    text = f"{PREFIX}The endpoint answered HTTP status {status}."
    if status == 429:
        return Outcome.retry(THROTTLING, text, _retry_after(response))
    if status == 408:
        return Outcome.retry(TIMEOUT, text, _retry_after(response))
    if status >= 500:
        return Outcome.retry(ERROR_FROM_TARGET, text, _retry_after(response))
    return Outcome.fail(ERROR_FROM_TARGET, text)


def _retry_after(response: _Response) -> float | None:
    """``Retry-After`` in seconds (it may be a number of seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _parse_token(response: _Response) -> tuple[str | None, float | None]:
    """(access_token, expires_in) of a token endpoint's JSON answer."""
    try:
        document = json.loads(response.body)
    except ValueError:
        return None, None
    if not isinstance(document, dict) or not isinstance(document.get("access_token"), str):
        return None, None
    try:
        expires_in = float(document["expires_in"]) if document.get("expires_in") is not None else None
    except (TypeError, ValueError):
        expires_in = None
    return document["access_token"], expires_in
