"""The console's web security: who may see a page, which requests may change something, and
what the browser may load.

- ``require_session(*scopes)``: the route needs a live session whose token carries the scopes
  (declared with ``eip.tokens.declare_scope_check``, so the route walk of tests/security counts
  it as protected). No session: a page redirects to the login, anything else answers 401 with
  the platform's error body (and ``HX-Redirect`` for htmx, which then follows it).
- ``require_session(..., change=True)``: a state-changing request must also carry the session's
  CSRF token (synchronizer token: header ``X-CSRF-Token``, which htmx sends on every request
  from ``hx-headers``, or a ``csrf_token`` form field) and, when the browser sends an
  ``Origin``, come from this very origin. The cookie is SameSite=strict as well: either alone
  would do in today's browsers; both cost nothing.
- ``SecurityHeaders``: a strict Content-Security-Policy on every answer — scripts, styles,
  images and connections from this origin only, no inline script or style, no framing, no
  plugins — and the usual companions (nosniff, no referrer outside this origin — with
  ``no-referrer`` Chromium sends ``Origin: null`` on form posts, which the origin check
  rightly refuses —, no caching of pages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eip.console.sessions import COOKIE, Session, SessionStore
from eip.observability.http import ApiError
from eip.tokens import declare_scope_check

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class SecurityHeaders:
    """Pure ASGI, so the live streams pass through unbuffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class LoginRequired(Exception):
    """No live session: the exception handler redirects pages and answers 401 otherwise."""


def wants_page(request: Request) -> bool:
    """A browser navigating (not htmx, not a script): answer with a page or a redirect."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "hx-request" not in request.headers


def store(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not every browser sends it on same-origin requests; the token decides
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def csrf_presented(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached on the request; the route reads it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


SessionDependency = Callable[[Request], Awaitable[Session]]


def require_session(*scopes: str, change: bool = False) -> Callable[..., Awaitable[Any]]:
    async def dependency(request: Request) -> Session:
        session = store(request).get(request.cookies.get(COOKIE))
        if session is None:
            raise LoginRequired()
        if change:
            if not same_origin(request):
                raise ApiError(403, "csrf_failed", "the request comes from another origin")
            if not session.csrf_matches(await csrf_presented(request)):
                raise ApiError(403, "csrf_failed", "the request lacks this session's CSRF token")
        missing = sorted(set(scopes) - session.scopes)
        if missing:
            raise ApiError(403, "forbidden", "your token lacks a scope", {"missing": missing})
        request.state.session = session
        return session

    return declare_scope_check(dependency, scopes)
