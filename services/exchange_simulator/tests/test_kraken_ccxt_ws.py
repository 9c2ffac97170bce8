"""Unmodified ccxt.pro kraken over the simulator's WebSocket v2, public and authenticated."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt
import pytest

from eip.exchange_simulator.client import SimulatorClient

from .kraken_client import kraken_trader
from .test_kraken_ccxt import kraken, resting_buy_price


async def test_public_channels(clean_simulator: SimulatorClient) -> None:
    async with kraken(clean_simulator, pro=True) as ex:
        book = await ex.watch_order_book("BTC/USD")
        assert book["bids"][0][0] < book["asks"][0][0]
        ticker = await ex.watch_ticker("BTC/USD")
        assert ticker["symbol"] == "BTC/USD"
        assert 0 < ticker["bid"] < ticker["ask"]
        assert ticker["last"] > 0
        trades = await ex.watch_trades("ETH/USDT")
        assert trades
        assert all(t["symbol"] == "ETH/USDT" and t["amount"] > 0 for t in trades)
        assert trades[-1]["side"] in ("buy", "sell")
        candles = await ex.watch_ohlcv("BTC/USD", "1m")
        opened, o, h, lo, c, v = candles[-1]
        assert opened % 60_000 == 0
        assert lo <= min(o, c) <= max(o, c) <= h
        assert v > 0


async def test_watch_orders_sees_a_new_order_and_its_cancel(
    clean_simulator: SimulatorClient,
) -> None:
    creds = await kraken_trader(clean_simulator)
    async with kraken(clean_simulator, creds, pro=True) as ex:
        watching = asyncio.ensure_future(ex.watch_orders())
        await asyncio.sleep(0.5)  # subscribed: the snapshot (no open orders) has come
        price = await resting_buy_price(ex, "BTC/USD")
        placed = await ex.create_order("BTC/USD", "limit", "buy", 0.01, price)  # REST
        orders = await asyncio.wait_for(watching, 10)
        seen = {o["id"]: o for o in orders}
        assert seen[placed["id"]]["status"] == "open"
        assert seen[placed["id"]]["symbol"] == "BTC/USD"
        assert (seen[placed["id"]]["amount"], seen[placed["id"]]["price"]) == (0.01, price)
        await ex.cancel_order(placed["id"])
        async with asyncio.timeout(10):
            while True:
                orders = await ex.watch_orders()
                if {o["id"]: o["status"] for o in orders}.get(placed["id"]) == "canceled":
                    break


async def test_watch_balance_follows_fills(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator, {"USD": "50000", "BTC": "1"})
    async with kraken(clean_simulator, creds, pro=True) as ex:
        snapshot = await ex.watch_balance()
        assert snapshot["BTC"]["total"] == 1
        assert snapshot["USD"]["total"] == 50000
        watching = asyncio.ensure_future(ex.watch_balance())
        await asyncio.sleep(0.2)
        await ex.create_order("BTC/USD", "market", "buy", 0.001)
        updated = await asyncio.wait_for(watching, 10)
        assert 1 < updated["BTC"]["total"] < 1.001
        assert updated["USD"]["total"] < 50000


async def test_trading_over_the_websocket(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator)
    async with kraken(clean_simulator, creds, pro=True) as ex:
        price = await resting_buy_price(ex, "ETH/USD")
        placed = await ex.create_order_ws("ETH/USD", "limit", "buy", 0.05, price)
        assert placed["id"].startswith("O")
        (open_order,) = await ex.fetch_open_orders("ETH/USD")
        assert open_order["id"] == placed["id"]
        cancelled = await ex.cancel_order_ws(placed["id"])
        assert cancelled["success"] is True
        assert cancelled["result"] == {"order_id": placed["id"]}
        for _ in range(2):
            await ex.create_order_ws("ETH/USD", "limit", "buy", 0.05, price)
        everything = await ex.cancel_all_orders_ws()
        assert everything["result"] == {"count": 2}
        assert await ex.fetch_open_orders() == []
        with pytest.raises(ccxt.ExchangeError, match="EOrder:Insufficient funds"):
            await ex.create_order_ws("ETH/USD", "limit", "buy", 1000, price)
