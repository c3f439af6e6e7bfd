"""Connecting to NATS as NATS users expect (URLs with user:password@ or token@,
``--nats-creds``, TLS with ``tls://`` and a CA, certificate and key), telling
transient JetStream failures from real ones, and publishing with retries.

JetStream answers "try again" in several ways (measured, docs/nats-notes.md §2): no
responders while a stream elects a leader (``NoStreamResponseError``, at once), a
timeout without quorum, a 503, or 409/10158 "duplicate message id is in process" when
an earlier attempt with the same ``Nats-Msg-Id`` is still being committed.  Every
message busbar publishes carries a ``Nats-Msg-Id``, so a publish whose outcome is
unknown is simply sent again: JetStream stores it once.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from busbar.config import Settings
from busbar.store.base import CannotStart

log = logging.getLogger("busbar.store")

T = TypeVar("T")

# How long a write keeps trying through an election or a lost quorum before it fails
# (an election takes 4-6.5 s on loopback: docs/nats-notes.md §2).
WRITE_DEADLINE = 10.0
# How long one publish attempt waits for its acknowledgement.
ATTEMPT_TIMEOUT = 3.0
# How long start-up keeps trying to reach NATS and declare what busbar needs.
START_DEADLINE = 30.0
DUPLICATE_IN_PROCESS = 10158
_TRANSIENT = (
    NoStreamResponseError,
    nats.errors.NoRespondersError,
    nats.errors.TimeoutError,
    TimeoutError,
    ServiceUnavailableError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
)


def transient(error: BaseException) -> bool:
    """True for the failures of a JetStream call worth retrying as it was."""
    if isinstance(error, APIError) and not isinstance(error, ServiceUnavailableError):
        return error.err_code == DUPLICATE_IN_PROCESS
    return isinstance(error, _TRANSIENT)


@dataclass(frozen=True)
class NatsOptions:
    """How to reach the cluster and how busbar lays itself out in it."""

    servers: tuple[str, ...]
    replicas: int = 3
    prefix: str = "busbar"
    creds: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ack_wait: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> NatsOptions:
        return cls(
            servers=parse_servers(settings.store),
            replicas=settings.nats_replicas,
            prefix=settings.nats_prefix,
            creds=settings.nats_creds,
            tls_ca=settings.nats_tls_ca,
            tls_cert=settings.nats_tls_cert,
            tls_key=settings.nats_tls_key,
            ack_wait=settings.nats_ack_wait,
        )

    @property
    def shown(self) -> str:
        """The server URLs without their credentials, for messages."""
        return ", ".join(redact(url) for url in self.servers)


def parse_servers(store: str) -> tuple[str, ...]:
    """The URLs of ``--store`` (comma-separated)."""
    return tuple(url.strip() for url in store.split(",") if url.strip())


def redact(url: str) -> str:
    """*url* without the user, password or token it may hold."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def tls_context(options: NatsOptions) -> ssl.SSLContext | None:
    """The TLS context for ``tls://`` URLs or the TLS options (None: nats-py's default)."""
    if options.tls_ca is None and options.tls_cert is None:
        return None
    context = ssl.create_default_context(cafile=str(options.tls_ca) if options.tls_ca else None)
    if options.tls_cert is not None and options.tls_key is not None:
        context.load_cert_chain(str(options.tls_cert), str(options.tls_key))
    return context


class Health:
    """What the store knows of its cluster: connected or not, and since when writes fail."""

    def __init__(self, options: NatsOptions) -> None:
        self._options = options
        self.connected = False
        self.closing = False  # busbar closes the connection itself: no warning for that
        self.failing_since: float | None = None

    def wrote(self) -> None:
        self.failing_since = None

    def failed(self) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def problem(self) -> str | None:
        if not self.connected:
            return f"lost the connection to NATS ({self._options.shown}); reconnecting"
        if self.failing_since is not None:
            seconds = time.monotonic() - self.failing_since
            return f"JetStream has not stored busbar's writes for {seconds:.0f} s (a stream without quorum?)"
        return None


async def connect(options: NatsOptions, name: str, health: Health | None = None) -> NATS:
    """A connection to the cluster that reconnects forever; CannotStart when no server
    answers within START_DEADLINE."""

    async def disconnected() -> None:
        if health is not None:
            health.connected = False
            if health.closing:
                return
        log.warning("disconnected from NATS", extra={"servers": options.shown})

    async def reconnected() -> None:
        if health is not None:
            health.connected = True
        log.info("reconnected to NATS", extra={"servers": options.shown})

    async def error(exc: Exception) -> None:
        log.warning("NATS connection error", extra={"error": f"{type(exc).__name__}: {exc}"})

    kwargs: dict[str, Any] = {
        "servers": list(options.servers),
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "ping_interval": 5,
        "max_outstanding_pings": 2,
        "error_cb": error,
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
    }
    if options.creds is not None:
        kwargs["user_credentials"] = str(options.creds)
    context = tls_context(options)
    if context is not None:
        kwargs["tls"] = context
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            nc = await nats.connect(**kwargs)
            break
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            if time.monotonic() > deadline:
                raise CannotStart(
                    f"cannot reach NATS at {options.shown}: {type(exc).__name__}: {exc} "
                    "(check --store and that nats-server runs there)"
                ) from None
            await asyncio.sleep(0.5)
    if health is not None:
        health.connected = True
    return nc


async def retrying(call: Callable[[], Awaitable[T]], deadline: float) -> T:
    """Run *call* until it no longer fails transiently, or *deadline* (monotonic) passes."""
    delay = 0.05
    while True:
        try:
            return await call()
        except Exception as error:
            if not transient(error) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


# How long a pull waits for the answer to its no-wait request for the rest (the server
# answers at once; this bounds a lost answer).
FOLLOW_WAIT = 1.0
# The status codes that end a pull request: no messages (no-wait), expired, conflict.
_END_OF_REQUEST = {"404", "408", "409"}
_HEARTBEAT = "100"


class Puller:
    """Takes messages from one JetStream pull consumer: waits for the first, then takes at
    once whatever else is there (new messages and redeliveries alike).

    nats-py's fetch of a batch, when nothing is there, makes a lingering pull and then
    waits for the whole batch until its timeout, so a message arriving meanwhile waits
    up to the timeout.  This is JetStream's pull protocol with the waiting done
    differently: a lingering request for one message, then a no-wait request for the
    rest, whose answer ends with a "no messages" status.  Messages an earlier request
    brought late (leased to this connection) are handed over first."""

    def __init__(self, nc: NATS, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None

    async def start(self) -> Puller:
        self._sub = await self._nc.subscribe(self._inbox)
        return self

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    @property
    def queued(self) -> int:
        """Messages (or statuses) earlier requests brought that no pull has handed over yet."""
        return self._sub.pending_msgs if self._sub is not None else 0

    async def pull(self, limit: int, wait: float) -> list[Msg]:
        """Up to *limit* messages, waiting at most *wait* for the first (empty: none came)."""
        msgs = await self._queued(limit)
        if not msgs:
            await self._ask({"batch": 1, "expires": int(wait * 1e9)})
            msgs = await self._collect(1, wait)
            if not msgs:
                return []
        if len(msgs) < limit:
            await self._ask({"batch": limit - len(msgs), "no_wait": True})
            msgs += await self._collect(limit - len(msgs), FOLLOW_WAIT)
        return msgs

    async def take_queued(self) -> list[Msg]:
        """Every message earlier requests brought that no pull has handed over (to give back)."""
        return await self._queued(self.queued)

    async def _ask(self, request: dict[str, Any]) -> None:
        await self._nc.publish(self._subject, orjson.dumps(request), reply=self._inbox)

    async def _queued(self, limit: int) -> list[Msg]:
        assert self._sub is not None, "the puller is not started"
        found: list[Msg] = []
        while len(found) < limit and self._sub.pending_msgs:
            msg = await self._sub.next_msg(timeout=1.0)
            if _status(msg) is None:  # a late status ends a request that is over already
                found.append(msg)
        return found

    async def _collect(self, count: int, timeout: float) -> list[Msg]:
        """Up to *count* messages answering the request just made, until it ends."""
        assert self._sub is not None, "the puller is not started"
        found: list[Msg] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msg = await self._sub.next_msg(timeout=left)
            except TimeoutError:
                break
            status = _status(msg)
            if status is None:
                found.append(msg)
            elif status in _END_OF_REQUEST:
                break
            elif status != _HEARTBEAT:
                APIError.from_msg(msg)  # raises (503: no responders yet, as nats-py's fetch does)
        return found


def _status(msg: Msg) -> str | None:
    return msg.headers.get("Status") if msg.headers else None


@dataclass
class Outgoing:
    """One message to publish.  Its headers hold its ``Nats-Msg-Id``."""

    subject: str
    payload: bytes
    headers: dict[str, str]


class Publisher:
    """Publishes batches through ``publish_async``, retrying what failed transiently with
    the same ``Nats-Msg-Id`` until a deadline."""

    def __init__(self, nc: NATS, health: Health) -> None:
        self.js = nc.jetstream(publish_async_max_pending=20_000)
        self._health = health
        # Told the seconds each batch took until JetStream acknowledged all of it (its
        # "commit": stored on every replica), for /metrics (Store.observe_commits).
        self.on_commit: Callable[[float], None] | None = None

    async def publish(self, messages: Sequence[Outgoing], deadline: float = WRITE_DEADLINE) -> list[PubAck | Exception]:
        """Publish every message; answer each one's acknowledgement, or the error that
        outlived the deadline (transient) or came at once (anything else)."""
        results: list[PubAck | Exception | None] = [None] * len(messages)
        todo = list(range(len(messages)))
        began = time.monotonic()
        until = began + deadline
        delay = 0.05
        while todo:
            futures = []
            for index in todo:
                message = messages[index]
                try:
                    futures.append(
                        await self.js.publish_async(message.subject, message.payload, headers=dict(message.headers))
                    )
                except Exception as error:  # noqa: BLE001 - judged with the others below
                    futures.append(_failed(error))
            answers = await asyncio.gather(
                *(asyncio.wait_for(future, ATTEMPT_TIMEOUT) for future in futures), return_exceptions=True
            )
            retry = []
            for index, answer in zip(todo, answers, strict=True):
                if isinstance(answer, PubAck):
                    results[index] = answer
                elif isinstance(answer, Exception) and transient(answer) and time.monotonic() < until:
                    retry.append(index)
                else:
                    results[index] = answer if isinstance(answer, Exception) else RuntimeError(repr(answer))
            todo = retry
            if todo:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
        final: list[PubAck | Exception] = [r if r is not None else RuntimeError("not published") for r in results]
        if any(isinstance(r, Exception) and transient(r) for r in final):
            self._health.failed()
        elif final:
            self._health.wrote()
            if self.on_commit is not None:
                self.on_commit(time.monotonic() - began)
        return final


def _failed(error: Exception) -> asyncio.Future[PubAck]:
    future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


def describe(error: BaseException) -> str:
    """A failure as one line for a message (never with a URL: it may hold a password)."""
    if isinstance(error, APIError):
        return f"{type(error).__name__} {error.err_code}: {error.description}"
    return type(error).__name__ + (f": {error}" if str(error) else "")
