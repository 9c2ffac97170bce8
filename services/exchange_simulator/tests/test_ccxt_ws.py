"""Unmodified ccxt.pro against the simulator's streams and WebSocket API."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from eip.exchange_simulator.client import SimulatorClient

from .helpers import binance, new_trader


def levels(rows: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(q))) for p, q in rows]


async def synced_book(ex: Any, symbol: str, truth_id: int, timeout_s: float = 10) -> Any:
    """ccxt's local book once it has applied every update up to ``truth_id``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        book = ex.orderbooks.get(symbol)  # the book ccxt maintains, as of the last message
        if book is not None and book["nonce"] >= truth_id:
            return book
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"ccxt's book stayed at {book and book['nonce']} < {truth_id}")
        await asyncio.sleep(0.05)


async def test_watch_order_book_tracks_the_simulator_book(simulator: SimulatorClient) -> None:
    async with binance(simulator, pro=True) as ex:
        seen = set()
        for _ in range(60):  # many live updates while the market runs
            book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 10)
            seen.add(book["nonce"])
        assert len(seen) > 20
        await simulator.pause_market()
        try:
            truth = await simulator.book("BTCUSDT", 5000)
            book = await synced_book(ex, "BTC/USDT", truth["update_id"])
            assert book["nonce"] == truth["update_id"]
            assert levels(book["bids"]) == levels(truth["bids"])
            assert levels(book["asks"]) == levels(truth["asks"])
        finally:
            await simulator.resume_market()


async def test_watch_trades_and_ticker(simulator: SimulatorClient) -> None:
    async with binance(simulator, pro=True) as ex:
        trades = await asyncio.wait_for(ex.watch_trades("ETH/USDT"), 15)
        assert trades
        assert all(t["symbol"] == "ETH/USDT" and t["price"] > 0 for t in trades)
        ids = {t["id"] for t in trades}
        more = await asyncio.wait_for(ex.watch_trades("ETH/USDT"), 15)
        assert {t["id"] for t in more} - ids  # new trades keep arriving
        ticker = await asyncio.wait_for(ex.watch_ticker("ETH/USDT"), 15)
        assert ticker["symbol"] == "ETH/USDT"
        assert ticker["last"] > 0
        assert ticker["high"] >= ticker["low"] > 0


async def test_watch_orders_and_balance(simulator: SimulatorClient) -> None:
    key = await new_trader(simulator)
    async with binance(simulator, key, pro=True) as ex:
        orders_task = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        balance_task = asyncio.create_task(ex.watch_balance())
        await asyncio.sleep(0.5)  # both subscriptions are on the wire
        placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
        orders = await asyncio.wait_for(orders_task, 10)
        assert [(o["id"], o["status"]) for o in orders] == [(placed["id"], "open")]
        balance = await asyncio.wait_for(balance_task, 10)
        assert balance["USDT"]["used"] == 300
        assert balance["USDT"]["free"] == 100000 - 300

        await ex.cancel_order(placed["id"], "BTC/USDT")
        while True:
            orders = await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 10)
            if orders[-1]["status"] == "canceled":
                break
        assert orders[-1]["id"] == placed["id"]

        balance_task = asyncio.create_task(ex.watch_balance())
        filled = await ex.create_order("BTC/USDT", "market", "sell", 0.01)
        while True:
            orders = await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 10)
            mine = [o for o in orders if o["id"] == filled["id"]]
            if mine and mine[-1]["status"] == "closed":
                break
        assert mine[-1]["filled"] == 0.01
        balance = await asyncio.wait_for(balance_task, 10)
        assert balance["BTC"]["total"] == 2 - 0.01
