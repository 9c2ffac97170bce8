"""Kraken's in-place amendments (REST ``AmendOrder``, ccxt's ``edit_order``, v2 ``amend_order``),
trailing stops and self-trade prevention, over the core's amend, trailing and STP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eip.exchange_simulator.client import SimulatorClient

from .kraken_client import kraken_rest, kraken_trader
from .test_kraken_ccxt import kraken, resting_buy_price
from .test_kraken_private_rest import far_below
from .test_kraken_private_ws import channel_messages, private_feed, subscribe, token_of

D = Decimal


async def test_amend_order_changes_the_order_in_place(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken_, private_feed(kraken_wire) as feed:
        token = await token_of(kraken_)
        await subscribe(feed, token, "executions")
        await channel_messages(feed, "executions", 1)  # the snapshot
        price = await far_below(kraken_)
        placed = await kraken_.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.004",
                "price": price,
                "cl_ord_id": "amend-me",
            },
        )
        txid = placed["txid"][0]
        await channel_messages(feed, "executions", 2)  # pending_new, new
        lower = str(D(price) - 5)
        amended = await kraken_.result(
            "AmendOrder", {"txid": txid, "order_qty": "0.002", "limit_price": lower}
        )
        assert amended["amend_id"].startswith("T")
        (event,) = await channel_messages(feed, "executions", 1)
        item = event["data"][0]
        assert (item["exec_type"], item["order_id"]) == ("amended", txid)
        assert (item["order_qty"], item["limit_price"]) == (D("0.002"), D(lower))
        (order,) = (await kraken_.result("OpenOrders"))["open"].values()
        assert (order["vol"], order["descr"]["price"]) == ("0.00200000", lower)
        held = (await kraken_.result("BalanceEx"))["ZUSD"]["hold_trade"]
        assert D(held) == D("0.002") * D(lower)  # the reservation follows the amendment
        by_client_id = await kraken_.result(
            "AmendOrder", {"cl_ord_id": "amend-me", "order_qty": "0.003"}
        )
        assert by_client_id["amend_id"] != amended["amend_id"]
        best_ask = D(
            (await kraken_.public("Depth", pair="XBTUSD", count=1))["result"]["XXBTZUSD"]["asks"][
                0
            ][0]
        )
        # 5 % through the ask: still crossing however far the market moves meanwhile
        through = (best_ask * D("1.05")).quantize(D("0.1"))
        crossing = {"txid": txid, "limit_price": str(through), "post_only": "true"}
        assert await kraken_.error("AmendOrder", crossing) == "EOrder:Post only order"
        assert await kraken_.error("AmendOrder", {"txid": txid}) == (
            "EGeneral:Invalid arguments:order_qty, limit_price or trigger_price"
        )
        await kraken_.result("CancelOrder", {"txid": txid})
        assert await kraken_.error("AmendOrder", {"txid": txid, "order_qty": "0.001"}) == (
            "EOrder:Unknown order"
        )


async def test_amending_a_stops_trigger(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken_:
        stop = await kraken_.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "sell",
                "ordertype": "stop-loss",
                "volume": "0.01",
                "price": "-20%",
            },
        )
        txid = stop["txid"][0]
        before = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]
        trigger = str(D(before["stopprice"]) - 100)
        await kraken_.result("AmendOrder", {"txid": txid, "trigger_price": trigger})
        after = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]
    assert after["stopprice"] == trigger
    assert after["descr"]["order"] == f"sell 0.01000000 XBTUSD @ stop loss {trigger}"


async def test_unmodified_ccxt_edit_order_amends(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator)
    async with kraken(clean_simulator, creds) as ex:
        price = await resting_buy_price(ex, "BTC/USD")
        order = await ex.create_order("BTC/USD", "limit", "buy", 0.01, price)
        edited = await ex.edit_order(order["id"], "BTC/USD", "limit", "buy", 0.005, price - 1)
        assert edited["id"].startswith("T")  # ccxt shows Kraken's amend id
        fetched = await ex.fetch_order(order["id"])  # the order keeps its txid
        assert (fetched["status"], fetched["amount"]) == ("open", 0.005)
        assert fetched["price"] == pytest.approx(price - 1)
    async with kraken(clean_simulator, creds, pro=True) as ws:
        amended = await ws.edit_order_ws(order["id"], "BTC/USD", "limit", "buy", 0.004, price - 2)
        assert amended["id"] is not None
        fetched = await ws.fetch_order(order["id"])
        assert fetched["amount"] == 0.004
        assert fetched["price"] == pytest.approx(price - 2)


async def test_a_trailing_stop_fires_when_the_price_comes_back(
    kraken_wire: SimulatorClient,
) -> None:
    sim = kraken_wire
    creds = await kraken_trader(sim, {"USD": "1000", "BTC": "1"})
    await sim.pause_market()
    try:
        async with kraken_rest(sim, creds) as kraken_:
            book = (await kraken_.public("Depth", pair="XBTUSD", count=1))["result"]["XXBTZUSD"]
            top = D(book["bids"][0][0])
            start = top + 200
            await sim.print_trades("BTCUSD", 1, str(start), "0.001")
            placed = await kraken_.result(
                "AddOrder",
                {
                    "pair": "XBTUSD",
                    "type": "sell",
                    "ordertype": "trailing-stop",
                    "volume": "0.002",
                    "price": "+50",
                },
            )
            txid = placed["txid"][0]
            assert placed["descr"]["order"] == "sell 0.00200000 XBTUSD @ trailing stop +50"
            waiting = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]
            assert D(waiting["stopprice"]) == start - 50
            await sim.print_trades("BTCUSD", 1, str(start + 100), "0.001")  # a new high
            await sim.print_trades("BTCUSD", 1, str(start + 51), "0.001")  # back 49: not yet
            still = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]
            assert still["status"] == "open"
            assert D(still["stopprice"]) == start + 50
            await sim.print_trades("BTCUSD", 1, str(start + 50), "0.001")  # back 50: fires
            fired = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]
    finally:
        await sim.resume_market()
    assert fired["status"] == "closed"
    assert D(fired["vol_exec"]) == D("0.002")
    assert D(fired["price"]) <= top  # sold into the bids


async def test_trailing_stops_through_ccxt(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator)
    async with kraken(clean_simulator, creds) as ex:
        by_amount = await ex.create_order(
            "BTC/USD", "market", "sell", 0.01, None, {"trailingAmount": 500}
        )
        by_percent = await ex.create_order(  # ccxt sends this one as JSON
            "BTC/USD", "market", "sell", 0.01, None, {"trailingPercent": 5}
        )
        orders = {o["id"]: o for o in await ex.fetch_open_orders("BTC/USD")}
    assert orders[by_amount["id"]]["info"]["descr"]["ordertype"] == "trailing-stop"
    assert orders[by_amount["id"]]["info"]["descr"]["price"] == "+500"
    assert orders[by_percent["id"]]["info"]["descr"]["price"] == "+5%"


async def test_trailing_stop_limit_prices_from_the_fired_level(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "1000", "BTC": "1"})
    async with kraken_rest(kraken_wire, creds) as kraken_:
        placed = await kraken_.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "sell",
                "ordertype": "trailing-stop-limit",
                "volume": "0.01",
                "price": "+1%",
                "price2": "-100",
            },
        )
        assert placed["descr"]["order"] == (
            "sell 0.01000000 XBTUSD @ trailing stop +1% -> limit -100"
        )
        absolute = {
            "pair": "XBTUSD",
            "type": "sell",
            "ordertype": "trailing-stop",
            "volume": "0.01",
            "price": "60000",
        }
        assert await kraken_.error("AddOrder", absolute) == "EGeneral:Invalid arguments:price"


async def test_self_trade_prevention_cancels_the_newest_by_default(
    kraken_wire: SimulatorClient,
) -> None:
    sim = kraken_wire
    creds = await kraken_trader(sim)
    await sim.pause_market()
    try:
        async with kraken_rest(sim, creds) as kraken_:
            book = (await kraken_.public("Depth", pair="XBTUSD", count=1))["result"]["XXBTZUSD"]
            inside = str(D(book["bids"][0][0]) + D("0.1"))  # our bid is the best one
            assert D(inside) < D(book["asks"][0][0])
            order = {"pair": "XBTUSD", "ordertype": "limit", "volume": "0.001", "price": inside}
            resting = (await kraken_.result("AddOrder", {**order, "type": "buy"}))["txid"][0]
            newest = (await kraken_.result("AddOrder", {**order, "type": "sell"}))["txid"][0]
            orders = await kraken_.result("QueryOrders", {"txid": f"{resting},{newest}"})
            assert orders[resting]["status"] == "open"
            assert (orders[newest]["status"], orders[newest]["reason"]) == (
                "canceled",
                "Self trade prevention",
            )
            oldest = await kraken_.result(
                "AddOrder", {**order, "type": "sell", "stptype": "cancel-oldest"}
            )
            orders = await kraken_.result("QueryOrders", {"txid": f"{resting},{oldest['txid'][0]}"})
            assert orders[resting]["status"] == "canceled"
            assert orders[oldest["txid"][0]]["status"] == "open"  # nothing else to meet
            refused = await kraken_.error("AddOrder", {**order, "type": "sell", "stptype": "keep"})
            assert refused == "EGeneral:Invalid arguments:stptype"
    finally:
        await sim.resume_market()


async def test_trailing_stops_and_amendments_over_the_websocket(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken_, private_feed(kraken_wire) as feed:
        token = await token_of(kraken_)
        trailing = {
            "order_type": "trailing-stop-limit",
            "side": "sell",
            "order_qty": 0.01,
            "symbol": "BTC/USD",
            "triggers": {"price": 1.5, "price_type": "pct", "reference": "last"},
            "limit_price": -20,
            "limit_price_type": "quote",
            "token": token,
        }
        await feed.send({"method": "add_order", "params": trailing, "req_id": 1})
        added = await feed.reply("add_order")
        assert added["success"] is True, added
        txid = added["result"]["order_id"]
        described = (await kraken_.result("QueryOrders", {"txid": txid}))[txid]["descr"]
        assert described["order"] == "sell 0.01000000 XBTUSD @ trailing stop +1.5% -> limit -20"
        price = D(await far_below(kraken_))
        limit = {
            "order_type": "limit",
            "side": "buy",
            "order_qty": 0.002,
            "symbol": "BTC/USD",
            "limit_price": float(price),
            "token": token,
        }
        await feed.send({"method": "add_order", "params": limit, "req_id": 2})
        resting = (await feed.reply("add_order"))["result"]["order_id"]
        amend = {"order_id": resting, "order_qty": 0.001, "token": token}
        await feed.send({"method": "amend_order", "params": amend, "req_id": 3})
        amended = await feed.reply("amend_order")
        assert amended["success"] is True, amended
        assert amended["result"]["order_id"] == resting
        assert amended["result"]["amend_id"].startswith("T")
        now = (await kraken_.result("QueryOrders", {"txid": resting}))[resting]
        assert now["vol"] == "0.00100000"
