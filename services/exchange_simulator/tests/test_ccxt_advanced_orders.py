"""Binance's advanced trading through UNMODIFIED ccxt, on a quiet market (only the test moves
prices): OCO lists (``privatePostOrderListOco``, the deprecated ``privatePostOrderOco``, and the
list queries), trailing stops (``trailingDelta`` / ``trailingPercent`` as ccxt maps them),
amend keepPriority (reached through ccxt's generic signed ``request``), self-trade prevention
(ccxt's unified ``selfTradePrevention``), and ``watch_orders`` seeing it all."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .helpers import binance, new_trader

SYMBOL = "BTC/USDT"


async def last_price(sim: SimulatorClient, price: str) -> None:
    """A trade printed to the tape: the last price stops and list rules see."""
    await sim.print_trades("BTCUSDT", 1, price, "0.001")


async def sell_oco(ex: Any, quantity: str = "1") -> dict[str, Any]:
    result: dict[str, Any] = await ex.privatePostOrderListOco(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": quantity,
            "aboveType": "LIMIT_MAKER",
            "abovePrice": "55000",
            "belowType": "STOP_LOSS_LIMIT",
            "belowStopPrice": "45000",
            "belowPrice": "44900",
            "belowTimeInForce": "GTC",
        }
    )
    return result


async def buy(sim: SimulatorClient, creds: ApiCredentials, amount: float, price: float) -> None:
    async with binance(sim, creds) as ex:
        await ex.create_order(SYMBOL, "limit", "buy", amount, price)


async def withdraw(sim: SimulatorClient, *traders: ApiCredentials) -> None:
    """Cancel what the traders left on the module's shared book."""
    for trader in traders:
        await sim.cancel_all(trader.account_id, "BTCUSDT")


async def test_an_oco_locks_its_quantity_once_and_a_fill_expires_the_other_leg(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    seller, buyer = await new_trader(sim, btc="2"), await new_trader(sim)
    await last_price(sim, "50000")
    async with binance(sim, seller) as ex:
        # ccxt 4.5.90 has no unified OCO for Binance spot: the implicit endpoint is the way
        assert not ex.has["createOrderWithTakeProfitAndStopLoss"]
        placed = await sell_oco(ex)
        list_id = placed["orderListId"]
        assert (placed["contingencyType"], placed["listStatusType"], placed["listOrderStatus"]) == (
            "OCO",
            "EXEC_STARTED",
            "EXECUTING",
        )
        assert placed["listClientOrderId"].startswith("x-")  # ccxt fills the three client ids
        assert [r["type"] for r in placed["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
        assert {r["orderListId"] for r in placed["orderReports"]} == {list_id}
        balance = await ex.fetch_balance()
        assert balance["BTC"]["used"] == 1  # one reservation for both legs
        open_orders = await ex.fetch_open_orders(SYMBOL)
        assert sorted(o["info"]["orderListId"] for o in open_orders) == [list_id, list_id]
        assert [lst["orderListId"] for lst in await ex.privateGetOpenOrderList()] == [list_id]
    await buy(sim, buyer, 0.4, 55000)  # takes part of the LIMIT_MAKER leg
    async with binance(sim, seller) as ex:
        stop_id, maker_id = (str(r["orderId"]) for r in placed["orderReports"])
        stop, maker = await ex.fetch_order(stop_id, SYMBOL), await ex.fetch_order(maker_id, SYMBOL)
        assert (maker["status"], maker["filled"]) == ("open", 0.4)
        assert stop["status"] == "expired"
        assert (await ex.privateGetOrderList({"orderListId": list_id}))["listOrderStatus"] == (
            "EXECUTING"
        )
        cancelled = await ex.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": list_id})
        assert cancelled["listOrderStatus"] == "ALL_DONE"
        assert [r["status"] for r in cancelled["orderReports"]] == ["EXPIRED", "CANCELED"]
        balance = await ex.fetch_balance()
        assert (balance["BTC"]["total"], balance["BTC"]["used"]) == (1.6, 0)
        history = await ex.privateGetAllOrderList()
        assert history[0]["orderListId"] == list_id
        assert history[0]["listStatusType"] == "ALL_DONE"


async def test_oco_price_rules_and_the_deprecated_endpoint(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    seller = await new_trader(sim, btc="2")
    await last_price(sim, "50000")
    async with binance(sim, seller) as ex:
        with pytest.raises(ccxt.InvalidOrder, match="relationship of the prices"):
            await ex.privatePostOrderListOco(
                {
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "quantity": "1",
                    "aboveType": "LIMIT_MAKER",
                    "abovePrice": "49000",  # below the last price: not a take-profit
                    "belowType": "STOP_LOSS",
                    "belowStopPrice": "45000",
                }
            )
        legacy = await ex.privatePostOrderOco(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "quantity": "0.5",
                "price": "56000",
                "stopPrice": "44000",
                "stopLimitPrice": "43900",
                "stopLimitTimeInForce": "GTC",
            }
        )
        assert [r["type"] for r in legacy["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
        assert [o["clientOrderId"][:2] for o in legacy["orders"]] == ["x-", "x-"]
        await ex.cancel_order(str(legacy["orders"][0]["orderId"]), SYMBOL)  # cancels the list
        found = await ex.privateGetOrderList({"orderListId": legacy["orderListId"]})
        assert found["listOrderStatus"] == "ALL_DONE"
        assert (await ex.fetch_balance())["BTC"]["used"] == 0


async def test_trailing_stops_as_ccxt_sends_them(quiet_simulator: SimulatorClient) -> None:
    sim = quiet_simulator
    trader, bidder = await new_trader(sim, btc="2"), await new_trader(sim)
    # liquidity for the triggered market sell, close enough not to fire the 2 % stop too
    await buy(sim, bidder, 0.5, 50400)
    await last_price(sim, "50000")
    async with binance(sim, trader) as ex:
        by_delta = await ex.create_order(
            SYMBOL, "STOP_LOSS", "sell", 0.01, None, {"trailingDelta": 100}
        )
        by_percent = await ex.create_order(
            SYMBOL, "STOP_LOSS", "sell", 0.01, None, {"trailingPercent": 2}
        )
        assert by_delta["info"]["trailingDelta"] == 100
        assert by_percent["info"]["trailingDelta"] == 200
        info = await ex.publicGetExchangeInfo({"symbol": "BTCUSDT"})
        assert info["symbols"][0]["allowTrailingStop"] is True
        assert {f["filterType"] for f in info["symbols"][0]["filters"]} >= {"TRAILING_DELTA"}
        with pytest.raises(ccxt.BaseError, match="TRAILING_DELTA"):
            await ex.create_order(SYMBOL, "STOP_LOSS", "sell", 0.01, None, {"trailingDelta": 5000})
        await last_price(sim, "51000")  # a new high: 1 % below it is 50490
        await last_price(sim, "50491")
        assert (await ex.fetch_order(by_delta["id"], SYMBOL))["status"] == "open"
        await last_price(sim, "50490")
        fired = await ex.fetch_order(by_delta["id"], SYMBOL)
        assert (fired["status"], fired["filled"], fired["average"]) == ("closed", 0.01, 50400)
        assert (await ex.fetch_order(by_percent["id"], SYMBOL))["status"] == "open"
    await withdraw(sim, trader, bidder)


async def test_amend_keep_priority_keeps_the_place_in_the_queue(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    first, second, taker = await new_trader(sim), await new_trader(sim), await new_trader(sim)
    async with binance(sim, first) as ex_first, binance(sim, second) as ex_second:
        mine = await ex_first.create_order(SYMBOL, "limit", "buy", 0.05, 30000)
        theirs = await ex_second.create_order(SYMBOL, "limit", "buy", 0.05, 30000)
        amended = await ex_first.request(
            "order/amend/keepPriority",
            ["private"],
            "PUT",
            {"symbol": "BTCUSDT", "orderId": mine["id"], "newQty": "0.03"},
        )
        order = amended["amendedOrder"]
        assert (order["orderId"], order["qty"], order["status"]) == (
            int(mine["id"]),
            "0.03000000",
            "NEW",
        )
        assert order["origClientOrderId"] == mine["clientOrderId"]
        assert order["clientOrderId"] != mine["clientOrderId"]  # a new one unless re-sent
        with pytest.raises(ccxt.BaseError, match="quantity increase"):
            await ex_first.request(
                "order/amend/keepPriority",
                ["private"],
                "PUT",
                {"symbol": "BTCUSDT", "orderId": mine["id"], "newQty": "0.04"},
            )
        assert (await ex_first.fetch_balance())["USDT"]["used"] == 900
        async with binance(sim, taker) as ex_taker:
            await ex_taker.create_order(SYMBOL, "limit", "sell", 0.03, 30000)
        assert (await ex_first.fetch_order(mine["id"], SYMBOL))["status"] == "closed"
        assert (await ex_second.fetch_order(theirs["id"], SYMBOL))["filled"] == 0
    await withdraw(sim, second)


async def test_self_trade_prevention_defaults_and_modes(quiet_simulator: SimulatorClient) -> None:
    sim = quiet_simulator
    trader = await new_trader(sim)
    async with binance(sim, trader) as ex:
        info = (await ex.publicGetExchangeInfo({"symbol": "BTCUSDT"}))["symbols"][0]
        assert info["defaultSelfTradePreventionMode"] == "EXPIRE_MAKER"
        assert "EXPIRE_TAKER" in info["allowedSelfTradePreventionModes"]
        resting = await ex.create_order(SYMBOL, "limit", "sell", 0.01, 60000)
        crossing = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000)  # default mode
        expired = await ex.fetch_order(resting["id"], SYMBOL)
        assert (expired["status"], expired["info"]["status"]) == ("expired", "EXPIRED_IN_MATCH")
        assert expired["info"]["preventedQuantity"] == "0.01000000"
        assert crossing["status"] == "open"  # the taker went on and rests
        taker = await ex.create_order(
            SYMBOL, "limit", "sell", 0.01, 60000, {"selfTradePrevention": "EXPIRE_TAKER"}
        )
        assert (taker["status"], taker["info"]["status"]) == ("expired", "EXPIRED_IN_MATCH")
        assert (await ex.fetch_order(crossing["id"], SYMBOL))["status"] == "open"
        with pytest.raises(ccxt.BaseError, match="self-trade prevention mode"):
            await ex.create_order(
                SYMBOL, "limit", "sell", 0.01, 60000, {"selfTradePrevention": "DECREMENT"}
            )
    await withdraw(sim, trader)


async def cached(ex: Any, found: Any, timeout_s: float = 10) -> Any:
    """What ``found`` finds in the orders ccxt.pro keeps from the user data stream (a
    ``watch_orders`` call returns only what is new since the previous call)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = found(list(ex.orders or []))
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("ccxt.pro never saw it on the user data stream")
        await asyncio.sleep(0.05)


async def test_watch_orders_sees_oco_legs_and_amendments(quiet_simulator: SimulatorClient) -> None:
    sim = quiet_simulator
    seller = await new_trader(sim, btc="2")
    await last_price(sim, "50000")
    async with binance(sim, seller, pro=True) as ex:
        watching = asyncio.create_task(ex.watch_orders(SYMBOL))
        await asyncio.sleep(0.5)  # the user data subscription is on the wire
        placed = await sell_oco(ex, "0.5")
        await asyncio.wait_for(watching, 10)
        leg_ids = {str(r["orderId"]) for r in placed["orderReports"]}
        await cached(ex, lambda orders: leg_ids <= {o["id"] for o in orders})
        maker_id = str(placed["orderReports"][1]["orderId"])
        await ex.request(
            "order/amend/keepPriority",
            ["private"],
            "PUT",
            {"symbol": "BTCUSDT", "orderId": maker_id, "newQty": "0.2"},
        )
        mine = await cached(
            ex, lambda orders: [o for o in orders if o["id"] == maker_id and o["amount"] == 0.2]
        )
        assert mine[-1]["info"]["x"] == "REPLACED"
        assert Decimal(str((await ex.fetch_balance())["BTC"]["used"])) == Decimal("0.2")
    await withdraw(sim, seller)
