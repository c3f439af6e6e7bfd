"""The HTTP edge: an ASGI app that speaks AWS JSON 1.1 on ``POST /``.

Every API call is ``POST /`` with ``X-Amz-Target: AWSEvents.<Operation>`` and a
JSON object body; the answer is JSON with an ``x-amzn-RequestId`` header; errors
are ``{"__type": code, "message": text}`` with HTTP 400 (500 for
``InternalException``).  The hot path is plain ASGI; the few other routes
(``GET /health``) are a small Starlette app.
"""

from __future__ import annotations

import logging
import time
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
from busbar.model.entries import new_event_ids
from busbar.patterns import PatternLimits
from busbar.replayer import Replayer, replay_progress
from busbar.resources.scope import Scope as ResourceScope
from busbar.retention import Retention
from busbar.router import Router
from busbar.ruleindex import RuleIndex
from busbar.scheduler import Scheduler
from busbar.server.auth import SigV4Verifier, load_keys
from busbar.server.model import operation
from busbar.server.validation import validate_request
from busbar.store.base import Store
from busbar.store.sqlite import SqliteStore

log = logging.getLogger("busbar.server")

_TARGET_PREFIX = "AWSEvents."
_CONTENT_TYPE = b"application/x-amz-json-1.1"
# No EventBridge request comes near this; bigger bodies are refused unread.
_MAX_BODY_BYTES = 16 * 1024 * 1024

Scope = dict[str, Any]


class BusbarApp:
    """The ASGI application of one busbar server."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or SqliteStore(settings.data_dir, settings.sync)
        limits = PatternLimits(max_pattern_chars=settings.limits.max_pattern_chars)
        self.ctx = Context(
            settings=settings,
            store=self.store,
            rules=RuleIndex(limits),
            scope=ResourceScope(settings.account_id, settings.region),
        )
        self.dispatcher = Dispatcher(
            self.store,
            build_senders(self.store, settings),
            backoff=Backoff(settings.retry_base_delay, settings.retry_max_delay),
            concurrency=settings.delivery_concurrency,
            window=settings.delivery_window,
        )
        self.router = Router(
            self.store, self.ctx.rules, self.dispatcher, max_descendants=settings.limits.max_event_descendants
        )
        self.retention = Retention(self.store, settings.event_retention_seconds)
        self.scheduler = Scheduler(self.store)
        self.replayer = Replayer(self.store, events_per_second=settings.replay_events_per_second)
        self._verifier = SigV4Verifier(load_keys(settings.auth_keys_file)) if settings.auth_keys_file else None
        self._max_body = max(_MAX_BODY_BYTES, 4 * settings.limits.max_put_events_request_bytes)
        self._plain = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET", "HEAD"]),
                Route("/busbar/dead-letters/redrive", self._redrive, methods=["POST"]),
                Route("/busbar/replays", self._replays, methods=["GET"]),
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
        await ensure_default_bus(self.store, self.ctx.scope, self.settings.limits.max_event_buses)
        self.ctx.rules.follow(self.store)
        await self.dispatcher.start()
        await self.router.start()
        await self.retention.start()
        await self.scheduler.start()
        await self.replayer.start()
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
        await self.replayer.stop()
        await self.scheduler.stop()
        await self.retention.stop()
        await self.router.stop()
        await self.dispatcher.stop()
        await self.store.close()
        log.info("busbar stopped")

    # -- routes --------------------------------------------------------------------
    async def _health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "deliveries_backlog": self.dispatcher.backlog})

    def _refused(self, request: Request, raw: bytes) -> JSONResponse | None:
        """The answer to an admin request that is not signed as --auth-keys-file wants, or None."""
        if self._verifier is not None:
            try:
                self._verify(request.method, request.url.path, request.url.query.encode(), request.headers.raw, raw)
            except AwsError as error:
                return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        return None

    async def _replays(self, request: Request) -> JSONResponse:
        """The progress of every replay (what ``busbar replays`` shows)."""
        refused = self._refused(request, b"")
        if refused is not None:
            return refused
        return JSONResponse({"replays": replay_progress(self.store)})

    async def _redrive(self, request: Request) -> JSONResponse:
        """Make dead deliveries pending again: all, or the ids in ``{"ids": [...]}``."""
        raw = await request.body()
        refused = self._refused(request, raw)
        if refused is not None:
            return refused
        try:
            body = orjson.loads(raw or b"{}")
            ids = body.get("ids") if isinstance(body, dict) else None
            if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
                raise ValueError
        except (orjson.JSONDecodeError, ValueError):
            return JSONResponse({"message": 'expected {"ids": [<delivery id>, ...]} or an empty body'}, status_code=400)
        return JSONResponse({"redriven": await self.store.redrive(ids)})

    async def _api(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        request_id = new_event_ids(1)[0]
        target = ""
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                target = value.decode("latin-1")
                break
        try:
            body = await self._read_body(receive)
            if self._verifier is not None:
                self._verify(scope["method"], scope["path"], scope["query_string"], scope["headers"], body)
            answer = await self._dispatch(target, body)
            status, payload = 200, orjson.dumps(answer)
        except AwsError as error:
            status, payload = error.status, _error_body(error)
        except Exception:  # noqa: BLE001 - never let a bug take the connection down
            log.exception("operation failed", extra={"target": target, "request_id": request_id})
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

    def _verify(
        self, method: str, path: str, query: bytes, raw_headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        assert self._verifier is not None
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers}
        self._verifier.verify(method, path, query.decode("latin-1"), headers, body)

    async def _read_body(self, receive: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise ValidationException(f"The request body is larger than {self._max_body} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]

    async def _dispatch(self, target: str, raw: bytes) -> dict[str, Any]:
        if not target.startswith(_TARGET_PREFIX):
            raise UnknownOperationException(
                f"The X-Amz-Target header {target!r} names no operation; expected AWSEvents.<Operation>."
            )
        name = target[len(_TARGET_PREFIX) :]
        handler = OPERATIONS.get(name)
        if handler is None:
            if operation(name) is None:
                raise UnknownOperationException(f"EventBridge has no operation {name}.")
            raise UnknownOperationException(f"busbar does not implement {name} yet.")
        body = _parse(raw)
        validate_request(name, body)
        return await handler(self.ctx, body)


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


def _error_body(error: AwsError) -> bytes:
    return orjson.dumps({"__type": error.code, "message": error.message})
