"""Who may use the console: sessions after signing in with an access key pair, and
forms that other sites cannot submit.

With ``--auth-keys-file`` every page and endpoint of the console asks for a session:
one signs in with an access key id and its secret (one of the server's keys,
compared in constant time), and gets a random session id in a cookie that scripts
cannot read (``HttpOnly``), that no other site's request carries
(``SameSite=Strict``), limited to ``/console`` and expiring after ``SESSION_SECONDS``
(sessions live in the server's memory: a restart signs everyone out).  Without
``--auth-keys-file`` there is no sign-in, as for the API.

Either way every form carries a token that must match a cookie of the same site
(``SameSite=Strict``, double submit), and a POST whose ``Origin`` names another
site is refused: a page elsewhere cannot make the browser redrive or send events.
No secret is kept in a cookie, and nothing is signed or encrypted by hand.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "busbar_session"
CSRF_COOKIE = "busbar_csrf"
SESSION_SECONDS = 8 * 3600
PATH = "/console"


@dataclass
class Session:
    access_key_id: str
    expires_at: float


class Sessions:
    """Signed-in sessions of one server (None *keys*: no sign-in needed)."""

    def __init__(self, keys: dict[str, str] | None, lifetime: float = SESSION_SECONDS) -> None:
        self.keys = keys
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    @property
    def required(self) -> bool:
        return self.keys is not None

    def sign_in(self, access_key_id: str, secret: str) -> str | None:
        """A new session id when the pair is one of the server's keys, else None."""
        if self.keys is None:
            return None
        expected = self.keys.get(access_key_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return None
        self._forget_expired()
        token = secrets.token_urlsafe(32)
        self._sessions[token] = Session(access_key_id, time.time() + self.lifetime)
        return token

    def sign_out(self, request: Request) -> None:
        self._sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)

    def of(self, request: Request) -> Session | None:
        """The request's live session (without sign-in: an anonymous one)."""
        if self.keys is None:
            return Session("", float("inf"))
        session = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if session is None or session.expires_at <= time.time():
            return None
        return session

    def set_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.lifetime),
            path=PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def _forget_expired(self) -> None:
        now = time.time()
        for token in [t for t, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[token]


def csrf_token(request: Request) -> str:
    """The form token of this browser (made on first use; :func:`keep_csrf` sets its cookie)."""
    return request.cookies.get(CSRF_COOKIE) or request.state.__dict__.setdefault("csrf", secrets.token_urlsafe(24))


def keep_csrf(response: Response, request: Request) -> None:
    """Give the browser the cookie of the token its forms carry, if it has none yet."""
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_token(request),
            path=PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def form_allowed(request: Request, form: dict[str, str]) -> bool:
    """Whether a POST comes from a console page of this site: its token matches the
    cookie, and its Origin (when sent) is this server."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = form.get("csrf", "") or request.headers.get("x-csrf-token", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")
