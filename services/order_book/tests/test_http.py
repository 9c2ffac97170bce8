from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.config import ConfigError
from eip.exchanges.contract.book_feed import BookFeed
from eip.exchanges.contract.errors import UnknownSymbol
from eip.order_book.app import build_app
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.testing.tokens import TokenIssuer

from .helpers import ScriptedBook, ScriptedFeed

BIDS = [("100.00", "1.0000"), ("99.00", "2.0000"), ("98.00", "3.0000"), ("97.00", "20.0000")]
ASKS = [("101.00", "2.0000"), ("102.00", "1.0000"), ("104.00", "5.0000")]


def scripted_factory(exchange: str, settings: OrderBookSettings) -> BookFeed:
    if exchange not in {"binance", "kraken"}:
        raise ConfigError("order-book", [f"no book feed for exchange {exchange!r}"])
    return ScriptedFeed(exchange, symbols=settings.subscriptions.get(exchange, []))


@pytest.fixture
def app(token_issuer: TokenIssuer) -> FastAPI:
    return build_app(OrderBookSettings(**token_issuer.settings()), scripted_factory)


@pytest_asyncio.fixture
async def client(app: FastAPI, token_issuer: TokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=token_issuer.headers(["books:read"])
    ) as c:
        yield c


def books(app: FastAPI) -> OrderBookService:
    service: OrderBookService = app.state.books
    return service


def synced(app: FastAPI, exchange: str = "binance", symbol: str = "BTC/USDT") -> ScriptedBook:
    feed = ScriptedBook(exchange, symbol)
    books(app).manager.handle(feed.snapshot(BIDS, ASKS))
    return feed


async def test_book_levels_with_freshness(app: FastAPI, client: httpx.AsyncClient) -> None:
    synced(app)
    r = await client.get("/v1/books/binance/BTC-USDT", params={"depth": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["bids"] == [["100.00", "1.0000"], ["99.00", "2.0000"]]
    assert body["asks"] == [["101.00", "2.0000"], ["102.00", "1.0000"]]
    assert body["in_sync"] is True
    assert body["stale"] is False
    assert (body["epoch"], body["sequence"]) == (books(app).manager.epoch_floor + 1, 0)
    assert body["exchange_time"] is not None
    assert 0 <= body["age_ms"] < 60_000


async def test_list_books(app: FastAPI, client: httpx.AsyncClient) -> None:
    synced(app)
    eth = synced(app, symbol="ETH/USDT")
    books(app).manager.handle(eth.desync("checksum"))
    r = await client.get("/v1/books")
    assert r.status_code == 200
    listed = {b["symbol"]: b for b in r.json()["books"]}
    assert listed["BTC/USDT"]["in_sync"] is True
    assert listed["BTC/USDT"]["bid_levels"] == 4
    assert listed["ETH/USDT"]["in_sync"] is False
    assert listed["ETH/USDT"]["desync_reason"] == "checksum"


async def test_unknown_book_is_404_and_bad_symbol_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    r = await client.get("/v1/books/binance/DOGE-USDT")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await client.get("/v1/books/binance/BTCUSDT")
    assert r.status_code == 422
    assert "BASE-QUOTE" in r.json()["error"]["message"]


async def test_a_book_out_of_sync_is_not_served(app: FastAPI, client: httpx.AsyncClient) -> None:
    feed = synced(app)
    books(app).manager.handle(feed.desync("gap"))
    for path in ("", "/stats", "/depth-chart", "/slippage?side=buy&size=1", "/walls"):
        r = await client.get(f"/v1/books/binance/BTC-USDT{path}")
        assert r.status_code == 409, path
        error = r.json()["error"]
        assert error["code"] == "book_not_in_sync"
        assert error["details"]["in_sync"] is False
        assert error["details"]["reason"] == "gap"
        assert error["details"]["received_time"] is not None


async def test_stats(app: FastAPI, client: httpx.AsyncClient) -> None:
    synced(app)
    r = await client.get("/v1/books/binance/BTC-USDT/stats", params={"depths": "1,3"})
    assert r.status_code == 200
    body = r.json()
    assert body["best_bid"] == {"price": "100.00", "size": "1.0000"}
    assert body["spread"] == "1.00"
    assert Decimal(body["mid"]) == Decimal("100.5")
    assert [i["depth"] for i in body["imbalance"]] == [1, 3]
    assert Decimal(body["imbalance"][1]["bid_size"]) == 6
    assert body["in_sync"] is True


async def test_bad_depths_use_the_platform_error_body(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    synced(app)
    for bad in ("a,b", "0", ""):
        r = await client.get("/v1/books/binance/BTC-USDT/stats", params={"depths": bad})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_request"
    r = await client.get("/v1/books/binance/BTC-USDT", params={"depth": 0})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "query.depth"


async def test_slippage(app: FastAPI, client: httpx.AsyncClient) -> None:
    synced(app)
    r = await client.get(
        "/v1/books/binance/BTC-USDT/slippage", params={"side": "buy", "size": "2.5"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["complete"] is True
    assert Decimal(body["average_price"]) == (Decimal(202) + Decimal(51)) / Decimal("2.5")
    assert body["worst_price"] == "102.00"
    thin = await client.get(
        "/v1/books/binance/BTC-USDT/slippage", params={"side": "buy", "size": "100"}
    )
    assert thin.json()["complete"] is False
    assert Decimal(thin.json()["shortfall"]) == 92
    by_notional = await client.get(
        "/v1/books/binance/BTC-USDT/slippage", params={"side": "sell", "notional": "100"}
    )
    assert Decimal(by_notional.json()["filled_notional"]) == 100
    for params in ({"side": "buy"}, {"side": "buy", "size": "1", "notional": "1"}):
        r = await client.get("/v1/books/binance/BTC-USDT/slippage", params=params)
        assert r.status_code == 422
    r = await client.get(
        "/v1/books/binance/BTC-USDT/slippage", params={"side": "hold", "size": "1"}
    )
    assert r.status_code == 422


async def test_depth_chart_clusters_and_walls(app: FastAPI, client: httpx.AsyncClient) -> None:
    synced(app)
    chart = (await client.get("/v1/books/binance/BTC-USDT/depth-chart")).json()
    assert [p["cumulative_size"] for p in chart["bids"]] == [
        "1.0000",
        "3.0000",
        "6.0000",
        "26.0000",
    ]
    clusters = (await client.get("/v1/books/binance/BTC-USDT/clusters?bucket=2")).json()
    assert [(b["price"], b["size"]) for b in clusters["bids"]] == [
        ("100", "1.0000"),
        ("98", "5.0000"),  # 99 and 98 round down to 98
        ("96", "20.0000"),
    ]
    by_ticks = await client.get("/v1/books/binance/BTC-USDT/clusters?ticks=100")
    assert by_ticks.json()["width"] == "1.00"
    neither = await client.get("/v1/books/binance/BTC-USDT/clusters")
    assert neither.status_code == 422
    found = (await client.get("/v1/books/binance/BTC-USDT/walls?window=3&factor=5")).json()
    assert [w["price"] for w in found["bids"]] == ["97.00"]
    assert found["asks"] == []


async def test_consolidated_leaves_out_books_not_in_sync(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    synced(app, "binance")
    synced(app, "kraken")
    coinbase = synced(app, "coinbase")
    books(app).manager.handle(coinbase.desync("stale"))
    r = await client.get("/v1/consolidated/BTC-USDT", params={"depth": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["bids"] == [
        {"price": "100.00", "size": "2.0000", "venues": {"binance": "1.0000", "kraken": "1.0000"}}
    ]
    venues = {v["exchange"]: v for v in body["exchanges"]}
    assert venues["coinbase"]["included"] is False
    assert venues["coinbase"]["excluded_because"] == "not_in_sync"
    assert venues["binance"]["included"] is True
    assert (await client.get("/v1/consolidated/DOGE-USDT")).status_code == 404


@asynccontextmanager
async def stored_app(
    issuer: TokenIssuer,
    pool: AsyncConnectionPool[AsyncConnection],
    schema: str,
    factory: Callable[[str, OrderBookSettings], BookFeed] = scripted_factory,
    **settings: Any,
) -> AsyncIterator[FastAPI]:
    """An app whose books run, storing subscription changes through ``pool`` in ``schema``
    (what the runtime would open), with a symbol check that lists ``LISTED``."""
    app = build_app(
        OrderBookSettings(subscriptions_schema=schema, **issuer.settings(), **settings),
        factory,
        symbol_check=listed_symbols,
    )
    app.state.deps.db = pool
    async with books(app).running():
        await asyncio.wait_for(books(app).restored.wait(), 60)
        yield app


LISTED = {"BTC/USDT", "ETH/USDT", "BTC/USD"}


async def listed_symbols(exchange: str, symbol: str) -> None:
    if symbol not in LISTED:
        raise UnknownSymbol(exchange, f"unknown symbol {symbol!r}")


@pytest.mark.integration
async def test_subscriptions(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str, token_issuer: TokenIssuer
) -> None:
    async with stored_app(token_issuer, db_pool, db_schema) as app:
        transport = httpx.ASGITransport(app=app)
        headers = token_issuer.headers(["books:read", "books:admin"])
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            assert (await client.get("/v1/subscriptions")).json() == {
                "subscriptions": {},
                "entries": [],
            }
            r = await client.post(
                "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT"}
            )
            assert r.status_code == 202
            assert r.json()["subscriptions"] == {"binance": ["BTC/USDT"]}
            [entry] = r.json()["entries"]
            assert (entry["origin"], entry["updated_by"]) == ("runtime", "test-client")
            assert entry["updated_at"] is not None
            again = await client.post(
                "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT"}
            )
            assert again.status_code == 200
            # subscribed, no snapshot yet: known but not in sync
            r = await client.get("/v1/books/binance/BTC-USDT")
            assert r.status_code == 409
            assert r.json()["error"]["details"]["reason"] == "awaiting_snapshot"
            bad = await client.post("/v1/subscriptions", json={"exchange": "nope", "symbol": "A/B"})
            assert bad.status_code == 422
            assert bad.json()["error"]["code"] == "unsupported_exchange"
            bad_symbol = await client.post(
                "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTCUSDT"}
            )
            assert bad_symbol.status_code == 422
            assert (await client.delete("/v1/subscriptions/binance/BTC-USDT")).status_code == 204
            assert (await client.delete("/v1/subscriptions/binance/BTC-USDT")).status_code == 404
            assert (await client.get("/v1/subscriptions")).json() == {
                "subscriptions": {"binance": []},
                "entries": [],
            }


@pytest.mark.integration
async def test_configured_subscriptions_start_their_feeds(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str, token_issuer: TokenIssuer
) -> None:
    started: list[ScriptedFeed] = []

    def factory(exchange: str, settings: OrderBookSettings) -> BookFeed:
        book = ScriptedBook(exchange, "BTC/USDT")
        feed = ScriptedFeed(
            exchange, [book.snapshot(BIDS, ASKS)], symbols=settings.subscriptions[exchange]
        )
        started.append(feed)
        return feed

    async with stored_app(
        token_issuer, db_pool, db_schema, factory, subscriptions={"binance": ["BTC/USDT"]}
    ) as app:
        for _ in range(500):
            if books(app).manager.states():
                break
            await asyncio.sleep(0.01)
        [state] = books(app).manager.states()
        assert state.in_sync
    assert [f.exchange for f in started] == ["binance"]


async def test_openapi_documents_the_v1_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/books/{exchange}/{symbol}/slippage" in spec["paths"]
    assert "/v1/consolidated/{symbol}" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


def test_settings_refuse_a_symbol_that_is_not_base_quote() -> None:
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        OrderBookSettings(subscriptions={"binance": ["BTCUSDT"]})


def test_settings_refuse_an_exchange_without_a_feed() -> None:
    with pytest.raises(ValueError, match="no book feed for exchange 'ftx'"):
        OrderBookSettings(subscriptions={"ftx": ["BTC/USD"]})


async def test_a_quiet_book_is_served_stale_and_left_out_of_consolidated(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    synced(app, "binance")
    quiet = ScriptedBook("kraken")
    event = quiet.snapshot(BIDS, ASKS)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    books(app).manager.handle(dataclasses.replace(event, received_time=long_ago))
    r = await client.get("/v1/books/kraken/BTC-USDT")
    assert r.status_code == 200
    assert r.json()["stale"] is True
    assert r.json()["in_sync"] is True
    assert r.json()["age_ms"] >= 300_000
    body = (await client.get("/v1/consolidated/BTC-USDT")).json()
    venues = {v["exchange"]: v for v in body["exchanges"]}
    assert venues["kraken"]["excluded_because"] == "stale"
    assert body["bids"][0]["venues"] == {"binance": "1.0000"}


async def test_the_app_starts_with_no_subscriptions(token_issuer: TokenIssuer) -> None:
    # Nothing listens on port 1: with the default settings the app joined whatever Kafka ran at
    # the default port, with the default group and topics, and once hung a newcomer run 300 s.
    app = build_app(
        OrderBookSettings(
            connect_timeout_s=0.5,
            kafka_bootstrap_servers="127.0.0.1:1",
            database_url=SecretStr("postgresql://eip@127.0.0.1:1/eip"),
            **token_issuer.settings(),
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=token_issuer.headers()
        ) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/v1/books")).json() == {"books": []}
            assert (await client.get("/v1/subscriptions")).json() == {
                "subscriptions": {},
                "entries": [],
            }
