"""Unmodified ccxt (async_support and pro) coinbase against the simulator, only its urls
changed: market data, balances, the order lifecycle, errors as ccxt classifies them, and the
streams."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from eip.exchange_simulator.client import SimulatorClient

from .coinbase_helpers import coinbase, new_coinbase_trader

D = Decimal


def levels(rows: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(D(str(p)), D(str(q))) for p, q, *_ in rows]


async def test_public_market_data(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with coinbase(sim) as ex:
        assert {"BTC/USDT", "ETH/USDT", "ETH/BTC", "SOL/USDT"} <= set(ex.markets)
        market = ex.markets["BTC/USDT"]
        assert market["id"] == "BTC-USDT"
        assert (market["precision"]["amount"], market["precision"]["price"]) == (0.00001, 0.01)
        assert market["limits"]["cost"]["min"] == 5
        assert (market["spot"], market["active"]) == (True, True)
        assert {"BTC", "USDT", "USD"} <= set(ex.currencies)
        ticker = await ex.fetch_ticker("BTC/USDT")
        assert ticker["last"] > 0
        assert ticker["bid"] < ticker["ask"]
        book = await ex.fetch_order_book("BTC/USDT", 10)
        assert len(book["bids"]) == 10
        assert book["bids"][0][0] < book["asks"][0][0]
        trades = await ex.fetch_trades("BTC/USDT", limit=20)
        assert 0 < len(trades) <= 20  # the market may not have traded 20 times yet
        assert len({t["id"] for t in trades}) == len(trades)
        assert all(t["symbol"] == "BTC/USDT" and t["amount"] > 0 for t in trades)
        assert {t["side"] for t in trades} <= {"buy", "sell"}
        candles = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=5)
        assert candles
        assert [c[0] for c in candles] == sorted(c[0] for c in candles)
        _, o, h, lo, c, v = candles[-1]
        assert lo <= min(o, c) <= max(o, c) <= h
        assert v > 0
        await sim.pause_market()
        try:
            await asyncio.sleep(0.3)
            fetched = await ex.fetch_order_book("ETH/USDT", 50)
            truth = await sim.book("ETHUSDT", 50)
        finally:
            await sim.resume_market()
        assert levels(fetched["bids"]) == [(D(p), D(q)) for p, q in truth["bids"]]
        assert levels(fetched["asks"]) == [(D(p), D(q)) for p, q in truth["asks"]]


async def test_balances_are_normalized(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USD": "2500", "BTC": "1.5", "USDT": "900"})
    async with coinbase(clean_simulator, key) as ex:
        await ex.create_order("BTC/USD", "limit", "buy", 0.01, 30000)
        await ex.create_order("BTC/USDT", "limit", "sell", 0.5, 150000)
        v2 = await ex.fetch_balance()  # ccxt's default: the v2 accounts, totals only
        v3 = await ex.fetch_balance({"v3": True})  # Advanced Trade accounts: free and hold
    assert v2["BTC"]["total"] == 1.5
    assert v2["USD"]["total"] == 2500
    assert v2["USDT"]["total"] == 900
    assert v3["USD"] == {"free": 2200, "used": 300, "total": 2500}
    assert v3["BTC"] == {"free": 1.0, "used": 0.5, "total": 1.5}
    assert v3["USDT"] == {"free": 900, "used": 0, "total": 900}


async def test_order_lifecycle(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USD": "5000", "BTC": "2"})
    async with coinbase(clean_simulator, key) as ex:
        limit = await ex.create_order("BTC/USD", "limit", "buy", 0.01, 30000)
        assert limit["clientOrderId"].startswith("ccxt-")
        fetched = await ex.fetch_order(limit["id"], "BTC/USD")
        assert (fetched["status"], fetched["type"], fetched["side"]) == ("open", "limit", "buy")
        assert (fetched["price"], fetched["amount"], fetched["filled"]) == (30000, 0.01, 0)
        assert fetched["timeInForce"] == "GTC"
        assert fetched["clientOrderId"] == limit["clientOrderId"]
        post_only = await ex.create_order(
            "BTC/USD", "limit", "buy", 0.001, 31000, {"postOnly": True}
        )
        open_orders = await ex.fetch_open_orders("BTC/USD")
        assert [o["id"] for o in open_orders] == [limit["id"], post_only["id"]]  # oldest first
        assert open_orders[1]["postOnly"] is True

        await ex.edit_order(limit["id"], "BTC/USD", "limit", "buy", 0.02, 29000.5)
        edited = await ex.fetch_order(limit["id"], "BTC/USD")  # edited in place: the same id
        assert (edited["status"], edited["price"], edited["amount"]) == ("open", 29000.5, 0.02)
        assert len(edited["info"]["edit_history"]) == 1
        assert (await ex.fetch_balance({"v3": True}))["USD"]["used"] == pytest.approx(580.01 + 31)

        cancelled = await ex.cancel_order(limit["id"], "BTC/USD")
        assert cancelled["id"] == limit["id"]
        assert (await ex.fetch_order(limit["id"]))["status"] == "canceled"
        with pytest.raises(ccxt.BadRequest):  # ccxt's answer to a failed cancel
            await ex.cancel_order(limit["id"], "BTC/USD")

        sold = await ex.create_order("BTC/USD", "market", "sell", 0.02)
        last = (await ex.fetch_ticker("BTC/USD"))["last"]
        bought = await ex.create_order("BTC/USD", "market", "buy", 0.01, last)  # cost 0.01*last
        by_cost = await ex.create_market_buy_order_with_cost("BTC/USD", 100)
        closed = {o["id"]: o for o in await ex.fetch_closed_orders("BTC/USD")}
        assert set(closed) == {sold["id"], bought["id"], by_cost["id"]}
        assert closed[sold["id"]]["filled"] == 0.02
        assert closed[sold["id"]]["average"] > 0
        assert closed[by_cost["id"]]["status"] == "closed"
        assert closed[by_cost["id"]]["fee"]["currency"] == "USD"

        mine = await ex.fetch_my_trades("BTC/USD")
        assert {t["order"] for t in mine} == set(closed)
        assert all(t["fee"]["currency"] == "USD" and t["fee"]["cost"] > 0 for t in mine)
        sold_amount = sum(t["amount"] for t in mine if t["order"] == sold["id"])
        assert sold_amount == pytest.approx(0.02)
        assert {t["side"] for t in mine if t["order"] == sold["id"]} == {"sell"}

        # ccxt: stopLossPrice on a sell is a stop-down, stopPrice on a sell a stop-up
        stop_loss = await ex.create_order(
            "BTC/USD",
            "limit",
            "sell",
            0.001,
            round(last * 0.7, 1),
            {"stopLossPrice": round(last * 0.71, 1)},
        )
        take_profit = await ex.create_order(
            "BTC/USD",
            "limit",
            "sell",
            0.001,
            round(last * 1.3, 1),
            {"stopPrice": round(last * 1.29, 1)},
        )
        for placed, trigger in ((stop_loss, last * 0.71), (take_profit, last * 1.29)):
            fetched_stop = await ex.fetch_order(placed["id"])
            assert fetched_stop["triggerPrice"] == pytest.approx(round(trigger, 1))
            assert fetched_stop["status"] == "open"
        with pytest.raises(ccxt.ExchangeError, match="PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE"):
            await ex.create_order(  # a stop-up below the last trade would trigger at once
                "BTC/USD",
                "limit",
                "sell",
                0.001,
                round(last * 0.7, 1),
                {"stopPrice": round(last * 0.71, 1)},
            )


async def test_exchange_errors_map_to_ccxt_exceptions(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim, {"USDT": "10", "BTC": "1"})
    async with coinbase(sim, key) as ex:
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "limit", "buy", 1, 30000)
        # ccxt 4.5.90 knows no other preview failure: an ExchangeError naming it
        with pytest.raises(ccxt.ExchangeError, match="PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"):
            await ex.create_order("BTC/USDT", "limit", "sell", 0.01, 1000, {"postOnly": True})
        with pytest.raises(ccxt.ExchangeError, match="order with this orderID was not found"):
            await ex.fetch_order("5d2b4c4e-8a37-4f0c-9d7c-3b0b5c0c2d11")
    reader = await sim.create_key(key.account_id, "read-only", venue="coinbase")
    async with coinbase(sim, reader) as ex:
        assert (await ex.fetch_balance())["BTC"]["total"] == 1
        with pytest.raises(ccxt.PermissionDenied):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.0001, 30000)
    other = await new_coinbase_trader(sim)
    forged = type(key)(key.api_key, other.secret, key.account_id)  # the right name, wrong key
    async with coinbase(sim) as ex:
        ex.apiKey, ex.secret = forged.api_key, forged.secret
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()


async def test_watch_order_book_tracks_the_simulator_book(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with coinbase(sim, pro=True) as ex:
        for _ in range(20):  # live updates while the market runs
            book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 10)
        assert book["bids"][0][0] < book["asks"][0][0]
        await sim.pause_market()
        try:
            await asyncio.sleep(0.5)  # what was on its way has arrived
            truth = await sim.book("BTCUSDT", 5000)
            book = ex.orderbooks["BTC/USDT"]
            assert levels(book["bids"]) == [(D(p), D(q)) for p, q in truth["bids"]]
            assert levels(book["asks"]) == [(D(p), D(q)) for p, q in truth["asks"]]
        finally:
            await sim.resume_market()


async def test_watch_trades_and_ticker(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator, pro=True) as ex:
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
        assert ticker["bid"] < ticker["ask"]


async def test_watch_orders_sees_a_new_order_and_its_cancel(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase(clean_simulator, key, pro=True) as ex:
        orders_task = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        await asyncio.sleep(0.5)  # the subscription is on the wire
        placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
        orders = await asyncio.wait_for(orders_task, 10)
        assert [(o["id"], o["status"], o["price"], o["remaining"]) for o in orders] == [
            (placed["id"], "open", 30000, 0.01)
        ]
        await ex.cancel_order(placed["id"], "BTC/USDT")
        orders = await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 10)
        assert (orders[-1]["id"], orders[-1]["status"]) == (placed["id"], "canceled")

        filled = await ex.create_order("BTC/USDT", "market", "sell", 0.01)
        async with asyncio.timeout(10):
            while True:
                orders = await ex.watch_orders("BTC/USDT")
                mine = [o for o in orders if o["id"] == filled["id"]]
                if mine and mine[-1]["status"] == "closed":
                    break
        assert mine[-1]["filled"] == 0.01
        assert mine[-1]["average"] > 0
