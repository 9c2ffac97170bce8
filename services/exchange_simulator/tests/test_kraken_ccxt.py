"""Unmodified ccxt (async_support) kraken against the simulator, only its urls changed, with
its default client-side throttling against Kraken's default (starter) limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ccxt.async_support as ccxt
import pytest

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .kraken_client import kraken_trader


@asynccontextmanager
async def kraken(
    sim: SimulatorClient, creds: ApiCredentials | None = None, pro: bool = False
) -> AsyncIterator[Any]:
    exchange = sim.ccxt_kraken(creds, pro=pro)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


async def resting_buy_price(ex: Any, symbol: str) -> float:
    book = await ex.fetch_order_book(symbol, 1)
    return float(ex.price_to_precision(symbol, book["bids"][0][0] * 0.9))


async def test_trading_lifecycle(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator, {"USD": "100000", "BTC": "2"})
    async with kraken(clean_simulator, creds) as ex:
        balance = await ex.fetch_balance()
        assert balance["USD"] == {"free": 100000.0, "used": 0.0, "total": 100000.0}
        assert balance["BTC"]["total"] == 2

        price = await resting_buy_price(ex, "BTC/USD")
        limit = await ex.create_order(
            "BTC/USD", "limit", "buy", 0.01, price, {"clientOrderId": "ccxt-limit-1"}
        )
        assert limit["id"].startswith("O")
        assert (limit["type"], limit["side"], limit["amount"]) == ("limit", "buy", 0.01)
        fetched = await ex.fetch_order(limit["id"])
        assert fetched["status"] == "open"
        assert fetched["clientOrderId"] == "ccxt-limit-1"
        assert fetched["price"] == price
        assert [o["id"] for o in await ex.fetch_open_orders()] == [limit["id"]]
        balance = await ex.fetch_balance()
        assert balance["USD"]["used"] == pytest.approx(0.01 * price)

        cancelled = await ex.cancel_order(limit["id"])
        assert cancelled["info"]["result"] == {"count": 1}
        assert await ex.fetch_open_orders() == []
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(limit["id"])

        market = await ex.create_order("BTC/USD", "market", "buy", 0.002)
        filled = await ex.fetch_order(market["id"])
        assert filled["status"] == "closed"
        assert filled["filled"] == 0.002
        assert filled["average"] > 0
        assert filled["fee"]["currency"] == "BTC"  # a buy's fee comes out of the BTC bought

        closed = await ex.fetch_closed_orders()
        assert {o["id"]: o["status"] for o in closed} == {
            limit["id"]: "canceled",
            market["id"]: "closed",
        }

        mine = await ex.fetch_my_trades()
        assert mine
        assert {t["order"] for t in mine} == {market["id"]}
        assert sum(t["amount"] for t in mine) == pytest.approx(0.002)
        assert all(t["symbol"] == "BTC/USD" and t["takerOrMaker"] == "taker" for t in mine)
        assert all(t["fee"]["currency"] == "USD" for t in mine)

        balance = await ex.fetch_balance()
        assert 2 < balance["BTC"]["total"] < 2.002  # bought 0.002 less the fee
        assert balance["USD"]["total"] < 100000


async def test_the_older_edit_replaces_the_order(clean_simulator: SimulatorClient) -> None:
    """ccxt's edit_order is Kraken's AmendOrder (test_kraken_amend_trailing.py); with EditOrder,
    the older endpoint ccxt still exposes, the order is replaced under a new txid."""
    creds = await kraken_trader(clean_simulator)
    async with kraken(clean_simulator, creds) as ex:
        price = await resting_buy_price(ex, "ETH/USD")
        order = await ex.create_order("ETH/USD", "limit", "buy", 0.01, price)
        edited = await ex.private_post_editorder(
            {"txid": order["id"], "pair": "XETHZUSD", "volume": "0.02", "price": str(price - 1)}
        )
        assert edited["result"]["originaltxid"] == order["id"]
        (replacement,) = await ex.fetch_open_orders("ETH/USD")
        assert replacement["id"] == edited["result"]["txid"]
        assert replacement["amount"] == 0.02
        assert replacement["price"] == pytest.approx(price - 1)


async def test_exchange_errors_map_to_ccxt_exceptions(clean_simulator: SimulatorClient) -> None:
    poor = await kraken_trader(clean_simulator, {"USD": "10"})
    async with kraken(clean_simulator, poor) as ex:
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USD", "limit", "buy", 1, 30000)
        with pytest.raises(ccxt.InvalidOrder, match="Order minimum not met"):
            await ex.create_order("BTC/USD", "limit", "buy", 0.00001, 30000)
    reader = await kraken_trader(clean_simulator, profile="read-only")
    async with kraken(clean_simulator, reader) as ex:
        assert (await ex.fetch_balance())["BTC"]["total"] == 2
        with pytest.raises(ccxt.PermissionDenied):
            await ex.create_order("BTC/USD", "limit", "buy", 0.001, 30000)
    forged = ApiCredentials(reader.api_key, "A" * 86 + "==", reader.account_id)
    async with kraken(clean_simulator, forged) as ex:
        with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature"):
            await ex.fetch_balance()
    unknown = ApiCredentials("bm9ib2R5", reader.secret, reader.account_id)
    async with kraken(clean_simulator, unknown) as ex:
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()
