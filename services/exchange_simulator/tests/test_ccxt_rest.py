"""Unmodified ccxt (async_support) against the simulator, only its urls changed."""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from eip.exchange_simulator.client import SimulatorClient

from .helpers import binance, new_trader


async def test_public_market_data(simulator: SimulatorClient) -> None:
    async with binance(simulator) as ex:
        assert {"BTC/USDT", "ETH/USDT", "ETH/BTC", "SOL/USDT"} <= set(ex.markets)
        market = ex.markets["BTC/USDT"]
        assert market["precision"]["price"] == 0.01
        assert market["limits"]["cost"]["min"] == 5
        ticker = await ex.fetch_ticker("BTC/USDT")
        assert ticker["last"] > 0
        assert ticker["bid"] < ticker["ask"]
        tickers = await ex.fetch_tickers()
        assert {"BTC/USDT", "ETH/BTC"} <= set(tickers)
        book = await ex.fetch_order_book("BTC/USDT", 20)
        assert book["bids"][0][0] < book["asks"][0][0]
        assert len(book["bids"]) == 20  # of a 500-level ladder, topped up after every trade
        assert book["nonce"] > 0
        trades = await ex.fetch_trades("BTC/USDT", limit=50)
        assert trades
        assert all(t["symbol"] == "BTC/USDT" and t["amount"] > 0 for t in trades)
        candles = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=5)
        assert candles
        _open_time, o, h, lo, c, v = candles[-1]
        assert lo <= min(o, c) <= max(o, c) <= h
        assert v > 0


async def test_book_matches_the_simulator_truth(simulator: SimulatorClient) -> None:
    await simulator.pause_market()
    try:
        async with binance(simulator) as ex:
            book = await ex.fetch_order_book("ETH/USDT", 100)
            truth = await simulator.book("ETHUSDT", 100)
        assert book["nonce"] == truth["update_id"]
        assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book["bids"]] == [
            [Decimal(p), Decimal(q)] for p, q in truth["bids"]
        ]
    finally:
        await simulator.resume_market()


async def test_trading_lifecycle(simulator: SimulatorClient) -> None:
    key = await new_trader(simulator)
    async with binance(simulator, key) as ex:
        balance = await ex.fetch_balance()
        assert balance["USDT"]["free"] == 100000
        assert balance["BTC"]["total"] == 2

        limit = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
        assert limit["status"] == "open"
        assert limit["clientOrderId"].startswith("x-")
        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] == pytest.approx(300)

        edited = await ex.edit_order(limit["id"], "BTC/USDT", "limit", "buy", 0.02, 30001)
        assert edited["id"] != limit["id"]
        assert edited["amount"] == 0.02
        assert (await ex.fetch_order(limit["id"], "BTC/USDT"))["status"] == "canceled"
        open_orders = await ex.fetch_open_orders("BTC/USDT")
        assert [o["id"] for o in open_orders] == [edited["id"]]

        cancelled = await ex.cancel_order(edited["id"], "BTC/USDT")
        assert cancelled["status"] == "canceled"
        assert await ex.fetch_open_orders("BTC/USDT") == []
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(edited["id"], "BTC/USDT")

        market = await ex.create_order("BTC/USDT", "market", "buy", 0.002)
        assert market["status"] == "closed"
        assert market["filled"] == 0.002
        assert market["average"] > 0
        assert market["fee"]["currency"] == "BTC"

        by_cost = await ex.create_order(
            "BTC/USDT",
            "market",
            "buy",
            None,
            None,
            {"quoteOrderQty": 100},
        )
        assert by_cost["cost"] == pytest.approx(100, rel=0.01)

        last = (await ex.fetch_ticker("BTC/USDT"))["last"]
        stop = await ex.create_order(
            "BTC/USDT",
            "STOP_LOSS_LIMIT",
            "sell",
            0.001,
            round(last * 0.8, 2),
            {"stopPrice": round(last * 0.81, 2)},
        )
        assert stop["status"] == "open"
        fetched = await ex.fetch_order(stop["id"], "BTC/USDT")
        assert fetched["triggerPrice"] == pytest.approx(round(last * 0.81, 2))

        mine = await ex.fetch_my_trades("BTC/USDT")
        assert len(mine) >= 2
        assert {t["order"] for t in mine} >= {market["id"], by_cost["id"]}
        balance = await ex.fetch_balance()
        assert balance["BTC"]["free"] > 2  # bought some (minus the 0.001 locked by the stop)


async def test_exchange_errors_map_to_ccxt_exceptions(simulator: SimulatorClient) -> None:
    key = await new_trader(simulator, usdt="10")
    async with binance(simulator, key) as ex:
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "limit", "buy", 1, 30000)
        with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):  # ccxt maps -1013 so
            await ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 100)
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order("123456789", "BTC/USDT")
    reader = await new_trader(simulator, profile="read-only")
    async with binance(simulator, reader) as ex:
        assert (await ex.fetch_balance())["USDT"]["free"] == 100000
        # -2015; ccxt reports it as DDoSProtection once the key has worked before
        with pytest.raises(ccxt.BaseError, match="-2015"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 30000)
    forged = type(key)(key.api_key, "0" * 64, key.account_id)
    async with binance(simulator, None) as ex:
        ex.apiKey, ex.secret = forged.api_key, forged.secret
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()
