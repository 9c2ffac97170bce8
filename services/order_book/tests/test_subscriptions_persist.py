"""Subscription changes made over HTTP survive a restart: they are stored in PostgreSQL before
the answer and a fresh instance on the same schema starts its feeds with
(config + added) - removed. PostgreSQL out of reach (a TCP proxy cut for this test only)
answers 503 and changes nothing; a symbol the venue (the exchange simulator) does not list is
refused and not stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.config import ConfigError
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.book_feed import BookFeed
from eip.order_book.app import build_app
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.order_book.symbols import SymbolCheck
from eip.storage import open_pool
from eip.testing.proxy import TcpProxy, via_proxy
from eip.testing.tokens import TokenIssuer

from .helpers import ScriptedFeed

pytestmark = pytest.mark.integration

CONFIGURED = {"binance": ["BTC/USDT", "ETH/USDT"]}


class Feeds:
    """Scripted feeds; ``made`` holds the latest one per exchange (the instance's)."""

    def __init__(self) -> None:
        self.made: dict[str, ScriptedFeed] = {}

    def __call__(self, exchange: str, settings: OrderBookSettings) -> BookFeed:
        if exchange not in {"binance", "kraken"}:
            raise ConfigError("order-book", [f"no book feed for exchange {exchange!r}"])
        feed = ScriptedFeed(exchange, symbols=settings.subscriptions.get(exchange, []))
        self.made[exchange] = feed
        return feed


async def any_symbol(exchange: str, symbol: str) -> None:
    return None


@asynccontextmanager
async def instance(
    issuer: TokenIssuer,
    pool: AsyncConnectionPool[AsyncConnection],
    schema: str,
    feeds: Feeds,
    symbol_check: SymbolCheck | None = any_symbol,
    principal: str | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """One service instance whose books run on ``pool`` (what the runtime would open), called
    with a token of ``issuer`` for ``principal``; ``symbol_check=None`` checks symbols against
    the venues' own metadata."""
    settings.setdefault("subscriptions", CONFIGURED)
    app = build_app(
        OrderBookSettings(
            subscriptions_schema=schema, connect_timeout_s=2.0, **issuer.settings(), **settings
        ),
        feeds,
        symbol_check=symbol_check,
    )
    app.state.deps.db = pool

    service: OrderBookService = app.state.books
    async with service.running():
        await asyncio.wait_for(service.restored.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        headers = issuer.headers(subject=principal or "test-client")
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


async def entries(client: httpx.AsyncClient) -> dict[tuple[str, str], str]:
    r = await client.get("/v1/subscriptions")
    assert r.status_code == 200
    return {(e["exchange"], e["symbol"]): e["origin"] for e in r.json()["entries"]}


async def stored(pool: AsyncConnectionPool[AsyncConnection], schema: str) -> dict[str, str]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT key, action FROM {}").format(
                sql.Identifier(schema, "subscription_changes")
            )
        )
        return {str(k): str(a) for k, a in await cursor.fetchall()}


async def test_a_fresh_instance_starts_with_config_plus_added_minus_removed(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    token_issuer: TokenIssuer,
) -> None:
    async with instance(token_issuer, db_pool, db_schema, Feeds()) as client:
        r = await client.post("/v1/subscriptions", json={"exchange": "kraken", "symbol": "BTC/USD"})
        assert r.status_code == 202
        assert (await client.delete("/v1/subscriptions/binance/ETH-USDT")).status_code == 204
        assert await entries(client) == {
            ("binance", "BTC/USDT"): "config",
            ("kraken", "BTC/USD"): "runtime",
        }
    assert await stored(db_pool, db_schema) == {
        "kraken|BTC/USD": "add",
        "binance|ETH/USDT": "remove",
    }

    second = Feeds()  # the restarted pod: same config, same schema
    async with instance(token_issuer, db_pool, db_schema, second) as client:
        assert await entries(client) == {
            ("binance", "BTC/USDT"): "config",
            ("kraken", "BTC/USD"): "runtime",
        }
        # the feeds were built with the effective symbols, not the configured ones
        assert second.made["binance"].symbols == {"BTC/USDT"}
        assert second.made["kraken"].symbols == {"BTC/USD"}

        # a later change to the same key wins: the removed one is added back
        r = await client.post(
            "/v1/subscriptions", json={"exchange": "binance", "symbol": "ETH/USDT"}
        )
        assert r.status_code == 202

    third = Feeds()
    async with instance(token_issuer, db_pool, db_schema, third) as client:
        assert await entries(client) == {
            ("binance", "BTC/USDT"): "config",
            ("binance", "ETH/USDT"): "runtime",
            ("kraken", "BTC/USD"): "runtime",
        }
        assert third.made["binance"].symbols == {"BTC/USDT", "ETH/USDT"}


async def test_the_caller_and_the_time_of_a_change_are_kept(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    token_issuer: TokenIssuer,
) -> None:
    async with instance(token_issuer, db_pool, db_schema, Feeds(), principal="ops-alice") as client:
        before = datetime.now(UTC)
        r = await client.post("/v1/subscriptions", json={"exchange": "kraken", "symbol": "BTC/USD"})
        assert r.status_code == 202
    async with instance(token_issuer, db_pool, db_schema, Feeds()) as client:
        r = await client.get("/v1/subscriptions")
        [entry] = [e for e in r.json()["entries"] if e["exchange"] == "kraken"]
        assert entry["updated_by"] == "ops-alice"
        assert datetime.fromisoformat(entry["updated_at"]) >= before - timedelta(seconds=5)


async def test_postgresql_out_of_reach_answers_503_and_changes_nothing(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    database_url: str,
    token_issuer: TokenIssuer,
) -> None:
    url = urlsplit(database_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    pool = await open_pool(via_proxy(database_url, proxy), max_size=2, timeout_s=2.0)
    feeds = Feeds()
    try:
        async with instance(token_issuer, pool, db_schema, feeds) as client:
            await proxy.stop()  # the outage

            r = await client.post(
                "/v1/subscriptions", json={"exchange": "kraken", "symbol": "BTC/USD"}
            )
            assert r.status_code == 503
            body = r.json()["error"]
            assert body["code"] == "database_unavailable"
            assert "not made" in body["message"]
            assert feeds.made["kraken"].symbols == set()
            # and no feed left running for the exchange the refused change would have added
            subscriptions = (await client.get("/v1/subscriptions")).json()["subscriptions"]
            assert "kraken" not in subscriptions

            r = await client.delete("/v1/subscriptions/binance/ETH-USDT")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "database_unavailable"
            assert feeds.made["binance"].symbols == {"BTC/USDT", "ETH/USDT"}
            assert await entries(client) == {
                ("binance", "BTC/USDT"): "config",
                ("binance", "ETH/USDT"): "config",
            }
    finally:
        await pool.close()
        await proxy.stop()
    assert await stored(db_pool, db_schema) == {}


async def test_a_symbol_the_venue_does_not_list_is_refused_and_not_stored(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    clean_simulator: SimulatorClient,
    token_issuer: TokenIssuer,
) -> None:
    feeds = Feeds()
    async with instance(
        token_issuer,
        db_pool,
        db_schema,
        feeds,
        symbol_check=None,  # the venue's own metadata: the simulator's exchangeInfo
        subscriptions={},
        exchange_urls={"binance": clean_simulator.base_url},
    ) as client:
        r = await client.post(
            "/v1/subscriptions", json={"exchange": "binance", "symbol": "NOPE/USDT"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "unknown_symbol"
        assert r.json()["error"]["details"] == {"exchange": "binance", "symbol": "NOPE/USDT"}
        assert feeds.made["binance"].symbols == set()
        # the refused symbol's exchange had no feed yet: none is left running for it
        assert (await client.get("/v1/subscriptions")).json()["subscriptions"] == {}
        r = await client.post(
            "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT"}
        )
        assert r.status_code == 202
        assert await entries(client) == {("binance", "BTC/USDT"): "runtime"}
    assert await stored(db_pool, db_schema) == {"binance|BTC/USDT": "add"}
