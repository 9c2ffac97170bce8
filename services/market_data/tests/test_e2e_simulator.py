"""End to end against the exchange simulator, real Kafka and real PostgreSQL: a subscription
added over HTTP flows to md.trades.v1, to candles on md.candles.v1, to PostgreSQL and to the
candles endpoint; a dropped stream recovers by itself; a dead exchange leaves the others
flowing and shows in status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from eip.events.topics import MD_CANDLES, MD_TICKERS, MD_TRADES, TopicSpec
from eip.events.v1 import market_data_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.binance.market_data import BinanceMarketDataAdapter
from eip.market_data.app import build_app
from eip.market_data.candles.builder import interval_start
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import trade_from_message
from eip.testing.plugin import TopicFactory
from eip.testing.simulator import free_port
from eip.testing.tokens import TokenIssuer
from eip.testing.topics import read_topic

pytestmark = pytest.mark.integration


async def until(condition: Callable[[], Any], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await _call(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def _call(condition: Callable[[], Any]) -> Any:
    result = condition()
    return await result if asyncio.iscoroutine(result) else result


@pytest_asyncio.fixture
async def service(
    clean_simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    token_issuer: TokenIssuer,
    make_topic: TopicFactory,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, dict[str, TopicSpec]]]:
    topics = {
        "trades": await make_topic(MD_TRADES),
        "tickers": await make_topic(MD_TICKERS),
        "candles": await make_topic(MD_CANDLES),
    }
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        history_schema=db_schema,
        exchange_urls={
            "binance": clean_simulator.base_url,
            "kraken": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        },
        candle_update_interval_s=0.5,
        candle_close_grace_s=1.0,
        stale_after_s=5.0,
        candles_group_id=f"test-{topics['trades'].name}",
        **token_issuer.settings(),
    )
    app = build_app(
        settings,
        trades_topic=topics["trades"],
        tickers_topic=topics["tickers"],
        candles_topic=topics["candles"],
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=token_issuer.headers()
        ) as client:
            yield app, client, topics


async def test_subscription_flows_to_topic_candles_storage_and_api_and_survives_faults(
    service: tuple[FastAPI, httpx.AsyncClient, dict[str, TopicSpec]],
    clean_simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
) -> None:
    app, client, topics = service
    live: LiveService = app.state.live
    await until(lambda: app.state.candles.ready.is_set(), 60, "the candle stage")
    await until(lambda: app.state.history.ready.is_set(), 60, "the history store")

    r = await client.post(
        "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT", "channel": "trades"}
    )
    assert r.status_code == 201
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "binance", "symbol": "BTC/USDT", "channel": "ticker"}
    )
    assert r.status_code == 201
    await until(lambda: live.adapters["binance"].status().connected, 30, "binance connected")
    await until(lambda: ("binance", "BTC/USDT") in live.tickers, 30, "a ticker")
    r = await client.get("/v1/tickers/binance/BTC-USDT")
    assert r.status_code == 200
    assert Decimal(r.json()["bid"]) < Decimal(r.json()["ask"])
    assert r.json()["freshness"]["stale"] is False
    await clean_simulator.print_trades("BTCUSDT", 3, "50000.5", "0.125")
    await until(lambda: ("binance", "BTC/USDT") in live.last_trades, 30, "a trade")

    # An exchange that cannot be reached: the others keep flowing, status shows it.
    r = await client.post(
        "/v1/subscriptions", json={"exchange": "kraken", "symbol": "BTC/USD", "channel": "trades"}
    )
    assert r.status_code == 202  # kept, retried in the background
    assert r.json()["pending"] is True

    # A dropped stream recovers by itself.
    binance = live.adapters["binance"]
    assert isinstance(binance, BinanceMarketDataAdapter)
    before, connections = binance.status().errors, binance.stream.connections
    dropped = await clean_simulator.drop_streams()
    assert dropped >= 1
    # Trades made before the drop may still be in flight on the old connection and arrive
    # while it is torn down; only a trade newer than the drop proves the new connection works.
    async with httpx.AsyncClient(base_url=clean_simulator.base_url) as venue:
        tape = (await venue.get("/api/v3/trades", params={"symbol": "BTCUSDT", "limit": 1})).json()
    last_before_drop = int(tape[-1]["id"])
    await until(
        lambda: binance.stream.connections > connections and binance.status().connected,
        30,
        "binance reconnected",
    )
    await clean_simulator.print_trades("BTCUSDT", 2, "50001.5", "0.25")
    await until(
        lambda: int(live.last_trades[("binance", "BTC/USDT")].trade_id) > last_before_drop,
        30,
        "a trade made after the drop",
    )
    status = {e["exchange"]: e for e in (await client.get("/v1/status")).json()["exchanges"]}
    assert status["binance"]["connected"] is True
    assert status["binance"]["errors"] > before  # the disconnect was seen
    assert status["kraken"]["connected"] is False
    assert status["kraken"]["last_error"]["kind"] == "subscribe"
    assert "ExchangeNotAvailable" in status["kraken"]["last_error"]["message"]

    # Wait until a whole minute of trades has closed and been stored.
    first_minute = interval_start(datetime.now(UTC), "1m")
    start = first_minute - timedelta(minutes=1)

    async def stored_closed() -> list[dict[str, Any]]:
        r = await client.get(
            "/v1/candles",
            params={
                "exchange": "binance",
                "symbol": "BTC-USDT",
                "timeframe": "1m",
                "start": start.isoformat(),
                "end": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["freshness"]
        seen_open.extend(c for c in body["candles"] if not c["closed"])
        return [c for c in body["candles"] if c["closed"]]

    async def stored_closed_and_open() -> list[dict[str, Any]]:
        # The minute before this one may have closed before the first look; the in-progress
        # one is only proved served once a look has also seen an open candle.
        closed = await stored_closed()
        return closed if seen_open else []

    seen_open: list[dict[str, Any]] = []
    await until(stored_closed_and_open, 100, "a closed and an open 1m candle in storage")
    assert seen_open, "the in-progress candle was never served"  # stored live, marked open
    closed = await stored_closed()
    trades = [
        trade_from_message(m) for m in await read_topic(kafka_bootstrap_servers, topics["trades"])
    ]
    for candle in closed:
        opened = datetime.fromisoformat(candle["open_time"])
        ts = [
            t for t in trades if interval_start(t.exchange_time or t.received_time, "1m") == opened
        ]
        assert ts, "a stored candle without trades on the topic"
        assert Decimal(candle["open"]) == ts[0].price
        assert Decimal(candle["high"]) == max(t.price for t in ts)
        assert Decimal(candle["low"]) == min(t.price for t in ts)
        assert Decimal(candle["close"]) == ts[-1].price
        assert Decimal(candle["base_volume"]) == sum((t.amount for t in ts), Decimal(0))
        assert candle["trade_count"] == len(ts)
    cross = (await client.get("/v1/cross/BTC-USDT")).json()
    assert cross["best_bid"]["exchange"] == "binance"
    assert [c["exchange"] for c in cross["contributions"]] == ["binance"]
    tickers = await read_topic(kafka_bootstrap_servers, topics["tickers"])
    assert tickers
    assert all(t.instrument.symbol == "BTC/USDT" for t in tickers)
    candles: list[market_data_pb2.Candle] = await read_topic(
        kafka_bootstrap_servers, topics["candles"]
    )
    closed_on_topic = [(c.timeframe, c.open_time.seconds) for c in candles if c.closed]
    assert len(closed_on_topic) == len(set(closed_on_topic))  # each closed once
    assert any(not c.closed for c in candles)
