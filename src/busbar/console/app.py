"""The console's ASGI app and what every page shares: templates, the navigation, the
sign-in guard and form handling.  The pages live in modules of their own
(:mod:`~busbar.console.pages`, :mod:`~busbar.console.tail`,
:mod:`~busbar.console.sandbox`, :mod:`~busbar.console.deliveries`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from busbar.api.context import Context
from busbar.config import Settings
from busbar.console.sessions import Sessions, csrf_token, form_allowed, keep_csrf
from busbar.observe import Observer
from busbar.store.base import Store

HERE = Path(__file__).parent
# A failed sign-in is answered after this many seconds.
FAILED_SIGN_IN_DELAY = 1.0
# Forms are small; a bigger body is refused unread.
MAX_FORM_BYTES = 512 * 1024

Handler = Callable[[Request], Awaitable[Response]]

NAVIGATION = (
    ("buses", "Event buses", "/console/"),
    ("connections", "Connections", "/console/connections"),
    ("tail", "Live tail", "/console/tail"),
    ("sandbox", "Sandbox", "/console/sandbox"),
    ("deliveries", "Deliveries", "/console/deliveries"),
    ("metrics", "Metrics", "/console/metrics"),
    ("logs", "Bus logs", "/console/logs"),
)


@dataclass
class ConsoleParts:
    """What the console reads and acts through: the server's own parts."""

    settings: Settings
    store: Store
    ctx: Context  # API operations (the sandbox's TestEventPattern and PutEvents)
    observer: Observer
    keys: dict[str, str] | None  # the --auth-keys-file keys; None: no sign-in


class Console:
    """The web console of one server, mounted at ``/console``."""

    def __init__(self, parts: ConsoleParts) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.store = parts.store
        self.ctx = parts.ctx
        self.observer = parts.observer
        self.sessions = Sessions(parts.keys)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
        )
        self.templates.filters["when"] = _when
        self.templates.filters["quote"] = lambda text: quote(str(text), safe="")

    def app(self) -> Starlette:
        from busbar.console import deliveries, pages, sandbox, tail

        routes: list[BaseRoute] = [
            Route("/signin", self._signin_page, methods=["GET"]),
            Route("/signin", self._signin, methods=["POST"]),
            Route("/signout", self.guard(self._signout), methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            *pages.routes(self),
            *tail.routes(self),
            *sandbox.routes(self),
            *deliveries.routes(self),
        ]
        return Starlette(routes=routes)

    # -- what every page does ------------------------------------------------------
    def guard(self, handler: Handler, page: bool = True) -> Handler:
        """*handler*, for signed-in users only: others are sent to sign in (a page) or
        refused with 401 (an endpoint); a POST must come from a console form."""

        async def guarded(request: Request) -> Response:
            if self.sessions.of(request) is None:
                if page and request.method == "GET":
                    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                    return RedirectResponse(f"/console/signin?next={target}", status_code=303)
                return PlainTextResponse("Sign in to the console first.", status_code=401)
            if request.method == "POST" and not form_allowed(request, await self.form(request)):
                return PlainTextResponse("This form did not come from this console; reload the page.", 403)
            return await handler(request)

        return guarded

    def render(self, request: Request, template: str, section: str, status: int = 200, **values: Any) -> Response:
        """A page in the console's frame."""
        body = self.templates.get_template(template).render(
            request=request,
            section=section,
            navigation=NAVIGATION,
            csrf=csrf_token(request),
            signed_in=self.sessions.of(request),
            sign_in_required=self.sessions.required,
            region=self.settings.region,
            account=self.settings.account_id,
            **values,
        )
        response = HTMLResponse(body, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        keep_csrf(response, request)
        return response

    async def form(self, request: Request) -> dict[str, str]:
        """The request's url-encoded form (read once; later calls answer the same)."""
        if "form" not in request.state.__dict__:
            raw = b""
            if int(request.headers.get("content-length") or 0) <= MAX_FORM_BYTES:
                raw = await request.body()
            form: dict[str, str] = {}
            for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
                form[key] = f"{form[key]},{value}" if key in form and key == "ids" else value
            request.state.form = form
        return dict(request.state.form)

    # -- signing in ----------------------------------------------------------------
    async def _signin_page(self, request: Request) -> Response:
        if not self.sessions.required:
            return RedirectResponse("/console/", status_code=303)
        return self.render(request, "signin.html", "signin", next=_local(request.query_params.get("next")), error=None)

    async def _signin(self, request: Request) -> Response:
        form = await self.form(request)
        next_page = _local(form.get("next"))
        if not self.sessions.required:
            return RedirectResponse(next_page, status_code=303)
        if not form_allowed(request, form):
            return PlainTextResponse("This form did not come from this console; reload the page.", 403)
        token = self.sessions.sign_in(form.get("access_key_id", "").strip(), form.get("secret_access_key", ""))
        if token is None:
            await asyncio.sleep(FAILED_SIGN_IN_DELAY)  # guessing keys one by one is slow
            error = "The access key id or the secret access key is not right."
            return self.render(request, "signin.html", "signin", status=401, next=next_page, error=error)
        response = RedirectResponse(next_page, status_code=303)
        self.sessions.set_cookie(response, request, token)
        return response

    async def _signout(self, request: Request) -> Response:
        self.sessions.sign_out(request)
        response = RedirectResponse("/console/signin", status_code=303)
        response.delete_cookie("busbar_session", path="/console")
        return response


def _local(target: str | None) -> str:
    """Where to go after signing in: a console page of this server, never another site."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/"


def _when(epoch: float | None) -> str:
    """An epoch time as UTC text, for tables."""
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + "Z"
