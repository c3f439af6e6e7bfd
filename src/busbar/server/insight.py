"""What a server shows of itself beside the API: ``GET /metrics`` (Prometheus), an
optional listener of its own for it, and the console at ``/console/``.

Without ``--auth-keys-file`` both are served on the API's listener (loopback by
default).  With it, the console asks for a sign-in (busbar.console.sessions) and
``/metrics`` is not served on the API's listener at all — Prometheus cannot sign
requests — but only on ``--metrics-host``:``--metrics-port`` (127.0.0.1 by
default), which serves nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from busbar.console import Console, ConsoleParts
from busbar.observe.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from busbar.server.app import BusbarApp

log = logging.getLogger("busbar.server")


class Insight:
    """The /metrics route, the metrics listener and the console of one server."""

    def __init__(self, app: BusbarApp, keys: dict[str, str] | None) -> None:
        self._app = app
        self._settings = app.settings
        self._listener: Any = None
        self._console = (
            Console(ConsoleParts(app.settings, app.store, app.ctx, app.observer, keys))
            if app.settings.console
            else None
        )

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route("/metrics", self._metrics, methods=["GET", "HEAD"])]
        if self._console is not None:
            routes += [
                Route("/console", lambda request: RedirectResponse("/console/", status_code=308)),
                Mount("/console", self._console.app()),
            ]
        return routes

    async def _metrics(self, request: Request) -> Response:
        metrics = self._app.observer.metrics
        if metrics is None:
            return PlainTextResponse("Metrics are off on this server (--metrics off).", status_code=404)
        if self._settings.auth_keys_file is not None:
            return PlainTextResponse(
                "With --auth-keys-file, /metrics is served only on the metrics listener "
                "(--metrics-host and --metrics-port).",
                status_code=403,
            )
        # Reading the store's counts must not hold up the event loop.
        return Response(await asyncio.to_thread(metrics.exposition), media_type=CONTENT_TYPE)

    async def start(self) -> None:
        metrics = self._app.observer.metrics
        if metrics is None or not self._settings.metrics_port:
            return
        from prometheus_client import start_http_server

        host, port = self._settings.metrics_host, self._settings.metrics_port
        self._listener, _ = start_http_server(port, host, registry=metrics.registry)
        log.info("metrics listening", extra={"url": f"http://{host}:{port}/metrics"})

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
