"""HTTP/1.1 with the limits a server on an open network needs: uvicorn's httptools
protocol, plus what it lacks.

uvicorn's httptools protocol (the fast one, used with uvloop) has no limit on the
size of a request's headers, no timeout for a request that arrives slowly (its
keep-alive timer stops at a client's first byte, so one byte a minute holds a
connection forever: slowloris), none for a connection that never sends anything,
and no cap on connections (past the open-file limit, ``accept`` fails and new
clients hang in the listen backlog).  :class:`GuardedHttpToolsProtocol` adds them:

- **header size**: the request line and headers are counted once parsed, and so are
  the bytes received while a header block has not ended (httptools buffers a header
  line until it ends); past ``max_header_bytes`` the request is answered 431 and the
  connection closed;
- **request timeout**: a request must arrive whole (headers and body) within
  ``request_timeout`` seconds of its first byte, else 408 and close; and the
  keep-alive timeout also applies before a connection's first request;
- **connection cap**: beyond ``max_connections`` open connections, the connection
  idle the longest (no request being worked on: waiting between requests, or still
  sending its headers) is closed to make room, so a crowd of idle or slow clients
  cannot lock new ones out; when every connection is busy the new one is answered
  503 and closed.  The cap stays below the process's open-file limit (raised to its
  hard limit at start, see :func:`raise_open_file_limit`), so ``accept`` never fails.

Per request this costs a few attribute updates; deadlines are kept in arrival order
(the timeout is the same for all), so one timer per server serves them all.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("busbar.server")

# Files busbar needs besides client connections: outbound delivery connections (the
# HTTP sender pools up to 512), the store's files, logs.  Never more than half the limit.
RESERVED_FILES = 640


@dataclass(frozen=True)
class HttpLimits:
    """What one client may hold of the server."""

    max_header_bytes: int = 65536
    request_timeout: float = 30.0
    max_connections: int = 10_000


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (the default soft limit, often
    1,024, is far below what a server holding many connections needs); the limit in
    force is returned."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # not allowed here: keep what we have
            pass
    return soft


def connection_cap(wanted: int, open_files: int) -> int:
    """The most client connections that fit in *open_files* next to busbar's own files."""
    return max(1, min(wanted, open_files - min(RESERVED_FILES, open_files // 2)))


@dataclass
class ConnectionGuard:
    """The limits of one server and the state they need: connections in order of
    idleness (the first is evicted first) and requests in order of deadline."""

    limits: HttpLimits
    idle: dict[GuardedHttpToolsProtocol, None] = field(default_factory=dict)
    receiving: dict[GuardedHttpToolsProtocol, float] = field(default_factory=dict)
    _timer: asyncio.TimerHandle | None = None

    def admit(self, new: GuardedHttpToolsProtocol) -> None:
        """Make room for *new* when the server is at its cap."""
        if len(new.connections) <= self.limits.max_connections:
            return
        victim = next(iter(self.idle), None)
        if victim is None or victim is new:
            new.refuse(503, "ServiceUnavailableException", "busbar is at its connection limit; try again.")
            return
        log.debug("connection limit reached: closing the longest-idle connection")
        victim.evict()

    def request_begun(self, protocol: GuardedHttpToolsProtocol, now: float) -> None:
        deadline = now + self.limits.request_timeout
        self.receiving[protocol] = deadline
        if self._timer is None:
            self._timer = protocol.loop.call_at(deadline, self._expire, protocol.loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Time out every request past its deadline; wake again at the next deadline."""
        self._timer = None
        now = loop.time()
        while self.receiving:
            protocol, deadline = next(iter(self.receiving.items()))
            if deadline > now:
                self._timer = loop.call_at(deadline, self._expire, loop)
                return
            del self.receiving[protocol]
            protocol.time_out()

    def forget(self, protocol: GuardedHttpToolsProtocol) -> None:
        self.idle.pop(protocol, None)
        self.receiving.pop(protocol, None)


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request over the header limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header-size limit, a request timeout and a
    connection cap (see the module's docstring).  Use :func:`guarded_protocol` to get
    the class for one server."""

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_headers = True
        self._unparsed_bytes = 0  # received since the last request ended, while headers are incomplete

    # -- the connection --------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Idle until the first request: the keep-alive timeout applies, as between requests.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
        self.guard.idle[self] = None
        self.guard.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received, with the header limit added.
        self._unset_keepalive_if_required()
        if self._reading_headers:
            self._unparsed_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, _HeadersTooLarge):
                self._headers_too_large()
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._reading_headers and self._unparsed_bytes > self.guard.limits.max_header_bytes:
            self._headers_too_large()

    def _headers_too_large(self) -> None:
        limit = self.guard.limits.max_header_bytes
        message = f"The request line and headers are larger than {limit} bytes."
        self.refuse(431, "RequestHeaderFieldsTooLarge", message)

    # -- parser callbacks --------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.guard.request_begun(self, self.loop.time())

    def on_headers_complete(self) -> None:
        # Counted once the headers are parsed (cheaper than per header); a header block
        # still arriving is bounded by _unparsed_bytes in data_received.
        if (
            len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
            > self.guard.limits.max_header_bytes
        ):
            raise _HeadersTooLarge
        self._reading_headers = False
        self.guard.idle.pop(self, None)  # busy: the application is working on it
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.guard.receiving.pop(self, None)
        self._reading_headers = True
        self._unparsed_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.guard.idle[self] = None  # idle again, and the most recently so

    # -- ending a connection -------------------------------------------------------
    def _answerable(self) -> bool:
        """Whether a response may be written now (none is under way)."""
        return not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete)

    def refuse(self, status: int, code: str, message: str) -> None:
        """Answer *status* with an AWS-style JSON error and close the connection."""
        self.guard.forget(self)
        if self._answerable():
            body = orjson.dumps({"__type": code, "message": message})
            self.transport.write(
                STATUS_LINE[status]
                + b"content-type: application/x-amz-json-1.1\r\n"
                + b"content-length: "
                + str(len(body)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + body
            )
        self.transport.close()

    def time_out(self) -> None:
        """The request did not arrive in time: 408 if it is still in its headers (no
        response can be under way), else just close (the application sees a
        disconnect and acts on nothing)."""
        if self._reading_headers:
            self.refuse(408, "RequestTimeoutException", "The request did not arrive in time.")
        else:
            self.guard.forget(self)
            self.transport.close()

    def evict(self) -> None:
        self.guard.forget(self)
        self.transport.close()


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for one server (uvicorn's ``http=``), with its own guard."""

    class Protocol(GuardedHttpToolsProtocol):
        guard = ConnectionGuard(limits)

    return Protocol
