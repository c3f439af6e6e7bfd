"""The HTTP edge: an ASGI app that speaks AWS JSON 1.1 on ``POST /``.

Every API call is ``POST /`` with ``X-Amz-Target: AWSEvents.<Operation>`` and a
JSON object body; the answer is JSON with an ``x-amzn-RequestId`` header; errors
are ``{"__type": code, "message": text}`` with HTTP 400 (500 for
``InternalException``).  The hot path is plain ASGI; the few other routes
(``GET /health``) are a small Starlette app.

The app owns its data directory (:mod:`busbar.store.datadir`): building it locks the
directory, makes it private and checks its database; a second server on the same
directory fails there, before anything listens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from busbar import __version__
from busbar.api import OPERATIONS, Context
from busbar.api.buses import ensure_default_bus
from busbar.api.errors import (
    AwsError,
    InternalException,
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from busbar.config import Settings
from busbar.delivery.dispatcher import Dispatcher
from busbar.delivery.retry import Backoff
from busbar.delivery.senders import build_senders
from busbar.endpoints.health import HealthPoller
from busbar.endpoints.lifecycle import Lifecycle
from busbar.model.caller import Caller
from busbar.model.entries import new_event_ids
from busbar.observe import Observer
from busbar.patterns import PatternLimits
from busbar.replayer import Replayer, replay_progress
from busbar.resources.kinds import CONNECTION
from busbar.resources.scope import Scope as ResourceScope
from busbar.resources.secretbox import KEY_FILE_NAME, SecretBox, SecretsKeyError, unlock
from busbar.retention import Retention
from busbar.router import Router
from busbar.ruleindex import RuleIndex
from busbar.scheduler import Scheduler
from busbar.server.auth import SigV4Verifier, load_keys, request_headers, unsigned_caller
from busbar.server.insight import Insight
from busbar.server.model import operation
from busbar.server.validation import validate_request
from busbar.store.base import CannotStart, Store, Unavailable
from busbar.store.datadir import DataDir
from busbar.store.factory import make_store

log = logging.getLogger("busbar.server")

_TARGET_PREFIX = "AWSEvents."
_CONTENT_TYPE = b"application/x-amz-json-1.1"

# Delivery ids are SQLite rowids: 1 .. 2**63-1.
MAX_DELIVERY_ID = 2**63 - 1
# One redrive request names at most this many ids (bounds the work of one call).
MAX_REDRIVE_IDS = 10_000

Scope = dict[str, Any]

# Operations that need not wait for other nodes' changes first: PutEvents is the hot path and
# looks again itself when a bus it names is missing (busbar.api.events).
_NO_SYNC = frozenset({"PutEvents"})


class BusbarApp:
    """The ASGI application of one busbar server."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        # Raises busbar.store.datadir.DataDirError: in use by another server, damaged, not ours.
        self.data_dir = DataDir.open(settings.data_dir)
        self.store = store or make_store(settings)
        # Opened at startup, once the store can say whether secrets were sealed before.
        self.secrets = SecretBox()
        self.observer = Observer.for_server(settings, self.store)  # busbar.observe: metrics, failure logs, bus logs
        limits = PatternLimits(max_pattern_chars=settings.limits.max_pattern_chars)
        self.ctx = Context(
            settings=settings,
            store=self.store,
            rules=RuleIndex(limits),
            scope=ResourceScope(settings.account_id, settings.region),
            secrets=self.secrets,
            observer=self.observer,
        )
        self.dispatcher = Dispatcher(
            self.store,
            build_senders(self.store, settings, self.secrets),
            backoff=Backoff(settings.retry_base_delay, settings.retry_max_delay),
            concurrency=settings.delivery_concurrency,
            window=settings.delivery_window,
            observer=self.observer,
        )
        self.router = Router(
            self.store,
            self.ctx.rules,
            self.dispatcher,
            max_descendants=settings.limits.max_event_descendants,
            observer=self.observer,
        )
        self.observer.gauge("deliveries_in_memory", "Deliveries held in memory.", lambda: self.dispatcher.held)
        self.retention = Retention(self.store, settings.event_retention_seconds)
        self.scheduler = Scheduler(self.store)
        self.replayer = Replayer(self.store, events_per_second=settings.replay_events_per_second)
        # Global endpoints: their states settle, their Route 53 health checks are read.
        self.endpoint_lifecycle = Lifecycle(self.store)
        self.endpoint_health = HealthPoller(self.store, settings.endpoint_health_interval)
        self._scopes_seen: set[ResourceScope] = set()
        keys = load_keys(settings.auth_keys_file, settings.account_id) if settings.auth_keys_file else None
        self._verifier = SigV4Verifier(keys, settings.region) if keys is not None else None
        # busbar.server.insight: /metrics, its listener, /console/ (signed in with the same keys)
        self.insight = Insight(self, {key: access.secret for key, access in keys.items()} if keys else None)
        self._max_body = settings.limits.request_body_bytes
        self._plain = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET", "HEAD"]),
                Route("/busbar/dead-letters/redrive", self._redrive, methods=["POST"]),
                Route("/busbar/replays", self._replays, methods=["GET"]),
                *self.insight.routes(),  # busbar.server.insight
            ]
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] == "POST" and scope["path"] == "/":
                await self._api(scope, receive, send)
            else:
                await self._plain(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- life cycle ----------------------------------------------------------------
    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except (
                    SecretsKeyError,
                    CannotStart,
                ) as error:  # the message says what to do; a traceback would hide it
                    log.error("busbar could not start: %s", error)
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                except Exception as error:  # noqa: BLE001 - reported to the server
                    log.exception("busbar could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        await self.store.start()
        await unlock(self.secrets, self._key_file(), self.store, CONNECTION)
        await ensure_default_bus(self.store, self.ctx.scope, self.settings.limits.max_event_buses)
        self.ctx.rules.follow(self.store)
        await self.observer.start(self.store)  # busbar.observe: bus logs follow LogConfig; charts sample
        await self.insight.start()  # busbar.server.insight: the metrics listener
        await self.dispatcher.start()
        await self.router.start()
        await self.retention.start()
        await self.scheduler.start()
        await self.replayer.start()
        await self.endpoint_lifecycle.start()
        await self.endpoint_health.start()
        log.info(
            "busbar started",
            extra={
                "data_dir": str(self.settings.data_dir),
                "region": self.settings.region,
                "account": self.settings.account_id,
            },
        )

    async def shutdown(self) -> None:
        # Routing and sending stop first (what is unfinished stays pending in the
        # store); commits in flight finish before the store closes.
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("replays", self.replayer.stop),
            ("schedules", self.scheduler.stop),
            ("endpoint health", self.endpoint_health.stop),
            ("endpoint states", self.endpoint_lifecycle.stop),
            ("retention", self.retention.stop),
            ("routing", self.router.stop),
            ("delivery", self.dispatcher.stop),
            ("metrics listener", self.insight.stop),  # busbar.server.insight
            ("observer", self.observer.stop),  # busbar.observe: the last bus log records are written
            ("store", self.store.close),
        ]
        for name, stop in steps:
            began = time.monotonic()
            await stop()
            if time.monotonic() - began > 5.0:  # say what held a shutdown up
                log.warning("stopping took long", extra={"part": name, "seconds": round(time.monotonic() - began, 1)})
        self.data_dir.close()
        log.info("busbar stopped")

    def _key_file(self) -> Path:
        return self.settings.secrets_key_file or self.settings.data_dir / KEY_FILE_NAME

    # -- routes --------------------------------------------------------------------
    async def _health(self, request: Request) -> JSONResponse:
        """200 and status ok while the store can write; 503 with the reason when it cannot
        (its file deleted or replaced, its last commit failed): see busbar.store.datadir."""
        answer: dict[str, Any] = {"status": "ok", "version": __version__, "deliveries_backlog": self.dispatcher.backlog}
        problem = self.store.health()
        if problem is None:
            return JSONResponse(answer)
        answer.update(status="unavailable", reason=problem)
        return JSONResponse(answer, status_code=503)

    async def _replays(self, request: Request) -> JSONResponse:
        """The progress of every replay (what ``busbar replays`` shows)."""
        try:
            headers = request_headers(request.headers.raw)
            self._caller(request.method, request.url.path, request.url.query.encode(), headers, b"")
        except AwsError as error:
            return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        return JSONResponse({"replays": replay_progress(self.store)})

    async def _redrive(self, request: Request) -> JSONResponse:
        """Make dead deliveries pending again: all, or the ids in ``{"ids": [...]}``."""
        try:
            raw = await self._read_body(request.receive)
            headers = request_headers(request.headers.raw)
            self._caller(request.method, request.url.path, request.url.query.encode(), headers, raw)
            # Checked here, before the store's writer sees them: a bad id must fail this
            # request only, never the commits it would share with other clients' writes.
            ids = redrive_ids(raw)
        except AwsError as error:
            return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        except _Disconnected:
            return JSONResponse({}, status_code=400)  # nobody is listening; nothing was done
        return JSONResponse({"redriven": await self.store.redrive(ids)})

    async def _api(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        request_id = new_event_ids(1)[0]
        target = ""
        try:
            headers = request_headers(scope["headers"])
            # The operation dispatched is the one the signature covers: read once, from
            # the same (single) header the verifier checks.
            target = headers.get("x-amz-target", "")
            body = await self._read_body(receive)
            caller = self._caller(scope["method"], scope["path"], scope["query_string"], headers, body)
            answer = await self._dispatch(target, body, caller)
            status, payload = 200, orjson.dumps(answer)
        except _Disconnected:
            return
        except AwsError as error:
            status, payload = error.status, _error_body(error)
        except Unavailable as error:  # the store said why: no traceback per request
            log.warning(
                "store unavailable", extra={"target": target[:128], "request_id": request_id, "reason": str(error)}
            )
            internal = InternalException("The store is unavailable; try again. The request id is " + request_id)
            status, payload = internal.status, _error_body(internal)
        except Exception:  # noqa: BLE001 - never let a bug take the connection down
            log.exception("operation failed", extra={"target": target[:128], "request_id": request_id})
            internal = InternalException("An internal error occurred. The request id is " + request_id)
            status, payload = internal.status, _error_body(internal)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", _CONTENT_TYPE),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request",
                extra={
                    "target": target,
                    "status": status,
                    "request_id": request_id,
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    def _caller(self, method: str, path: str, query: bytes, headers: dict[str, str], body: bytes) -> Caller:
        """Who the request comes from: verified with ``--auth-keys-file``, else as it says."""
        if self._verifier is None:
            return unsigned_caller(headers, self.settings.account_id, self.settings.region)
        return self._verifier.verify(method, path, query.decode("latin-1"), headers, body)

    async def _read_body(self, receive: Any) -> bytes:
        """The whole request body, refused as soon as it grows over the cap; a client
        that goes away (or is cut off by the request timeout) before its body is
        complete raises _Disconnected: a partial body is never acted on."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise ValidationException(f"The request body is larger than {self._max_body} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]

    async def _dispatch(self, target: str, raw: bytes, caller: Caller) -> dict[str, Any]:
        """Run the operation *target* names for *caller*, in the caller's account and the
        region its request was signed for."""
        if not target.startswith(_TARGET_PREFIX):
            raise UnknownOperationException(
                f"The X-Amz-Target header {target[:128]!r} names no operation; expected AWSEvents.<Operation>."
            )
        name = target[len(_TARGET_PREFIX) :]
        handler = OPERATIONS.get(name)
        if handler is None:
            if operation(name) is None:
                raise UnknownOperationException(f"EventBridge has no operation {name[:128]}.")
            raise UnknownOperationException(f"busbar does not implement {name} yet.")
        body = _parse(raw)
        validate_request(name, body)
        if name not in _NO_SYNC:
            # A client alternating between nodes reads its own writes: this node first takes in
            # every change committed before (the embedded store has them all at once).
            await self.store.sync()
        return await handler(await self._context(caller), body)

    async def _context(self, caller: Caller) -> Context:
        """The context of a request acting as *caller*; the first request acting in an
        account and region makes its ``default`` bus, as AWS has one in each."""
        scope = ResourceScope(caller.account, caller.region)
        if scope == self.ctx.scope:
            return self.ctx
        if scope not in self._scopes_seen:
            await ensure_default_bus(self.store, scope, self.settings.limits.max_event_buses)
            self._scopes_seen.add(scope)
        return self.ctx.in_scope(scope)


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise SerializationException(f"The request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise SerializationException("The request body must be a JSON object.")
    return body


class _Disconnected(Exception):
    """The client went away before its request was complete."""


def redrive_ids(raw: bytes) -> list[int] | None:
    """The delivery ids of a redrive request (``{"ids": [...]}``; None: every dead
    delivery), or ValidationException saying what is wrong with the body."""
    expected = (
        f'expected {{"ids": [<delivery id>, ...]}} with at most {MAX_REDRIVE_IDS} ids from 1 to {MAX_DELIVERY_ID}, '
        "or an empty body"
    )
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise ValidationException(f"The request body is not valid JSON: {expected}.") from None
    if not isinstance(body, dict):
        raise ValidationException(f"The request body is not a JSON object: {expected}.")
    ids = body.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list):
        raise ValidationException(f"ids is not a list: {expected}.")
    if len(ids) > MAX_REDRIVE_IDS:
        raise ValidationException(f"ids holds {len(ids)} ids: {expected}.")
    for index, value in enumerate(ids):
        if type(value) is not int or not 1 <= value <= MAX_DELIVERY_ID:
            shown = orjson.dumps(value).decode()[:64]
            raise ValidationException(f"ids[{index}] is {shown}, not a delivery id: {expected}.")
    return ids


def _error_body(error: AwsError) -> bytes:
    return orjson.dumps({"__type": error.code, "message": error.message})
