"""The console's HTTP app: its pages, their actions and their live streams.

Every route but the login page, the health endpoints and the static assets needs a session
(``security.require_session``) with the scopes of what it shows; every route that changes
something also needs the session's CSRF token. The console's own routes are no API for other
teams: they are left out of its OpenAPI document, which lists only the health endpoints, and
FastAPI's /docs pages are not served (their inline scripts would break the CSP anyway).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr
from starlette.responses import StreamingResponse

from eip.console import __version__
from eip.console.live import (
    TIMEFRAMES,
    Live,
    attempt,
    follow_book,
    follow_markets,
    follow_platform,
    kill_switches,
    stream,
)
from eip.console.render import Renderer
from eip.console.screens import BY_KEY, SCREENS
from eip.console.security import (
    LoginRequired,
    SecurityHeaders,
    require_session,
    same_origin,
    wants_page,
)
from eip.console.sessions import COOKIE, LoginRefused, Session, SessionStore
from eip.console.settings import ConsoleSettings
from eip.console.upstream import Upstream, UpstreamError
from eip.console.views import (
    account_view,
    follow_accounts,
    follow_orders,
    orders_view,
    rules_view,
    ticket_preview,
)
from eip.console.watch import BookWatch
from eip.observability.http import ApiError, error_body
from eip.observability.inputs import Text
from eip.runtime import Needs, service_app
from eip.tokens import TokenVerifier

STATIC = Path(__file__).parent / "static"
LOGIN_COOKIE = "eip_console_login"
# Paths of the console that need no session, and why (tests/security's route walk reads it).
PUBLIC = {
    "/login": "the login page and its form: where a session starts",
    "/static": "stylesheets, scripts and vendored libraries: no data, the same for everyone",
}
SYMBOL = r"^[A-Za-z0-9._:-]{1,20}/[A-Za-z0-9._:-]{1,20}$"
EXCHANGE = r"^[a-z0-9_.-]{1,32}$"
ACCOUNT = r"^[A-Za-z0-9_.-]{1,64}$"

# Route parameters. At module level: annotations are strings here, which FastAPI resolves in
# the module's namespace (an alias local to build_app would silently become a query parameter).
MarketReader = Annotated[Session, Depends(require_session("market:read"))]
BookReader = Annotated[Session, Depends(require_session("books:read"))]
Timeframe = Annotated[Text, Query(pattern="^(1m|5m|15m|1h|4h|1d)$")]
Admin = Annotated[Session, Depends(require_session("credentials:admin"))]
AdminChange = Annotated[Session, Depends(require_session("credentials:admin", change=True))]
Auditor = Annotated[Session, Depends(require_session("audit:read"))]
RiskAdminChange = Annotated[Session, Depends(require_session("risk:admin", change=True))]
CredentialId = Annotated[Text, Form(min_length=1, max_length=64)]
Filter = Annotated[Text | None, Query(max_length=200)]
Symbol = Annotated[Text | None, Query(pattern=SYMBOL, max_length=41)]
Exchange = Annotated[Text | None, Query(pattern=EXCHANGE, max_length=32)]
AccountReader = Annotated[Session, Depends(require_session("accounts:read"))]
Account = Annotated[Text | None, Query(pattern=ACCOUNT, max_length=64)]
Quote = Annotated[Text, Query(pattern=r"^[A-Za-z0-9]{1,16}$")]
Span = Annotated[Text, Query(pattern="^(1d|7d|30d)$")]
RulesReader = Annotated[Session, Depends(require_session("rules:read"))]
RulesWriter = Annotated[Session, Depends(require_session("rules:read", "rules:write", change=True))]
RuleId = Annotated[Text, Form(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
RuleJson = Annotated[Text, Form(min_length=2, max_length=20_000)]
OrdersReader = Annotated[Session, Depends(require_session("orders:read"))]
OrdersWriter = Annotated[
    Session, Depends(require_session("orders:read", "orders:write", change=True))
]
OrdersConfirmer = Annotated[
    Session, Depends(require_session("orders:read", "orders:confirm", change=True))
]
OrderId = Annotated[Text, Form(pattern=r"^[0-9a-fA-F-]{36}$")]
OrderKey = Annotated[Text, Form(pattern=r"^console-[A-Za-z0-9_-]{16,64}$")]
# A cancel-all's confirmation step reads, but only an operator who may write sees it.
OrdersWriterStep = Annotated[Session, Depends(require_session("orders:read", "orders:write"))]
ScopeExchange = Annotated[Text, Query(pattern=f"^$|{EXCHANGE}", max_length=32)]
ScopeSymbol = Annotated[Text, Query(pattern=f"^$|{SYMBOL}", max_length=41)]
# A quantity or price as the operator types it: a plain decimal, never a float on the way.
DECIMAL = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
# The order types order management takes (eip.exchanges OrderType), and those with a limit price.
ORDER_TYPES = (
    "^(limit|market|stop_market|stop_limit|take_profit_market|take_profit_limit"
    "|trailing_stop_market|trailing_stop_limit)$"
)
LIMIT_PRICED = ("limit", "stop_limit", "take_profit_limit", "trailing_stop_limit")


def build_app(settings: ConsoleSettings) -> FastAPI:
    # httpx logs every request at INFO; the live pages make several a second per open page.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    upstream = Upstream(settings)

    async def auth_reachable() -> None:
        # The console can show nothing without a login, and a login needs the auth service.
        response = await upstream.raw("auth", "GET", "/v1/.well-known/jwks.json")
        if response.status_code != 200:
            raise ConnectionError(f"auth answered {response.status_code} for its JWKS")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await upstream.aclose()

    app = service_app(
        settings,
        __version__,
        Needs(kafka=False, database=False),
        readiness={"auth": auth_reachable},
        lifespan=lifespan,
    )
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", "") not in DOCS_PAGES
    ]
    verifier: TokenVerifier = app.state.token_verifier
    sessions = SessionStore(settings, upstream, verifier)
    renderer = Renderer()
    live = Live(settings, upstream, sessions, renderer, BookWatch())
    app.state.sessions = sessions
    app.state.live = live
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(
        request: Request, template: str, session: Session | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        visible = [s for s in SCREENS if session is not None and session.has(*s.scopes)]
        html = renderer.render(
            template,
            session=session,
            identity=sessions.describe(session) if session else None,
            screens=visible,
            current=ctx.pop("current", None),
            csrf=session.csrf if session else "",
            **ctx,
        )
        return HTMLResponse(html, status)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _: LoginRequired) -> Response:
        if wants_page(request):
            return RedirectResponse("/login", 303)
        return JSONResponse(
            error_body("unauthorized", "no session: log in again"),
            401,
            headers={"HX-Redirect": "/login"},
        )

    @app.exception_handler(UpstreamError)
    async def _upstream(request: Request, exc: UpstreamError) -> Response:
        error = exc.as_api_error()
        return JSONResponse(error_body(error.code, error.message, error.details), error.status)

    # --- login ----------------------------------------------------------------------------------

    def login_page(
        request: Request, status: int = 200, error: str | None = None, client_id: str = ""
    ) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = page(
            request, "login.html", None, status, login_csrf=token, error=error, client_id=client_id
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
        return response

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        if sessions.get(request.cookies.get(COOKIE), touch=False) is not None:
            return RedirectResponse("/", 303)
        return login_page(request)

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        client_id: Annotated[Text, Form(min_length=1, max_length=128)],
        client_secret: Annotated[SecretStr, Form(min_length=1, max_length=512)],
        csrf_token: Annotated[Text, Form(max_length=100)] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE)
        if (
            not same_origin(request)
            or not expected
            or not secrets.compare_digest(expected, csrf_token)
        ):
            return login_page(request, 403, "The login form expired; please try again.", client_id)
        try:
            cookie, _ = await sessions.login(client_id, client_secret.get_secret_value())
        except LoginRefused as exc:
            return login_page(request, exc.status, exc.message, client_id)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(settings.session_max_age_s),
            path="/",
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(
        session: Annotated[Session, Depends(require_session(change=True))],
    ) -> Response:
        sessions.end(session)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        response.headers["HX-Redirect"] = "/login"
        return response

    @app.get("/", include_in_schema=False)
    async def home(session: Annotated[Session, Depends(require_session())]) -> Response:
        first = next((s for s in SCREENS if s.built and session.has(*s.scopes)), BY_KEY["platform"])
        return RedirectResponse(first.path, 303)

    @app.get("/session", include_in_schema=False)
    async def whoami(session: Annotated[Session, Depends(require_session())]) -> dict[str, Any]:
        """The session as the page shows it (never its token or secret)."""
        return sessions.describe(session)

    # --- markets --------------------------------------------------------------------------------

    @app.get("/markets", include_in_schema=False)
    async def markets(
        request: Request,
        session: MarketReader,
        symbol: Symbol = None,
        exchange: Exchange = None,
        timeframe: Timeframe = "1m",
    ) -> HTMLResponse:
        token = await sessions.token(session)
        tickers = await attempt(upstream.get("market-data", "/v1/tickers", token))
        rows = tickers.value["tickers"] if tickers.ok else []
        symbols = sorted({t["symbol"] for t in rows})
        symbol = symbol or (symbols[0] if symbols else "BTC/USDT")
        venues = sorted({t["exchange"] for t in rows if t["symbol"] == symbol})
        exchange = exchange or (venues[0] if venues else None)
        return page(
            request,
            "markets.html",
            session,
            current="markets",
            symbols=symbols,
            symbol=symbol,
            venues=venues,
            exchange=exchange,
            timeframe=timeframe,
            timeframes=list(TIMEFRAMES),
            tickers_error=tickers.error,
        )

    @app.get("/events/markets", include_in_schema=False)
    async def markets_events(
        session: MarketReader,
        symbol: Annotated[Text, Query(pattern=SYMBOL, max_length=41)],
        exchange: Exchange = None,
        timeframe: Timeframe = "1m",
    ) -> StreamingResponse:
        return sse(follow_markets(live, session, symbol, exchange, timeframe))

    # --- order book -----------------------------------------------------------------------------

    @app.get("/book", include_in_schema=False)
    async def book(
        request: Request,
        session: BookReader,
        exchange: Exchange = None,
        symbol: Symbol = None,
    ) -> HTMLResponse:
        token = await sessions.token(session)
        books = await attempt(upstream.get("order-book", "/v1/books", token))
        listed = books.value["books"] if books.ok else []
        if books.ok:
            live.watch.observe(listed)
        if exchange is None or symbol is None:
            chosen = next((b for b in listed if b["in_sync"]), listed[0] if listed else None)
            if chosen is not None:
                exchange, symbol = chosen["exchange"], chosen["symbol"]
        return page(
            request,
            "book.html",
            session,
            current="book",
            exchange=exchange,
            symbol=symbol,
            books=listed,
            books_error=books.error,
        )

    @app.get("/events/book", include_in_schema=False)
    async def book_events(
        session: BookReader,
        exchange: Annotated[Text, Query(pattern=EXCHANGE, max_length=32)],
        symbol: Annotated[Text, Query(pattern=SYMBOL, max_length=41)],
    ) -> StreamingResponse:
        return sse(follow_book(live, session, exchange, symbol))

    # --- keys -----------------------------------------------------------------------------------

    async def keys_panel(
        request: Request, session: Session, notice: dict[str, Any] | None = None
    ) -> HTMLResponse:
        token = await sessions.token(session)
        listed = await attempt(upstream.get("auth", "/v1/credentials", token))
        html = renderer.render(
            "fragments/keys.html",
            credentials=listed.value["credentials"] if listed.ok else [],
            error=listed.error,
            notice=notice,
            csrf=session.csrf,
        )
        return HTMLResponse(html)

    @app.get("/keys", include_in_schema=False)
    async def keys(request: Request, session: Admin) -> HTMLResponse:
        panel = await keys_panel(request, session)
        return page(
            request,
            "keys.html",
            session,
            current="keys",
            panel=bytes(panel.body).decode(),
            venues=settings.key_venues,
        )

    @app.post("/keys", include_in_schema=False)
    async def connect_key(
        request: Request,
        session: AdminChange,
        account_id: Annotated[Text, Form(pattern=ACCOUNT)],
        exchange: Annotated[Text, Form(pattern=EXCHANGE)],
        api_key: Annotated[SecretStr, Form(min_length=1, max_length=512)],
        secret: Annotated[SecretStr, Form(min_length=1, max_length=512)],
        label: Annotated[Text, Form(max_length=200)] = "",
        passphrase: Annotated[SecretStr | None, Form(max_length=512)] = None,
        allow_withdrawal: Annotated[bool, Form()] = False,
    ) -> HTMLResponse:
        """The key goes straight on to the auth service, which validates it at the venue and
        keeps the secret in Vault; the console keeps nothing of it."""
        body = {
            "account_id": account_id,
            "exchange": exchange,
            "label": label,
            "allow_withdrawal": allow_withdrawal,
            **key_material(api_key, secret, passphrase),
        }
        answer = await upstream.post("auth", "/v1/credentials", await sessions.token(session), body)
        notice = {"action": "connected", **answer}
        return await keys_panel(request, session, notice)

    @app.post("/keys/rotate", include_in_schema=False)
    async def rotate_key(
        request: Request,
        session: AdminChange,
        credential_id: CredentialId,
        api_key: Annotated[SecretStr, Form(min_length=1, max_length=512)],
        secret: Annotated[SecretStr, Form(min_length=1, max_length=512)],
        passphrase: Annotated[SecretStr | None, Form(max_length=512)] = None,
    ) -> HTMLResponse:
        path = f"/v1/credentials/{credential_id}/rotate"
        body = key_material(api_key, secret, passphrase)
        answer = await upstream.post("auth", path, await sessions.token(session), body)
        return await keys_panel(request, session, {"action": "rotated", **answer})

    @app.post("/keys/revoke", include_in_schema=False)
    async def revoke_key(
        request: Request,
        session: AdminChange,
        credential_id: CredentialId,
        reason: Annotated[Text, Form(max_length=500)] = "",
    ) -> HTMLResponse:
        path = f"/v1/credentials/{credential_id}/revoke"
        answer = await upstream.post(
            "auth", path, await sessions.token(session), {"reason": reason}
        )
        return await keys_panel(request, session, {"action": "revoked", **answer, "warnings": []})

    @app.post("/keys/validate", include_in_schema=False)
    async def validate_key(
        request: Request, session: AdminChange, credential_id: CredentialId
    ) -> HTMLResponse:
        path = f"/v1/credentials/{credential_id}/validate"
        answer = await upstream.post("auth", path, await sessions.token(session))
        return await keys_panel(request, session, {"action": "validated", **answer})

    # --- platform -------------------------------------------------------------------------------

    @app.get("/platform", include_in_schema=False)
    async def platform(
        request: Request, session: Annotated[Session, Depends(require_session())]
    ) -> HTMLResponse:
        audit = switches = None
        if session.has("audit:read"):
            audit = await audit_window(session, None, {})
        if session.has("risk:admin"):
            switches = await kill_switches(live, await sessions.token(session))
        return page(
            request, "platform.html", session, current="platform", audit=audit, switches=switches
        )

    @app.post("/platform/kill-switch", include_in_schema=False)
    async def set_kill_switch(
        session: RiskAdminChange,
        level: Annotated[Text, Form(pattern="^(platform|exchange|account)$")],
        state: Annotated[Text, Form(pattern="^(active|reducing|halted)$")],
        scope_id: Annotated[Text, Form(max_length=64)] = "",
        reason: Annotated[Text, Form(max_length=500)] = "",
        cancel_open: Annotated[bool, Form()] = False,
    ) -> HTMLResponse:
        """Through order management (risk:admin, audited there), which refuses a platform
        switch with a scope, or another level without one, and cancel_open but with HALTED;
        the switches come back re-read."""
        token = await sessions.token(session)
        body = {
            "level": level,
            "scope_id": scope_id.strip(),
            "state": state,
            "reason": reason,
            "cancel_open": cancel_open,
        }
        answer = await upstream.request(
            "order-management",
            "PUT",
            "/v1/risk/kill-switches",
            token,
            json=body,
            timeout_s=settings.order_timeout_s,
        )
        table = renderer.render(
            "fragments/kill_switches.html", switches=await kill_switches(live, token)
        )
        notice = renderer.render("fragments/kill_switch_notice.html", answer=answer)
        return HTMLResponse(
            notice + f'<div id="kill-switches-part" class="live" hx-swap-oob="true">{table}</div>'
        )

    @app.get("/events/platform", include_in_schema=False)
    async def platform_events(
        session: Annotated[Session, Depends(require_session())],
    ) -> StreamingResponse:
        return sse(follow_platform(live, session))

    async def audit_window(
        session: Session, end: int | None, filters: dict[str, str]
    ) -> dict[str, Any]:
        """The events whose sequence is in (end - AUDIT_PAGE, end], newest first; ``end`` None:
        the newest (found by galloping, since the trail pages forward only)."""
        token = await sessions.token(session)

        async def after(sequence: int, limit: int, **extra: str) -> list[dict[str, Any]]:
            params: dict[str, Any] = {"after_sequence": sequence, "limit": limit, **extra}
            answer = await upstream.get("auth", "/v1/audit", token, params)
            events: list[dict[str, Any]] = answer["events"]
            return events

        newest = await newest_sequence(after)
        top = newest if end is None else max(0, min(end, newest))
        start = max(0, top - AUDIT_PAGE)
        events = [e for e in await after(start, AUDIT_PAGE, **filters) if e["sequence"] <= top]
        return {
            "events": list(reversed(events)),
            "start": start + 1,
            "end": top,
            "newest": newest,
            "older": start if start > 0 else None,
            "newer": min(newest, top + AUDIT_PAGE) if top < newest else None,
            "filters": filters,
        }

    @app.get("/platform/audit", include_in_schema=False)
    async def audit(
        request: Request,
        session: Auditor,
        end: Annotated[int | None, Query(ge=0, le=2**62)] = None,
        actor: Filter = None,
        action: Filter = None,
        outcome: Filter = None,
    ) -> HTMLResponse:
        filters = {
            k: v for k, v in (("actor", actor), ("action", action), ("outcome", outcome)) if v
        }
        window = await audit_window(session, end, filters)
        return HTMLResponse(renderer.render("fragments/audit.html", audit=window))

    @app.get("/platform/audit/verify", include_in_schema=False)
    async def verify(request: Request, session: Auditor) -> HTMLResponse:
        result = await upstream.get("auth", "/v1/audit/verify", await sessions.token(session))
        return HTMLResponse(renderer.render("fragments/verify.html", result=result))

    # --- orders ---------------------------------------------------------------------------------

    def orders_panel(session: Session, view: dict[str, Any]) -> str:
        return renderer.render("fragments/orders.html", session=session, csrf=session.csrf, **view)

    async def order_answer(
        session: Session, account: str, answer: dict[str, Any], amend: dict[str, str] | None = None
    ) -> HTMLResponse:
        """What an order command answers the page: its notice, and (out of band) the orders
        panel read again — the order is there at once, not at the next live round. ``amend``:
        the new terms an amend asked for (the answer's order still shows the old ones)."""
        queued = None if "order" in answer else answer
        notice = renderer.render(
            "fragments/order_notice.html", answer=answer, queued=queued, amend=amend
        )
        return await with_panel(session, account, notice)

    async def with_panel(session: Session, account: str, notice: str) -> HTMLResponse:
        view = await orders_view(upstream, await sessions.token(session), account)
        panel = orders_panel(session, view)
        as_of = renderer.render("fragments/as_of.html", as_of=view["as_of"])
        return HTMLResponse(
            notice
            + f'<div id="orders-panel" aria-live="polite" hx-swap-oob="true">{panel}</div>'
            + f'<span id="orders-asof" hx-swap-oob="true">{as_of}</span>'
        )

    @app.get("/orders", include_in_schema=False)
    async def orders(request: Request, session: OrdersReader, account: Account = None) -> Response:
        accounts = sorted(session.accounts)
        chosen = account if account is not None else (accounts[0] if accounts else None)
        ctx: dict[str, Any] = {"accounts": accounts, "account": chosen}
        if chosen is not None:
            view = await orders_view(upstream, await sessions.token(session), chosen)
            ctx |= {
                "panel": orders_panel(session, view),
                "as_of": view["as_of"],
                "ticket_key": new_ticket_key(),
                "oco_key": new_ticket_key(),
                "venues": settings.key_venues,
            }
        return page(request, "orders.html", session, current="orders", **ctx)

    @app.get("/events/orders", include_in_schema=False)
    async def orders_events(
        session: OrdersReader, account: Annotated[Text, Query(pattern=ACCOUNT)]
    ) -> StreamingResponse:
        return sse(follow_orders(live, session, account))

    @app.post("/orders/place", include_in_schema=False)
    async def place_order(
        session: OrdersWriter,
        account_id: Annotated[Text, Form(pattern=ACCOUNT)],
        idempotency_key: OrderKey,
        exchange: Annotated[Text, Form(pattern=EXCHANGE)],
        symbol: Annotated[Text, Form(pattern=SYMBOL, max_length=41)],
        side: Annotated[Text, Form(pattern="^(buy|sell)$")],
        type: Annotated[Text, Form(pattern=ORDER_TYPES)],
        quantity: Annotated[Text, Form(pattern=DECIMAL)],
        price: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
        stop_price: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
        trailing_value: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
        trailing_unit: Annotated[Text, Form(pattern="^(price|bps)$")] = "bps",
    ) -> HTMLResponse:
        """Through order management, which runs the risk checks and may hold a large trade for
        a second operator's confirmation; the ticket's key makes a resend place nothing new.
        A stop, take-profit or trailing order goes native or emulated as order management
        decides; the console checks only that a limit-priced type has its price."""
        body: dict[str, Any] = {
            "account_id": account_id,
            "idempotency_key": idempotency_key,
            "exchange": exchange,
            "symbol": symbol,
            "side": side,
            "type": type,
            "quantity": quantity,
        }
        if type in LIMIT_PRICED:
            if not price:
                raise ApiError(
                    422,
                    "invalid_request",
                    "the order is not valid",
                    [{"field": "price", "problem": "a limit order needs a price"}],
                )
            body["price"] = price
        if stop_price and type not in ("limit", "market"):
            body["stop_price"] = stop_price
        if trailing_value and type.startswith("trailing_"):
            body["trailing"] = {"value": trailing_value, "unit": trailing_unit}
        answer = await upstream.post(
            "order-management",
            "/v1/orders",
            await sessions.token(session),
            body,
            timeout_s=settings.order_timeout_s,
        )
        return await order_answer(session, account_id, answer)

    @app.post("/orders/oco", include_in_schema=False)
    async def place_oco(
        session: OrdersWriter,
        account_id: Annotated[Text, Form(pattern=ACCOUNT)],
        idempotency_key: OrderKey,
        exchange: Annotated[Text, Form(pattern=EXCHANGE)],
        symbol: Annotated[Text, Form(pattern=SYMBOL, max_length=41)],
        side: Annotated[Text, Form(pattern="^(buy|sell)$")],
        quantity: Annotated[Text, Form(pattern=DECIMAL)],
        price: Annotated[Text, Form(pattern=DECIMAL)],
        stop_price: Annotated[Text, Form(pattern=DECIMAL)],
        stop_limit_price: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
    ) -> HTMLResponse:
        """An OCO list at order management (``POST /v1/order-lists``): a limit leg and a stop
        leg, the first to execute cancels the other; native where the venue has lists."""
        body: dict[str, Any] = {
            "account_id": account_id,
            "idempotency_key": idempotency_key,
            "type": "oco",
            "exchange": exchange,
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "stop_price": stop_price,
        }
        if stop_limit_price:
            body["stop_limit_price"] = stop_limit_price
        answer = await upstream.post(
            "order-management",
            "/v1/order-lists",
            await sessions.token(session),
            body,
            timeout_s=settings.order_timeout_s,
        )
        notice = renderer.render("fragments/list_notice.html", answer=answer)
        return await with_panel(session, account_id, notice)

    @app.post("/orders/cancel", include_in_schema=False)
    async def cancel_order(session: OrdersWriter, order_id: OrderId) -> HTMLResponse:
        answer = await upstream.post(
            "order-management",
            f"/v1/orders/{order_id}/cancel",
            await sessions.token(session),
            timeout_s=settings.order_timeout_s,
        )
        return await order_answer(session, answer_account(answer), answer)

    @app.post("/orders/amend", include_in_schema=False)
    async def amend_order(
        session: OrdersWriter,
        order_id: OrderId,
        idempotency_key: OrderKey,
        price: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
        quantity: Annotated[Text, Form(pattern=f"^$|{DECIMAL}")] = "",
    ) -> HTMLResponse:
        """A new price and/or total quantity, through order management's amend (native at the
        venue, or a cancel-replace whose replacement is a new order: ``replaced_by``). The
        row's key is the order's id and version, so a resend after no answer amends once."""
        terms = {k: v for k, v in (("price", price), ("quantity", quantity)) if v}
        if not terms:
            raise ApiError(
                422,
                "invalid_request",
                "the amend changes nothing",
                [{"field": "price", "problem": "give a new price or quantity"}],
            )
        answer = await upstream.request(
            "order-management",
            "PATCH",
            f"/v1/orders/{order_id}",
            await sessions.token(session),
            json={"idempotency_key": idempotency_key, **terms},
            timeout_s=settings.order_timeout_s,
        )
        return await order_answer(session, answer_account(answer), answer, amend=terms)

    @app.get("/orders/preview", include_in_schema=False)
    async def preview_order(
        session: OrdersWriterStep,
        account_id: Annotated[Text, Query(pattern=ACCOUNT)],
        exchange: Annotated[Text, Query(pattern=EXCHANGE)],
        symbol: Annotated[Text, Query(pattern=SYMBOL, max_length=41)],
        side: Annotated[Text, Query(pattern="^(buy|sell)$")],
        type: Annotated[Text, Query(pattern=ORDER_TYPES)],
        quantity: Annotated[Text, Query(pattern=DECIMAL)],
        price: Annotated[Text, Query(pattern=f"^$|{DECIMAL}")] = "",
    ) -> HTMLResponse:
        """The ticket's check before sending (nothing is sent): the book's expected fill and,
        with risk:admin, what order management's limits and kill switches say of it."""
        ticket = {
            "account_id": account_id,
            "exchange": exchange,
            "symbol": symbol,
            "side": side,
            "type": type,
            "quantity": quantity,
            "price": price if type in LIMIT_PRICED else "",
        }
        view = await ticket_preview(upstream, await sessions.token(session), session, ticket)
        return HTMLResponse(renderer.render("fragments/ticket_preview.html", **view))

    @app.get("/orders/cancel-all", include_in_schema=False)
    async def cancel_all_step(
        session: OrdersWriterStep,
        account_id: Annotated[Text, Query(pattern=ACCOUNT)],
        exchange: ScopeExchange = "",
        symbol: ScopeSymbol = "",
    ) -> HTMLResponse:
        """The confirmation step of a cancel-all: the open orders it would cancel now, and the
        form that cancels them (nothing is cancelled by this request)."""
        params: dict[str, Any] = {"account_id": account_id, "open": "true", "limit": 100}
        params |= {k: v for k, v in (("exchange", exchange), ("symbol", symbol)) if v}
        listed = await attempt(
            upstream.get("order-management", "/v1/orders", await sessions.token(session), params)
        )
        return HTMLResponse(
            renderer.render(
                "fragments/cancel_all_step.html",
                listed=listed,
                account=account_id,
                exchange=exchange,
                symbol=symbol,
                csrf=session.csrf,
                key=new_ticket_key(),
            )
        )

    @app.post("/orders/cancel-all", include_in_schema=False)
    async def cancel_all(
        session: OrdersWriter,
        account_id: Annotated[Text, Form(pattern=ACCOUNT)],
        idempotency_key: OrderKey,
        exchange: Annotated[Text, Form(pattern=f"^$|{EXCHANGE}")] = "",
        symbol: Annotated[Text, Form(pattern=f"^$|{SYMBOL}", max_length=41)] = "",
    ) -> HTMLResponse:
        """Every open order of the account (of one exchange, of one symbol) at order
        management, once the operator confirmed; the key drawn with the confirmation step
        makes a resend after no answer cancel nothing twice."""
        body: dict[str, Any] = {"account_id": account_id, "idempotency_key": idempotency_key}
        body |= {k: v for k, v in (("exchange", exchange), ("symbol", symbol)) if v}
        answer = await upstream.post(
            "order-management",
            "/v1/orders/cancel-all",
            await sessions.token(session),
            body,
            timeout_s=settings.order_timeout_s,
        )
        notice = renderer.render(
            "fragments/cancel_all_notice.html",
            answer=answer,
            account=account_id,
            exchange=exchange,
            symbol=symbol,
        )
        # the notice takes the confirmation step's place
        return await with_panel(session, account_id, notice)

    @app.get("/orders/timeline", include_in_schema=False)
    async def order_timeline(
        session: OrdersReader,
        order_id: Annotated[Text, Query(pattern=r"^[0-9a-fA-F-]{36}$")],
    ) -> HTMLResponse:
        """One order's event log at order management, oldest first (what its state is the
        projection of): asked for when the operator opens the order's timeline."""
        events = await attempt(
            upstream.get(
                "order-management", f"/v1/orders/{order_id}/events", await sessions.token(session)
            )
        )
        return HTMLResponse(renderer.render("fragments/timeline.html", events=events))

    @app.post("/orders/confirm", include_in_schema=False)
    async def confirm_order(session: OrdersConfirmer, order_id: OrderId) -> HTMLResponse:
        """A large trade held for a second operator: order management checks that this one is
        another subject than its requester (four eyes) and answers 403 otherwise."""
        answer = await upstream.post(
            "order-management",
            f"/v1/orders/{order_id}/confirm",
            await sessions.token(session),
            timeout_s=settings.order_timeout_s,
        )
        return await order_answer(session, answer_account(answer), answer)

    # --- accounts -------------------------------------------------------------------------------

    @app.get("/accounts", include_in_schema=False)
    async def accounts(
        request: Request,
        session: AccountReader,
        account: Account = None,
        quote: Quote = "USD",
        span: Span = "1d",
    ) -> HTMLResponse:
        token = await sessions.token(session)
        view = await account_view(upstream, token, account, quote.upper(), span)
        return page(request, "accounts.html", session, current="accounts", **view)

    @app.get("/events/accounts", include_in_schema=False)
    async def accounts_events(
        session: AccountReader,
        account: Annotated[Text, Query(pattern=ACCOUNT)],
        quote: Quote = "USD",
    ) -> StreamingResponse:
        return sse(follow_accounts(live, session, account, quote.upper()))

    # --- rules and arbitrage --------------------------------------------------------------------

    async def rules_panel(session: Session, notice: str | None = None) -> str:
        token = await sessions.token(session)
        view = await rules_view(upstream, token, arbitrage=False)
        return renderer.render(
            "fragments/rules.html", session=session, csrf=session.csrf, notice=notice, **view
        )

    @app.get("/rules", include_in_schema=False)
    async def rules(request: Request, session: RulesReader) -> HTMLResponse:
        token = await sessions.token(session)
        view = await rules_view(
            upstream, token, arbitrage=session.has("alerts:read"), executions=True
        )
        panel = renderer.render("fragments/rules.html", session=session, csrf=session.csrf, **view)
        return page(
            request,
            "rules.html",
            session,
            current="rules",
            panel=panel,
            opportunities=view["opportunities"],
            executions=view["executions"],
        )

    @app.post("/rules/pause", include_in_schema=False)
    async def pause_rule(session: RulesWriter, rule_id: RuleId) -> HTMLResponse:
        """Through the automation service (idempotent there); the panel comes back re-read."""
        answer = await upstream.post(
            "automation", f"/v1/rules/{rule_id}/pause", await sessions.token(session)
        )
        return HTMLResponse(await rules_panel(session, f"Paused {answer['name']}."))

    @app.post("/rules/resume", include_in_schema=False)
    async def resume_rule(session: RulesWriter, rule_id: RuleId) -> HTMLResponse:
        answer = await upstream.post(
            "automation", f"/v1/rules/{rule_id}/resume", await sessions.token(session)
        )
        return HTMLResponse(await rules_panel(session, f"Resumed {answer['name']}."))

    @app.post("/rules/edit", include_in_schema=False)
    async def edit_rule(
        session: RulesWriter,
        rule_id: RuleId,
        name: Annotated[Text, Form(min_length=1, max_length=120)],
        condition: RuleJson,
        action: RuleJson,
        limits: RuleJson = "{}",
        paper: Annotated[bool, Form()] = False,
    ) -> HTMLResponse:
        """A new version of the rule at automation, which checks the definition (422
        ``invalid_request`` with the fields) and starts its evaluation afresh."""
        body = {
            "name": name,
            "condition": json_object("condition", condition),
            "action": json_object("action", action),
            "limits": json_object("limits", limits),
            "paper": paper,
        }
        answer = await upstream.request(
            "automation", "PUT", f"/v1/rules/{rule_id}", await sessions.token(session), json=body
        )
        notice = f"Saved {answer['name']}: version {answer['version']}."
        return HTMLResponse(await rules_panel(session, notice))

    @app.post("/rules/delete", include_in_schema=False)
    async def delete_rule(
        session: RulesWriter,
        rule_id: RuleId,
        name: Annotated[Text, Form(max_length=120)] = "",
    ) -> HTMLResponse:
        """Deleted at automation (its firings are kept there); the panel comes back without it."""
        await upstream.request(
            "automation", "DELETE", f"/v1/rules/{rule_id}", await sessions.token(session)
        )
        return HTMLResponse(await rules_panel(session, f"Deleted {name or rule_id}."))

    return app


DOCS_PAGES = {"/docs", "/docs/oauth2-redirect", "/redoc"}
AUDIT_PAGE = 50


def key_material(
    api_key: SecretStr, secret: SecretStr, passphrase: SecretStr | None
) -> dict[str, str]:
    """A key's secret part of an auth request body, taken out of its SecretStr only here, on
    its way to the auth service."""
    material = {"api_key": api_key.get_secret_value(), "secret": secret.get_secret_value()}
    if passphrase is not None and passphrase.get_secret_value():
        material["passphrase"] = passphrase.get_secret_value()
    return material


def json_object(field: str, text: str) -> dict[str, Any]:
    """A form's JSON text as the object a service's body takes; 422 with the field otherwise."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ApiError(
            422,
            "invalid_request",
            "request is invalid",
            [{"field": field, "problem": "is not a JSON object"}],
        )
    return value


def new_ticket_key() -> str:
    return f"console-{secrets.token_urlsafe(18)}"


def answer_account(answer: dict[str, Any]) -> str:
    """The account an order command's answer is about (an order, or a queued command)."""
    order = answer.get("order")
    return str(order["account_id"] if isinstance(order, dict) else answer["account_id"])


def sse(events: AsyncIterator[Any]) -> StreamingResponse:
    return StreamingResponse(
        stream(events),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def newest_sequence(after: Any) -> int:
    """The highest sequence of the audit trail, in O(log n) one-event reads: the trail answers
    events after a sequence, oldest first, so gallop forward and then bisect."""
    first = await after(0, 1)
    if not first:
        return 0
    known = int(first[0]["sequence"])
    step = 1
    probe = known
    while True:
        found = await after(probe, 1)
        if not found:
            break
        known = int(found[0]["sequence"])
        probe = known + step
        step *= 2
    low, high = known, probe  # an event at low, none after high: the newest is in [low, high]
    while low < high:
        middle = (low + high) // 2
        found = await after(middle, 1)
        if found:
            low = int(found[0]["sequence"])
        else:
            high = middle
    return low
