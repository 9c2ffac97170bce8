from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.config import ConfigError
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.market_data.app import build_app
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.testing.tokens import TokenIssuer

from .helpers import ScriptedAdapter, make_ticker, make_trade

pytestmark = pytest.mark.integration  # subscription changes are stored in PostgreSQL


class Adapters:
    def __init__(self) -> None:
        self.made: dict[str, ScriptedAdapter] = {}

    def __call__(self, exchange: str, settings: MarketDataSettings) -> MarketDataAdapter:
        if exchange not in {"binance", "kraken", "broken"}:
            raise ConfigError("market-data", [f"no market-data adapter for {exchange!r}"])
        adapter = ScriptedAdapter(exchange, fail_runs=10**6 if exchange == "broken" else 0)
        self.made[exchange] = adapter
        return adapter


@pytest.fixture
def adapters() -> Adapters:
    return Adapters()


@pytest_asyncio.fixture
async def app(
    adapters: Adapters,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    token_issuer: TokenIssuer,
) -> AsyncIterator[FastAPI]:
    settings = MarketDataSettings(
        subscriptions=[SubscriptionConfig(exchange="binance", symbol="BTC/USDT", channel="ticker")],
        candles_enabled=False,
        history_schema=db_schema,
        **token_issuer.settings(),
    )
    a = build_app(settings, adapters)
    # Only the live side runs: no Kafka here, records wait in the outbox; subscription changes
    # are stored through the test's pool.
    a.state.deps.db = db_pool
    async with a.state.live.running():
        await asyncio.wait_for(a.state.live.restored.wait(), 60)
        yield a


@pytest_asyncio.fixture
async def client(app: FastAPI, token_issuer: TokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=token_issuer.headers()
    ) as c:
        yield c


def live(app: FastAPI) -> LiveService:
    service: LiveService = app.state.live
    return service


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_configured_subscription_reaches_the_adapter(
    app: FastAPI, adapters: Adapters, client: httpx.AsyncClient
) -> None:
    assert adapters.made["binance"].subscribed == {("ticker", "BTC/USDT")}
    r = await client.get("/v1/subscriptions")
    assert r.json() == {
        "subscriptions": [
            {
                "exchange": "binance",
                "symbol": "BTC/USDT",
                "channel": "ticker",
                "origin": "config",
                "updated_at": None,
                "updated_by": None,
            }
        ],
        "pending": [],
    }


async def test_ticker_with_freshness(
    app: FastAPI, adapters: Adapters, client: httpx.AsyncClient
) -> None:
    adapters.made["binance"].queue.put_nowait(make_ticker("binance", "BTC/USDT", "100.5", "101"))
    await settle()
    r = await client.get("/v1/tickers/binance/BTC-USDT")
    assert r.status_code == 200
    body = r.json()
    assert (body["bid"], body["ask"], body["bid_size"]) == ("100.5", "101", "1.5")
    assert body["freshness"]["stale"] is False
    assert body["freshness"]["age_ms"] >= 0
    assert body["freshness"]["received_time"]
    listed = (await client.get("/v1/tickers", params={"symbol": "BTC/USDT"})).json()["tickers"]
    assert [t["exchange"] for t in listed] == ["binance"]
    assert (await client.get("/v1/tickers", params={"exchange": "kraken"})).json() == {
        "tickers": []
    }


async def test_bad_symbols_and_unknown_tickers_get_clear_4xx(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/tickers/binance/BTCUSDT")
    assert r.status_code == 422
    assert "BASE-QUOTE" in r.json()["error"]["message"]
    r = await client.get("/v1/tickers/binance/BTC-USDT")
    assert r.status_code == 404
    assert r.json()["error"]["details"] == {"subscribed": True}
    r = await client.get("/v1/tickers/kraken/ETH-USDT")
    assert r.status_code == 404
    assert "not subscribed" in r.json()["error"]["message"]


async def test_subscriptions_are_added_and_removed_at_runtime(
    adapters: Adapters, client: httpx.AsyncClient
) -> None:
    sub = {"exchange": "kraken", "symbol": "BTC/USDT", "channel": "trades"}
    r = await client.post("/v1/subscriptions", json=sub)
    assert r.status_code == 201
    assert adapters.made["kraken"].subscribed == {("trades", "BTC/USDT")}
    r = await client.post("/v1/subscriptions", json=sub)
    assert r.status_code == 200
    assert r.json()["changed"] is False
    r = await client.delete(
        "/v1/subscriptions",
        params={"exchange": "kraken", "symbol": "BTC-USDT", "channel": "trades"},
    )
    assert r.status_code == 200
    assert adapters.made["kraken"].subscribed == set()
    r = await client.delete(
        "/v1/subscriptions",
        params={"exchange": "kraken", "symbol": "BTC-USDT", "channel": "trades"},
    )
    assert r.status_code == 404


async def test_bad_subscriptions_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "nowhere", "symbol": "BTC/USDT", "channel": "trades"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unsupported_exchange"
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTCUSDT", "channel": "trades"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT", "channel": "book"}
    )
    assert r.status_code == 422
    listed = (await client.get("/v1/subscriptions")).json()["subscriptions"]
    assert [(s["exchange"], s["symbol"], s["channel"]) for s in listed] == [
        ("binance", "BTC/USDT", "ticker")
    ]


async def test_cross_exchange_price(adapters: Adapters, client: httpx.AsyncClient) -> None:
    await client.post(
        "/v1/subscriptions", json={"exchange": "kraken", "symbol": "BTC/USDT", "channel": "ticker"}
    )
    adapters.made["binance"].queue.put_nowait(make_ticker("binance", "BTC/USDT", "100", "102"))
    adapters.made["kraken"].queue.put_nowait(make_ticker("kraken", "BTC/USDT", "101", "103"))
    adapters.made["kraken"].queue.put_nowait(make_trade("kraken", "BTC/USDT", "102", "2"))
    await settle()
    r = await client.get("/v1/cross/BTC-USDT")
    assert r.status_code == 200
    body = r.json()
    assert body["best_bid"] == {"exchange": "kraken", "price": "101", "size": "1.5"}
    assert body["best_ask"]["exchange"] == "binance"
    assert body["vwap"] == "102"
    assert body["freshness"]["stale"] is False
    assert {c["exchange"] for c in body["contributions"]} == {"binance", "kraken"}
    assert (await client.get("/v1/cross/ETH-USDT")).status_code == 404


async def test_one_failing_exchange_leaves_the_others_flowing_and_shows_in_status(
    app: FastAPI, adapters: Adapters, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "broken", "symbol": "BTC/USDT", "channel": "ticker"}
    )
    assert r.status_code == 201
    await settle()
    adapters.made["binance"].queue.put_nowait(make_ticker("binance", "BTC/USDT", "100", "102"))
    await settle()
    assert (await client.get("/v1/tickers/binance/BTC-USDT")).status_code == 200
    status = {e["exchange"]: e for e in (await client.get("/v1/status")).json()["exchanges"]}
    assert status["broken"]["restarts"] >= 1
    assert status["broken"]["last_error"]["kind"] == "adapter"
    assert "unreachable" in status["broken"]["last_error"]["message"]
    assert status["broken"]["last_error"]["time"]
    assert status["binance"]["restarts"] == 0
    assert status["binance"]["rate_limit_headroom"] == 0.9


async def test_reads_need_market_read_and_changes_market_admin_recorded_by_subject(
    app: FastAPI, token_issuer: TokenIssuer
) -> None:
    sub = {"exchange": "kraken", "symbol": "ETH/USDT", "channel": "trades"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        r = await anonymous.post("/v1/subscriptions", json=sub)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert (await anonymous.get("/v1/subscriptions")).status_code == 401
        reader = token_issuer.headers(["market:read"], subject="svc-reader")
        assert (await anonymous.get("/v1/subscriptions", headers=reader)).status_code == 200
        r = await anonymous.post("/v1/subscriptions", json=sub, headers=reader)
        assert r.status_code == 403
        assert r.json()["error"]["details"] == {"missing": ["market:admin"]}
        r = await anonymous.delete(
            "/v1/subscriptions",
            params={"exchange": "binance", "symbol": "BTC-USDT", "channel": "ticker"},
            headers=reader,
        )
        assert r.status_code == 403
        admin = token_issuer.headers(["market:admin"], subject="svc-operator")
        assert (
            await anonymous.post("/v1/subscriptions", json=sub, headers=admin)
        ).status_code == 201
        listed = (await anonymous.get("/v1/subscriptions", headers=reader)).json()
    added = [s for s in listed["subscriptions"] if s["symbol"] == "ETH/USDT"]
    assert [(s["origin"], s["updated_by"]) for s in added] == [("runtime", "svc-operator")]
    # nothing the refused requests asked for was done
    assert ("binance", "BTC/USDT", "ticker") in {
        (s["exchange"], s["symbol"], s["channel"]) for s in listed["subscriptions"]
    }
