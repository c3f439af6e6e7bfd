"""A real local HTTP server that tests deliver to: it records every request and
answers what the test scripted (status codes, headers, delays), and serves an
OAuth client-credentials token endpoint."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    """One request the target received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float = field(default_factory=time.monotonic)
    status: int = 0  # what the target answered

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0


class HttpTarget:
    """Start with ``HttpTarget().start()``; ``url`` is its base URL."""

    TOKEN_PATH = "/oauth/token"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.token_requests: list[Received] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Condition()
        self._tokens = itertools.count(1)
        self.token_ttl = 3600
        self.valid_tokens: set[str] = set()
        self.require_token_on: set[str] = set()
        self.down: set[str] = set()  # paths answering 503 until taken out
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK hold every answer back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the client went away mid-request (e.g. busbar was killed): nothing arrived
                parts = urlsplit(self.path)
                request = Received(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = target._reply_for(request)
                if reply.delay:
                    time.sleep(reply.delay)
                # HTTP allows no body in these answers (RFC 9110 6.4.1).
                body = b"" if reply.status in (204, 304) or self.command == "HEAD" else reply.body
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.status not in (204, 304):
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout the test asked for)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HttpTarget:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to *path* with *replies*, in order (then 200)."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def _reply_for(self, request: Received) -> Reply:
        reply = self._choose(request)
        with self._lock:
            request.status = reply.status
        return reply

    def _choose(self, request: Received) -> Reply:
        if request.path == self.TOKEN_PATH:
            token = f"token-{next(self._tokens)}"
            with self._lock:
                self.token_requests.append(request)
                self.valid_tokens.add(token)
                self._lock.notify_all()
            return Reply(
                body=json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}).encode()
            )
        with self._lock:
            self.received.append(request)
            self._lock.notify_all()
            if request.path in self.require_token_on:
                auth = request.headers.get("authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
                    return Reply(status=401, body=b'{"message": "bad token"}')
            if request.path in self.down:
                return Reply(status=503, body=b'{"message": "down"}')
            queue = self._scripts.get(request.path)
            if queue:
                return queue.popleft()
        return Reply()

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 20.0) -> list[Received]:
        """Wait until *count* requests (to *path*, if given) arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [r for r in self.received if path is None or r.path == path]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests to {path or 'any path'}, got {len(got)}")
                self._lock.wait(remaining)
