"""A symbol a venue does not list, or no symbol at all, is refused with 422 before anything is
stored, on every venue the simulator speaks; the probe's ``0/0`` on Coinbase answered 500 and
was stored anyway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.exchange_simulator.client import SimulatorClient
from eip.order_book.app import build_app
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.testing.tokens import TokenIssuer

pytestmark = pytest.mark.integration

VENUES = ("binance", "kraken", "coinbase")  # the simulator's dialects


@pytest_asyncio.fixture
async def client(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    clean_simulator: SimulatorClient,
    token_issuer: TokenIssuer,
) -> AsyncIterator[httpx.AsyncClient]:
    """The service with its real feeds and symbol checks, every venue on the simulator."""
    app = build_app(
        OrderBookSettings(
            subscriptions_schema=db_schema,
            exchange_urls=dict.fromkeys(VENUES, clean_simulator.base_url),
            connect_timeout_s=2.0,
            **token_issuer.settings(),
        )
    )
    app.state.deps.db = db_pool
    service: OrderBookService = app.state.books
    async with service.running():
        await asyncio.wait_for(service.restored.wait(), 60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers=token_issuer.headers(["books:read", "books:admin"]),
        ) as http:
            yield http


async def stored(pool: AsyncConnectionPool[AsyncConnection], schema: str) -> list[str]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT key FROM {}").format(sql.Identifier(schema, "subscription_changes"))
        )
        return [str(k) for (k,) in await cursor.fetchall()]


@pytest.mark.parametrize("venue", VENUES)
async def test_a_symbol_the_venue_does_not_list_is_refused_and_nothing_is_stored(
    venue: str,
    client: httpx.AsyncClient,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
) -> None:
    for symbol in ("0/0", "NOPE/USDT"):
        r = await client.post("/v1/subscriptions", json={"exchange": venue, "symbol": symbol})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "unknown_symbol"
        path_symbol = symbol.replace("/", "-")
        r = await client.delete(f"/v1/subscriptions/{venue}/{path_symbol}")
        assert r.status_code == 404, r.text
    assert (await client.get("/v1/subscriptions")).json()["subscriptions"] == {}
    assert await stored(db_pool, db_schema) == []
    # the venue's real symbol is taken, and removed again
    r = await client.post("/v1/subscriptions", json={"exchange": venue, "symbol": "BTC/USDT"})
    assert r.status_code == 202, r.text
    r = await client.delete(f"/v1/subscriptions/{venue}/BTC-USDT")
    assert r.status_code == 204


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    venue=st.sampled_from(VENUES),
    symbol=st.one_of(
        st.text(max_size=50),
        st.builds("{}/{}".format, st.text(max_size=8), st.text(max_size=8)),
    ),
)
async def test_malformed_symbols_are_always_a_4xx_and_never_stored(
    venue: str,
    symbol: str,
    client: httpx.AsyncClient,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
) -> None:
    if symbol in ("BTC/USDT", "ETH/USDT", "BTC/USD"):
        return  # listed: a valid change, not this property's business
    r = await client.post("/v1/subscriptions", json={"exchange": venue, "symbol": symbol})
    assert r.status_code == 422, (symbol, r.text)
    assert await stored(db_pool, db_schema) == []
