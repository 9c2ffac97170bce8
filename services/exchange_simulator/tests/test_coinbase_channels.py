"""The Coinbase WebSocket channels beyond ``level2``, on the wire: ``ticker``, ``ticker_batch``,
``market_trades``, ``candles``, ``status`` and the authenticated ``user`` channel — shapes, one
``sequence_num`` per connection across all of them, and faults."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
import websockets

from eip.exchange_simulator.client import SimulatorClient

from .coinbase_helpers import API, coinbase_http, coinbase_jwt, new_coinbase_trader
from .test_coinbase_level2 import Feed, coinbase
from .test_faults import drain

D = Decimal


async def next_on(feed: Feed, channel: str, timeout_s: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            message = await feed.recv()
            if message.get("channel") == channel or message.get("type") == "error":
                return message


async def test_public_channels_start_with_a_snapshot_and_share_one_sequence(
    clean_simulator: SimulatorClient,
) -> None:
    channels = ("ticker", "market_trades", "candles", "status")
    seen: dict[str, list[dict[str, Any]]] = {}
    async with coinbase(clean_simulator) as feed:
        for channel in channels:
            await feed.send({"type": "subscribe", "product_ids": ["ETH-USDT"], "channel": channel})
        async with asyncio.timeout(15):
            while any(len(seen.get(c, ())) < 2 for c in channels[:3]) or "status" not in seen:
                message = await feed.recv()
                seen.setdefault(message["channel"], []).extend(message["events"])
    snapshots = {channel: seen[channel][0] for channel in channels}
    ticker_update, trades_update, candle_update = (seen[c][1] for c in channels[:3])
    subscriptions = seen["subscriptions"][-1]["subscriptions"]
    assert {e["type"] for e in snapshots.values()} == {"snapshot"}
    (ticker,) = snapshots["ticker"]["tickers"]
    assert ticker["type"] == "ticker"
    assert ticker["product_id"] == "ETH-USDT"
    assert D(ticker["best_bid"]) < D(ticker["best_ask"])
    assert D(ticker["low_24_h"]) <= D(ticker["price"]) <= D(ticker["high_24_h"])
    assert D(ticker["low_52_w"]) <= D(ticker["low_24_h"])
    assert set(ticker) >= {"volume_24_h", "price_percent_chg_24_h", "best_bid_quantity"}
    trades = snapshots["market_trades"]["trades"]
    assert trades
    assert [t["time"] for t in trades] == sorted((t["time"] for t in trades), reverse=True)
    assert set(trades[0]) == {"trade_id", "product_id", "price", "size", "time", "side"}
    (candle,) = snapshots["candles"]["candles"]
    assert int(candle["start"]) % 300 == 0  # five-minute buckets
    assert D(candle["low"]) <= D(candle["close"]) <= D(candle["high"])
    (product,) = snapshots["status"]["products"]
    assert (product["id"], product["status"], product["base_increment"]) == (
        "ETH-USDT",
        "online",
        "0.0001",
    )
    assert ticker_update["type"] == trades_update["type"] == candle_update["type"] == "update"
    assert trades_update["trades"][0]["product_id"] == "ETH-USDT"
    assert subscriptions == {
        "ticker": ["ETH-USDT"],
        "market_trades": ["ETH-USDT"],
        "candles": ["ETH-USDT"],
        "status": ["ETH-USDT"],
    }
    assert feed.sequence == list(range(len(feed.sequence)))


async def _keep_trading(sim: SimulatorClient, symbol: str) -> None:
    """A print every half second: a batch carries only products that traded since the last one,
    and the generated market may leave BTC quiet for longer than a batch."""
    best_bid = (await sim.book(symbol, limit=1))["bids"][0][0]
    while True:
        await sim.print_trades(symbol, 1, str(best_bid), "0.001")
        await asyncio.sleep(0.5)


async def test_ticker_batch_comes_every_five_seconds(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator) as feed, asyncio.TaskGroup() as tasks:
        await feed.send(
            {"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "ticker_batch"}
        )
        snapshot = await next_on(feed, "ticker_batch")
        trading = tasks.create_task(_keep_trading(clean_simulator, "BTCUSDT"))
        first = await next_on(feed, "ticker_batch", timeout_s=8)
        started = time.monotonic()
        second = await next_on(feed, "ticker_batch", timeout_s=8)
        gap = time.monotonic() - started
        trading.cancel()
    assert snapshot["events"][0]["type"] == "snapshot"
    assert first["events"][0]["type"] == second["events"][0]["type"] == "update"
    assert first["events"][0]["tickers"][0]["product_id"] == "BTC-USDT"
    assert 3.5 < gap < 6.5


async def test_the_user_channel_needs_a_valid_jwt(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase(clean_simulator) as feed:
        await feed.send({"type": "subscribe", "product_ids": [], "channel": "user"})
        missing = await feed.recv()
        expired = coinbase_jwt(key, None, now=time.time() - 600)
        await feed.send({"type": "subscribe", "channel": "user", "jwt": expired})
        stale = await feed.recv()
        await feed.send({"type": "subscribe", "channel": "user", "jwt": "x.y.z"})
        garbage = await feed.recv()
        token = coinbase_jwt(key, None)
        await feed.send({"type": "subscribe", "channel": "user", "jwt": token})
        snapshot = await next_on(feed, "user")
        await next_on(feed, "subscriptions")
        await feed.send({"type": "subscribe", "channel": "heartbeats", "jwt": token})  # reusable
        acked = await next_on(feed, "subscriptions")
    expected = {"type": "error", "message": "authentication failure"}
    assert missing == stale == garbage == expected
    assert snapshot["events"] == [
        {
            "type": "snapshot",
            "orders": [],
            "positions": {"perpetual_futures_positions": [], "expiring_futures_positions": []},
        }
    ]
    assert acked["events"][0]["subscriptions"] == {"user": [], "heartbeats": ["heartbeats"]}


async def test_the_user_channel_follows_the_accounts_orders(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb, coinbase(clean_simulator) as feed:
        resting = await cb.limit_order("BUY", "0.01", "30000")
        await feed.send(
            {
                "type": "subscribe",
                "product_ids": ["BTC-USDT"],
                "channel": "user",
                "jwt": coinbase_jwt(key, None),
            }
        )
        snapshot = (await next_on(feed, "user"))["events"][0]
        await cb.limit_order("BUY", "0.1", "1000", product="ETH-USDT")  # not subscribed
        sold = await cb.post(
            f"{API}/orders",
            {
                "client_order_id": "sell-1",
                "product_id": "BTC-USDT",
                "side": "SELL",
                "order_configuration": {"market_market_ioc": {"base_size": "0.02"}},
            },
        )
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not seen or seen[-1]["status"] != "FILLED":
                message = await next_on(feed, "user")
                assert message["events"][0]["type"] == "update"
                seen += message["events"][0]["orders"]
    (snapshot_order,) = snapshot["orders"]
    assert snapshot_order["order_id"] == resting["order_id"]
    assert (snapshot_order["status"], snapshot_order["leaves_quantity"]) == ("OPEN", "0.01000")
    assert snapshot_order["order_type"] == "Limit"
    assert snapshot_order["limit_price"] == "30000.00"
    assert {o["product_id"] for o in seen} == {"BTC-USDT"}
    assert {o["order_id"] for o in seen} == {sold["order_id"]}
    assert seen[0]["status"] == "OPEN"
    assert seen[0]["cumulative_quantity"] == "0.00000"
    final = seen[-1]
    assert final["client_order_id"] == "sell-1"
    assert (final["order_side"], final["order_type"]) == ("SELL", "Market")
    assert (final["cumulative_quantity"], final["leaves_quantity"]) == ("0.02000", "0.00000")
    assert D(final["avg_price"]) > 0
    assert D(final["total_fees"]) > 0
    assert int(final["number_of_fills"]) == len(seen) - 1
    assert D(final["filled_value"]) == (D(final["avg_price"]) * D("0.02")).quantize(D("1e-8"))
    assert feed.gaps() == []


async def test_a_user_snapshot_comes_in_chunks_of_fifty(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb, coinbase(clean_simulator) as feed:
        for n in range(51):
            await cb.limit_order("BUY", "0.01", str(1000 + n), product="ETH-USDT")
        await feed.send({"type": "subscribe", "channel": "user", "jwt": coinbase_jwt(key, None)})
        first = (await next_on(feed, "user"))["events"][0]
        second = (await next_on(feed, "user"))["events"][0]
    assert (first["type"], len(first["orders"])) == ("snapshot", 50)
    assert (second["type"], len(second["orders"])) == ("snapshot", 1)


async def test_dropping_user_streams_closes_only_them(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim)
    async with coinbase(sim) as user, coinbase(sim) as public:
        await user.send({"type": "subscribe", "channel": "user", "jwt": coinbase_jwt(key, None)})
        await public.send({"type": "subscribe", "channel": "heartbeats"})
        await next_on(user, "subscriptions")
        await next_on(public, "subscriptions")
        assert await sim.drop_streams("user") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await drain(user.ws)
        assert (await next_on(public, "heartbeats"))["channel"] == "heartbeats"


async def test_a_stall_holds_every_channel(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with coinbase(sim) as feed:
        await feed.send({"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "ticker"})
        await next_on(feed, "ticker")
        await sim.stall_streams(1.5)
        started = time.monotonic()
        await next_on(feed, "ticker")
        held = time.monotonic() - started
    assert held > 1.0
    assert feed.gaps() == []
