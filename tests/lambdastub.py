"""A real local HTTP server implementing Lambda's ``Invoke`` REST call, as
``sam local start-lambda`` serves it: ``POST /2015-03-31/functions/{name}/invocations``.

It records every invocation (function name, qualifier, invocation type, trace
header, payload) and answers what the test scripted: by default 202 with no body
(an accepted asynchronous invocation), or errors in Lambda's wire format (status,
``x-amzn-ErrorType`` header, JSON body), e.g. 429 ``TooManyRequestsException``.
Point busbar at it with ``AWS_ENDPOINT_URL_LAMBDA``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_PREFIX = "/2015-03-31/functions/"
_SUFFIX = "/invocations"


@dataclass
class Invocation:
    """One Invoke call the stub received."""

    function: str  # as in the path: a name or an ARN (possibly with a qualifier)
    qualifier: str | None
    invocation_type: str | None
    trace_header: str | None
    access_key: str | None  # the access key id the request was signed with
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class LambdaReply:
    status: int = 202
    error_type: str | None = None  # x-amzn-ErrorType, e.g. "TooManyRequestsException"
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def throttled(cls, retry_after: int | None = None) -> LambdaReply:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {
            "Type": "User",
            "message": "Rate Exceeded.",
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        }
        return cls(429, "TooManyRequestsException", body, headers)

    @classmethod
    def not_found(cls, function: str) -> LambdaReply:
        return cls(404, "ResourceNotFoundException", {"Type": "User", "Message": f"Function not found: {function}"})


class LambdaStub:
    """Start with ``LambdaStub().start()``; ``url`` is its endpoint URL."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []  # accepted (2xx)
        self.answered: list[tuple[Invocation, int]] = []  # every call, with the status it got
        self._script: deque[LambdaReply] = deque()
        self._changed = threading.Condition()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                parts = urlsplit(self.path)
                payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not (parts.path.startswith(_PREFIX) and parts.path.endswith(_SUFFIX)):
                    self._answer(LambdaReply(404, "UnknownOperationException", {"message": "Unknown operation"}))
                    return
                qualifier = parse_qs(parts.query).get("Qualifier", [None])[0]
                invocation = Invocation(
                    function=unquote(parts.path[len(_PREFIX) : -len(_SUFFIX)]),
                    qualifier=qualifier,
                    invocation_type=self.headers.get("X-Amz-Invocation-Type"),
                    trace_header=self.headers.get("X-Amzn-Trace-Id"),
                    access_key=_access_key(self.headers.get("Authorization") or ""),
                    payload=payload,
                )
                with stub._changed:
                    reply = stub._script.popleft() if stub._script else LambdaReply()
                    stub.answered.append((invocation, reply.status))
                    if reply.status < 300:
                        stub.invocations.append(invocation)
                    stub._changed.notify_all()
                self._answer(reply)

            def _answer(self, reply: LambdaReply) -> None:
                body = json.dumps(reply.body).encode() if reply.status >= 300 else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                if reply.error_type:
                    self.send_header("x-amzn-ErrorType", reply.error_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LambdaStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: LambdaReply) -> None:
        """The next invocations are answered with *replies*, in order; then 202 again."""
        with self._changed:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout: float = 20.0, function: str | None = None) -> list[Invocation]:
        """Wait until *count* invocations were accepted (of *function*, when given); return them."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._of(function)) >= count, timeout)
            found = self._of(function)
        if len(found) < count:
            raise AssertionError(f"the Lambda stub got {len(found)} invocations, expected {count}")
        return found

    def _of(self, function: str | None) -> list[Invocation]:
        return [i for i in self.invocations if function is None or i.function == function]


def _access_key(authorization: str) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header (``Credential=AKID/date/...``)."""
    _, found, rest = authorization.partition("Credential=")
    return rest.split("/", 1)[0] if found else None
