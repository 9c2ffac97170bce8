"""Every route of every service is behind a token with scopes or on the public allow-list, takes
its strings as ``Text``, documents the errors it answers, and refuses hostile input with a
small 422.

The services counted are the platform's six: market-data, order-book, account,
order-management, auth and automation, and the operator console, whose routes take the
operator's session instead of a bearer token (the session holds the token;
``eip.console.security.require_session`` declares its scopes like ``require_scope``) and
whose login page and static assets are public, each with its reason in
``eip.console.app.PUBLIC``. The exchange simulator is no platform service:
it stands in for the venues, whose own authentication its venue endpoints speak, and its
``/admin/v1`` test bench takes no token (docs/SIMULATOR.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from eip.account.app import build_app as account_app
from eip.account.settings import AccountSettings
from eip.auth.app import build_app as auth_app
from eip.auth.settings import AuthSettings
from eip.automation.app import build_app as automation_app
from eip.automation.settings import AutomationSettings
from eip.console.app import PUBLIC as CONSOLE_PUBLIC
from eip.console.app import build_app as console_app
from eip.console.settings import ConsoleSettings
from eip.market_data.app import build_app as market_data_app
from eip.market_data.settings import MarketDataSettings
from eip.observability.inputs import unchecked_inputs
from eip.order_book.app import build_app as order_book_app
from eip.order_book.settings import OrderBookSettings
from eip.order_management.app import build_app as order_management_app
from eip.order_management.settings import OrderManagementSettings
from eip.testing.tokens import TokenIssuer
from eip.tokens import PUBLIC_PATHS, SCOPES, unprotected_routes

AppFactory = Callable[[TokenIssuer], FastAPI]
SERVICES: dict[str, AppFactory] = {
    "market-data": lambda i: market_data_app(MarketDataSettings(**i.settings())),
    "order-book": lambda i: order_book_app(OrderBookSettings(**i.settings())),
    "account": lambda i: account_app(AccountSettings(**i.settings())),
    "order-management": lambda i: order_management_app(OrderManagementSettings(**i.settings())),
    "auth": lambda i: auth_app(AuthSettings()),
    "automation": lambda i: automation_app(AutomationSettings(**i.settings())),
    "console": lambda i: console_app(ConsoleSettings(**i.settings())),
}
# What each service serves without a token, beyond every service's PUBLIC_PATHS.
PUBLIC: dict[str, frozenset[str]] = {name: PUBLIC_PATHS for name in SERVICES} | {
    "console": PUBLIC_PATHS | set(CONSOLE_PUBLIC),
}
# Services whose tokens come from the JWKS (auth checks its own, against Vault).
VERIFYING = [name for name in SERVICES if name != "auth"]
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(params=list(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def app(service: str, token_issuer: TokenIssuer) -> FastAPI:
    return SERVICES[service](token_issuer)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_every_route_needs_a_token_with_scopes_or_is_on_the_public_list(
    service: str, app: FastAPI
) -> None:
    assert unprotected_routes(app, PUBLIC[service]) == []


def test_the_route_walk_finds_a_route_added_without_a_token(service: str, app: FastAPI) -> None:
    @app.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    assert unprotected_routes(app, PUBLIC[service]) == ["GET /v1/forgotten"]


def test_the_console_s_public_routes_are_its_login_and_its_assets_only() -> None:
    """Every public console path says why; nothing that shows data is among them."""
    assert set(CONSOLE_PUBLIC) == {"/login", "/static"}
    assert all(reason for reason in CONSOLE_PUBLIC.values())


def test_every_string_a_route_takes_is_text_postgresql_can_store(app: FastAPI) -> None:
    assert unchecked_inputs(app) == []


def test_the_input_walk_finds_a_plain_string(app: FastAPI) -> None:
    @app.get("/v1/careless")
    async def careless(name: str, nested: list[str] | None = None) -> dict[str, str]:
        return {}

    assert unchecked_inputs(app) == ["GET /v1/careless: name", "GET /v1/careless: nested"]


def test_the_document_declares_the_bearer_scheme_scopes_and_error_bodies(
    service: str, app: FastAPI
) -> None:
    spec = app.openapi()
    if not any("security" in op for _, _, op in operations(spec)):
        # only public routes documented (the console, whose pages are no API and stay out
        # of its document)
        assert unprotected_routes(app, PUBLIC[service]) == []
        return
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A token from the auth service: POST /v1/tokens (client-credentials grant)."
        ),
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
        if path in PUBLIC_PATHS:
            assert "security" not in operation, path
            continue
        security = operation["security"]
        assert all(scopes for requirement in security for scopes in requirement.values()), path
        assert {"401", "403", "503"} <= set(errors), (method, path)
        assert "**Token scopes:**" in operation["description"], path
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in errors, (method, path)
            assert "400" not in errors, (method, path)


def test_every_scope_a_route_asks_for_is_one_the_auth_service_issues() -> None:
    # order management's orders:read, orders:confirm and risk:admin were once missing from
    # eip.tokens.SCOPES: auth refused clients with them, so no real token could read an order
    issuer = TokenIssuer("http://127.0.0.1:1/unused")
    asked = {
        (name, scope)
        for name, factory in SERVICES.items()
        for _, _, operation in operations(factory(issuer).openapi())
        for requirement in operation.get("security", [])
        for scope in requirement.get("bearer", [])
    }
    assert ("order-management", "orders:confirm") in asked  # the walk sees the scopes
    assert {(name, scope) for name, scope in asked if scope not in SCOPES} == set()


def test_reads_and_changes_take_different_scopes() -> None:
    issuer = TokenIssuer("http://127.0.0.1:1/unused")
    scopes = {
        name: {
            f"{method.upper()} {path}": operation["security"][0]["bearer"][0]
            for method, path, operation in operations(SERVICES[name](issuer).openapi())
            if "security" in operation
        }
        for name in ("market-data", "order-book")
    }
    assert scopes["market-data"]["GET /v1/subscriptions"] == "market:read"
    assert scopes["market-data"]["POST /v1/subscriptions"] == "market:admin"
    assert scopes["market-data"]["DELETE /v1/subscriptions"] == "market:admin"
    assert scopes["market-data"]["POST /v1/backfill/{job_id}/cancel"] == "market:admin"
    assert scopes["market-data"]["POST /v1/backfill/{job_id}/repair"] == "market:admin"
    assert scopes["order-book"]["GET /v1/books/{exchange}/{symbol}"] == "books:read"
    assert scopes["order-book"]["POST /v1/subscriptions"] == "books:admin"
    assert scopes["order-book"]["DELETE /v1/subscriptions/{exchange}/{symbol}"] == "books:admin"
    for name, by_operation in scopes.items():
        for operation, scope in by_operation.items():
            reading = operation.startswith("GET ")
            assert scope.endswith(":read") == reading, (name, operation, scope)


@pytest.fixture(params=VERIFYING)
async def client(
    request: pytest.FixtureRequest, token_issuer: TokenIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """A service app without its lifespan: the edge (token, validation) answers by itself."""
    app = SERVICES[request.param](token_issuer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=token_issuer.headers()
    ) as c:
        yield c


# One request per service that takes a string in its path, its query and its JSON body.
HOSTILE: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "http://market-data": [
        ("GET", "/v1/tickers/binance/BTC-US{}", {}),
        ("GET", "/v1/tickers", {"params": {"exchange": "bin{}ance"}}),
        ("POST", "/v1/subscriptions", {"json": {"exchange": "binance", "symbol": "BTC/US{}"}}),
    ],
    "http://order-book": [
        ("GET", "/v1/books/bin{}ance/BTC-USDT", {}),
        ("GET", "/v1/books/binance/BTC-USDT/stats", {"params": {"depths": "1,{}5"}}),
        ("POST", "/v1/subscriptions", {"json": {"exchange": "bin{}ance", "symbol": "BTC/USDT"}}),
    ],
    "http://account": [
        ("GET", "/v1/accounts/acct{}1/access", {}),
        ("GET", "/v1/accounts/acct-1/trades", {"params": {"cursor": "ab{}c"}}),
        ("GET", "/v1/accounts/acct-1/balances", {"params": {"exchange": "bin{}ance"}}),
    ],
}


def fill(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return value.replace("{}", text)
    if isinstance(value, dict):
        return {k: fill(v, text) for k, v in value.items()}
    return value


@pytest.mark.parametrize("service", ["market-data", "order-book", "account"])
async def test_nul_bytes_anywhere_are_refused_with_422(
    service: str, token_issuer: TokenIssuer
) -> None:
    app = SERVICES[service](token_issuer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=token_issuer.headers()
    ) as http:
        for method, path, kwargs in HOSTILE[f"http://{service}"]:
            nul = "%00" if "{}" in path else "\x00"
            response = await http.request(method, fill(path, nul), **fill(kwargs, "\x00"))
            assert response.status_code == 422, (path, kwargs, response.text)
            assert response.json()["error"]["code"] == "invalid_request"
            assert "NUL" in response.text


async def test_a_megabyte_of_bad_input_gets_a_small_answer(client: httpx.AsyncClient) -> None:
    huge = "x" * 1_000_000
    long = "y" * 30_000  # a URL carries less
    for method, path, kwargs in (
        ("POST", "/v1/subscriptions", {"json": {"exchange": huge, "symbol": huge}}),
        ("POST", "/v1/subscriptions", {"json": {"exchange": 1, "symbol": [huge], huge: huge}}),
        ("GET", "/v1/tickers", {"params": {"exchange": long, "symbol": long}}),
        ("GET", f"/v1/books/{long}/{long}/stats", {"params": {"depths": long}}),
        ("GET", f"/v1/accounts/{long}/access", {}),
    ):
        response = await client.request(method, path, **kwargs)
        assert response.status_code in (404, 422), response.text[:300]
        assert len(response.content) < 4096, (path, len(response.content))


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("market-data", "/v1/subscriptions"),
        ("order-book", "/v1/books"),
        ("account", "/v1/accounts/acct-1/access"),
    ],
)
async def test_calls_without_a_valid_token_are_refused(
    service: str, path: str, token_issuer: TokenIssuer
) -> None:
    transport = httpx.ASGITransport(app=SERVICES[service](token_issuer))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        anonymous = await http.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        for token in (
            "a.b.c",
            token_issuer.token(ttl_s=-120),  # expired beyond the leeway
            token_issuer.token(iss="someone-else"),
        ):
            forged = await http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert forged.status_code == 401, token
            assert forged.json()["error"]["code"] == "unauthorized"
        scoped = await http.get(path, headers=token_issuer.headers(["orders:write"]))
        assert scoped.status_code == 403
