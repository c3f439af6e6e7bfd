"""The live tail: a bus's events as they are committed, filtered by an event pattern,
pushed to the page as server-sent events.

The stream follows the event log through the store interface (``last_seq`` to see
that it grew, ``read_events`` to read what is new), so it shows what any node
stored, and it starts at the newest event: a tail, not a history (``busbar events``
reads the history).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from busbar.resources.kinds import BUS
from busbar.resources.scope import name_of_key, scope_of_key

if TYPE_CHECKING:
    from busbar.console.app import Console

POLL = 0.25  # seconds between looks at the log's end
HEARTBEAT = 15.0  # a comment line this often keeps proxies from closing a quiet stream
BATCH = 500


def routes(console: Console) -> list[BaseRoute]:
    tail = Tail(console)
    return [
        Route("/tail", console.guard(tail.page)),
        Route("/tail/stream", console.guard(tail.stream, page=False)),
    ]


class Tail:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.store = console.store

    async def page(self, request: Request) -> Response:
        buses = [(key, _label(key)) for key, _ in self.store.list_resources(BUS)]
        bus = request.query_params.get("bus", "")
        pattern = request.query_params.get("pattern", "")
        error = _pattern_error(self.console, pattern) if pattern.strip() else None
        return self.console.render(
            request,
            "tail.html",
            "tail",
            buses=buses,
            bus=bus,
            pattern=pattern,
            error=error,
            status=400 if error else 200,
        )

    async def stream(self, request: Request) -> Response:
        bus = request.query_params.get("bus", "")
        text = request.query_params.get("pattern", "")
        matches = None
        if text.strip():
            if _pattern_error(self.console, text):
                return Response("invalid event pattern", status_code=400)
            from busbar.patterns import pattern_matches, validate

            compiled = validate(text)

            def matches(event: dict[str, Any]) -> bool:
                return bool(pattern_matches(compiled, event))

        return StreamingResponse(
            self._events(request, bus, matches),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _events(self, request: Request, bus: str, matches: Any) -> AsyncIterator[bytes]:
        after = self.store.last_seq()
        yield b": busbar live tail\n\n"
        quiet_since = time.monotonic()
        # Runs until the browser goes away: the server cancels it then (or its next write fails).
        while True:
            if self.store.last_seq() <= after:
                if time.monotonic() - quiet_since > HEARTBEAT:
                    quiet_since = time.monotonic()
                    yield b": still here\n\n"
                await asyncio.sleep(POLL)
                continue
            events = await asyncio.to_thread(self.store.read_events, after, BATCH)
            if not events:  # pruned meanwhile: jump to the end
                after = self.store.last_seq()
                continue
            after = events[-1].seq
            for event in events:
                if bus and event.bus != bus:
                    continue
                envelope = orjson.loads(event.envelope)
                if matches is not None and not matches(envelope):
                    continue
                line = {"seq": event.seq, "bus": name_of_key(event.bus), "event": envelope}
                yield b"data: " + orjson.dumps(line) + b"\n\n"
            quiet_since = time.monotonic()


def _label(key: str) -> str:
    scope = scope_of_key(key)
    return f"{name_of_key(key)} ({scope.account} {scope.region})"


def _pattern_error(console: Console, text: str) -> str | None:
    """AWS's message when *text* is not a valid event pattern, else None."""
    from busbar.patterns import InvalidEventPattern, PatternLimits, validate

    try:
        validate(text, PatternLimits(max_pattern_chars=console.settings.limits.max_pattern_chars))
    except InvalidEventPattern as error:
        return str(error)
    return None
