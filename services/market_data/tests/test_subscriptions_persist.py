"""Subscription changes made over HTTP survive a restart: they are stored in PostgreSQL before
the answer and a fresh instance on the same schema starts with (config + added) - removed.
PostgreSQL out of reach (a TCP proxy cut for this test only) answers 503 and changes nothing;
a symbol the venue refuses (the exchange simulator) is not stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.config import ConfigError
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.market_data.app import build_app
from eip.market_data.live.adapters import create_adapter
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.market_data.storage import MIGRATIONS
from eip.storage import DatabaseUnavailable, open_pool
from eip.storage.subscriptions import SubscriptionChanges
from eip.testing.proxy import TcpProxy, via_proxy
from eip.testing.tokens import TokenIssuer

from .helpers import ScriptedAdapter

pytestmark = pytest.mark.integration

BTC_TICKER = {"exchange": "binance", "symbol": "BTC/USDT", "channel": "ticker"}
ETH_TRADES = {"exchange": "binance", "symbol": "ETH/USDT", "channel": "trades"}
KRAKEN_TRADES = {"exchange": "kraken", "symbol": "BTC/USDT", "channel": "trades"}
UNKNOWN = frozenset({"NOPE/USDT"})


class Adapters:
    """Scripted adapters; ``made`` holds the latest one per exchange (the instance's)."""

    def __init__(self) -> None:
        self.made: dict[str, ScriptedAdapter] = {}
        self.unreachable: set[str] = set()

    def __call__(self, exchange: str, settings: MarketDataSettings) -> MarketDataAdapter:
        if exchange not in {"binance", "kraken"}:
            raise ConfigError("market-data", [f"no market-data adapter for {exchange!r}"])
        adapter = ScriptedAdapter(exchange, unknown=UNKNOWN)
        adapter.unreachable = exchange in self.unreachable
        self.made[exchange] = adapter
        return adapter


def settings(schema: str, **overrides: Any) -> MarketDataSettings:
    return MarketDataSettings(
        subscriptions=[SubscriptionConfig.model_validate(s) for s in (BTC_TICKER, ETH_TRADES)],
        candles_enabled=False,
        history_schema=schema,
        connect_timeout_s=2.0,
        **overrides,
    )


@asynccontextmanager
async def instance(
    issuer: TokenIssuer,
    s: MarketDataSettings,
    pool: AsyncConnectionPool[AsyncConnection],
    factory: Callable[[str, MarketDataSettings], MarketDataAdapter],
) -> AsyncIterator[httpx.AsyncClient]:
    """One service instance: its live side on ``pool`` (what the runtime would open), called
    with a token of ``issuer``."""
    app = build_app(s.model_copy(update=issuer.settings()), factory)
    app.state.deps.db = pool
    async with app.state.live.running():
        await asyncio.wait_for(app.state.live.restored.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=issuer.headers()
        ) as client:
            yield client


async def listed(client: httpx.AsyncClient) -> dict[tuple[str, str, str], dict[str, Any]]:
    r = await client.get("/v1/subscriptions")
    assert r.status_code == 200
    return {(s["exchange"], s["symbol"], s["channel"]): s for s in r.json()["subscriptions"]}


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
    first = Adapters()
    async with instance(token_issuer, settings(db_schema), db_pool, first) as client:
        r = await client.post("/v1/subscriptions", json=KRAKEN_TRADES)
        assert r.status_code == 201
        r = await client.delete(
            "/v1/subscriptions",
            params={"exchange": "binance", "symbol": "ETH-USDT", "channel": "trades"},
        )
        assert r.status_code == 200
        subs = await listed(client)
        assert set(subs) == {("binance", "BTC/USDT", "ticker"), ("kraken", "BTC/USDT", "trades")}
        assert subs[("kraken", "BTC/USDT", "trades")]["origin"] == "runtime"
        assert subs[("kraken", "BTC/USDT", "trades")]["updated_at"] is not None
        assert subs[("binance", "BTC/USDT", "ticker")]["origin"] == "config"
    assert await stored(db_pool, db_schema) == {
        "kraken|BTC/USDT|trades": "add",
        "binance|ETH/USDT|trades": "remove",
    }

    second = Adapters()  # the restarted pod: same config, same schema
    async with instance(token_issuer, settings(db_schema), db_pool, second) as client:
        subs = await listed(client)
        assert set(subs) == {("binance", "BTC/USDT", "ticker"), ("kraken", "BTC/USDT", "trades")}
        assert subs[("kraken", "BTC/USDT", "trades")]["origin"] == "runtime"
        assert subs[("binance", "BTC/USDT", "ticker")]["origin"] == "config"
        # what the venues were asked for, not only what the API lists
        assert second.made["binance"].subscribed == {("ticker", "BTC/USDT")}
        assert second.made["kraken"].subscribed == {("trades", "BTC/USDT")}

        # a later change to the same key wins: the removed one is added back
        r = await client.post("/v1/subscriptions", json=ETH_TRADES)
        assert r.status_code == 201
        assert (await listed(client))[("binance", "ETH/USDT", "trades")]["origin"] == "runtime"

    third = Adapters()
    async with instance(token_issuer, settings(db_schema), db_pool, third) as client:
        assert set(await listed(client)) == {
            ("binance", "BTC/USDT", "ticker"),
            ("binance", "ETH/USDT", "trades"),
            ("kraken", "BTC/USDT", "trades"),
        }
        assert third.made["binance"].subscribed == {("ticker", "BTC/USDT"), ("trades", "ETH/USDT")}


async def test_a_pending_subscription_is_stored_as_configuration(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    token_issuer: TokenIssuer,
) -> None:
    adapters = Adapters()
    adapters.unreachable.add("kraken")
    async with instance(token_issuer, settings(db_schema), db_pool, adapters) as client:
        r = await client.post("/v1/subscriptions", json=KRAKEN_TRADES)
        assert r.status_code == 202
        assert r.json()["pending"] is True
    assert await stored(db_pool, db_schema) == {"kraken|BTC/USDT|trades": "add"}


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
    adapters = Adapters()
    try:
        async with instance(token_issuer, settings(db_schema), pool, adapters) as client:
            await proxy.stop()  # the outage

            r = await client.post("/v1/subscriptions", json=KRAKEN_TRADES)
            assert r.status_code == 503
            body = r.json()["error"]
            assert body["code"] == "database_unavailable"
            assert "not made" in body["message"]
            assert "kraken" not in adapters.made or adapters.made["kraken"].subscribed == set()

            r = await client.delete(
                "/v1/subscriptions",
                params={"exchange": "binance", "symbol": "BTC-USDT", "channel": "ticker"},
            )
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "database_unavailable"
            assert adapters.made["binance"].subscribed == {
                ("ticker", "BTC/USDT"),
                ("trades", "ETH/USDT"),
            }
            assert set(await listed(client)) == {
                ("binance", "BTC/USDT", "ticker"),
                ("binance", "ETH/USDT", "trades"),
            }
    finally:
        await pool.close()
        await proxy.stop()
    assert await stored(db_pool, db_schema) == {}


async def test_a_symbol_the_venue_refuses_is_not_stored(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    clean_simulator: SimulatorClient,
    token_issuer: TokenIssuer,
) -> None:
    s = settings(db_schema, exchange_urls={"binance": clean_simulator.base_url})
    s = s.model_copy(update={"subscriptions": []})
    async with instance(token_issuer, s, db_pool, create_adapter) as client:
        r = await client.post(
            "/v1/subscriptions",
            json={"exchange": "binance", "symbol": "NOPE/USDT", "channel": "trades"},
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "unknown_symbol"
        assert "NOPE/USDT" in r.json()["error"]["message"]
        r = await client.post("/v1/subscriptions", json=BTC_TICKER)
        assert r.status_code == 201
        assert set(await listed(client)) == {("binance", "BTC/USDT", "ticker")}
    assert await stored(db_pool, db_schema) == {"binance|BTC/USDT|ticker": "add"}


async def test_configured_subscriptions_start_alone_while_postgresql_is_out_of_reach(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> None:
    s = settings(db_schema)
    changes = SubscriptionChanges(lambda: db_pool, db_schema, MIGRATIONS, 2.0)
    await changes.load()  # creates the table
    await changes.record("binance|ETH/USDT|trades", ETH_TRADES, "remove", None)

    reachable: list[AsyncConnectionPool[AsyncConnection]] = []  # empty: not connected yet
    adapters = Adapters()
    live = LiveService(
        s,
        lambda: None,
        adapters,
        changes=SubscriptionChanges(
            lambda: reachable[0] if reachable else None, db_schema, MIGRATIONS
        ),
        restore_wait_s=0.2,
    )
    async with live.running():
        await until(
            lambda: "binance" in adapters.made and len(adapters.made["binance"].subscribed) == 2
        )
        assert adapters.made["binance"].subscribed == {
            ("ticker", "BTC/USDT"),
            ("trades", "ETH/USDT"),
        }
        assert not live.restored.is_set()
        with pytest.raises(DatabaseUnavailable):
            await live.add(SubscriptionConfig.model_validate(KRAKEN_TRADES), None)

        reachable.append(db_pool)  # PostgreSQL is back: the stored removal is applied
        await asyncio.wait_for(live.restored.wait(), 60)
        assert adapters.made["binance"].subscribed == {("ticker", "BTC/USDT")}
        assert [(x.exchange, x.symbol, x.channel) for x in live.subscriptions()] == [
            ("binance", "BTC/USDT", "ticker")
        ]


async def until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
