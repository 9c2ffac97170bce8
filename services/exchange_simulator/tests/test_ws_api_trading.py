"""Trading over Binance's WebSocket API: unmodified ccxt.pro's *_ws methods, and the wire details
(signing, permissions, the same weight and order counts as REST, rateLimits, amend)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import ccxt.async_support as ccxt
import pytest
import websockets

from eip.exchange_simulator.binance.signing import sign, ws_api_payload
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .helpers import binance, new_trader
from .test_fault_scopes import subscribe_user_data
from .test_faults import next_messages, ws_url

SYMBOL = "BTC/USDT"


def limit_buy(quantity: str, price: str) -> dict[str, str]:
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": quantity,
        "price": price,
    }


async def test_ccxt_pro_trades_over_the_websocket_api(quiet_simulator: SimulatorClient) -> None:
    sim = quiet_simulator
    key = await new_trader(sim)
    async with binance(sim, key, pro=True) as ex:
        placed = await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 30000)
        assert (placed["status"], placed["amount"], placed["price"]) == ("open", 0.01, 30000)
        fetched = await ex.fetch_order_ws(placed["id"], SYMBOL)
        assert (fetched["id"], fetched["status"]) == (placed["id"], "open")
        assert [o["id"] for o in await ex.fetch_open_orders_ws(SYMBOL)] == [placed["id"]]
        edited = await ex.edit_order_ws(placed["id"], SYMBOL, "limit", "buy", 0.02, 30001)
        assert (edited["amount"], edited["price"]) == (0.02, 30001)
        assert edited["id"] != placed["id"]  # cancel-replace: a new order
        assert (await ex.fetch_order_ws(placed["id"], SYMBOL))["status"] == "canceled"
        cancelled = await ex.cancel_order_ws(edited["id"], SYMBOL)
        assert cancelled["status"] == "canceled"
        await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 29000)
        await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 29001)
        assert len(await ex.cancel_all_orders_ws(SYMBOL)) == 2
        assert await ex.fetch_open_orders_ws(SYMBOL) == []
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order_ws(SYMBOL, "limit", "buy", 10, 30000)
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order_ws("987654321", SYMBOL)
    assert (await sim.balances(key.account_id))["USDT"]["locked"] == 0


def signed(key: ApiCredentials, **params: Any) -> dict[str, Any]:
    params = {"apiKey": key.api_key, "timestamp": int(time.time() * 1000), **params}
    return {**params, "signature": sign(key.secret, ws_api_payload(params))}


async def call(ws: Any, request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
    return (await next_messages(ws, 1))[0]


async def test_websocket_api_orders_are_signed_counted_and_amendable(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    key = await new_trader(sim)
    reader = await new_trader(sim, profile="read-only")
    order = limit_buy("0.05", "30000")
    async with websockets.connect(ws_url(sim, "/ws-api/v3")) as ws:
        placed = await call(ws, 1, "order.place", signed(key, **order))
        assert placed["status"] == 200
        assert placed["result"]["status"] == "NEW"
        limits = {(r["rateLimitType"], r["interval"]): r for r in placed["rateLimits"]}
        assert limits[("REQUEST_WEIGHT", "MINUTE")]["count"] >= 1
        assert limits[("ORDERS", "SECOND")]["count"] == 1
        order_id = placed["result"]["orderId"]
        amended = await call(
            ws,
            2,
            "order.amend.keepPriority",
            signed(key, symbol="BTCUSDT", orderId=order_id, newQty="0.02", returnRateLimits=False),
        )
        assert amended["result"]["amendedOrder"]["qty"] == "0.02000000"
        assert "rateLimits" not in amended
        status = await call(ws, 3, "order.status", signed(key, symbol="BTCUSDT", orderId=order_id))
        assert status["result"]["origQty"] == "0.02000000"
        refused = await call(ws, 4, "order.place", signed(reader, **order))
        assert (refused["status"], refused["error"]["code"]) == (401, -2015)
        forged = {**signed(key, **order), "signature": "0" * 64}
        bad = await call(ws, 5, "order.place", forged)
        assert (bad["status"], bad["error"]["code"]) == (400, -1022)
        listed = await call(ws, 6, "openOrders.status", signed(key, symbol="BTCUSDT"))
        assert [o["orderId"] for o in listed["result"]] == [order_id]
    assert (await sim.balances(key.account_id))["USDT"]["locked"] == 600
    await sim.cancel_all(key.account_id, "BTCUSDT")


async def test_websocket_api_orders_share_the_rest_order_limit(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    key = await new_trader(sim)
    await sim.set_rate_limits(orders_per_10s=2)
    try:
        async with binance(sim, key) as rest, websockets.connect(ws_url(sim, "/ws-api/v3")) as ws:
            await rest.create_order(SYMBOL, "limit", "buy", 0.01, 20000)
            params = limit_buy("0.01", "20000")
            second = await call(ws, 1, "order.place", signed(key, **params))
            assert second["status"] == 200
            third = await call(ws, 2, "order.place", signed(key, **params))
            assert (third["status"], third["error"]["code"]) == (429, -1015)
            with pytest.raises(ccxt.BaseError, match="-1015"):
                await rest.create_order(SYMBOL, "limit", "buy", 0.01, 20000)
    finally:
        await sim.clear_faults()  # limits back to the configured ones
        await sim.cancel_all(key.account_id, "BTCUSDT")


async def test_user_data_reports_list_status_and_prevented_trades(
    quiet_simulator: SimulatorClient,
) -> None:
    sim = quiet_simulator
    key = await new_trader(sim)
    await sim.print_trades("BTCUSDT", 1, "50000", "0.001")
    ws = await subscribe_user_data(sim, key)
    try:
        async with binance(sim, key) as ex:
            placed = await ex.privatePostOrderListOco(
                {
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "quantity": "0.1",
                    "aboveType": "LIMIT_MAKER",
                    "abovePrice": "55000",
                    "belowType": "STOP_LOSS",
                    "belowStopPrice": "45000",
                }
            )
            await ex.create_order(SYMBOL, "limit", "buy", 0.1, 55000)  # default: EXPIRE_MAKER
        events = await events_until(ws, lambda e: e["e"] == "listStatus" and e["l"] == "ALL_DONE")
    finally:
        await ws.close()
    reports = [e for e in events if e["e"] == "executionReport"]
    lists = [e for e in events if e["e"] == "listStatus"]
    list_id = placed["orderListId"]
    assert [(e["l"], e["L"]) for e in lists] == [
        ("EXEC_STARTED", "EXECUTING"),
        ("ALL_DONE", "ALL_DONE"),
    ]
    assert lists[0]["g"] == list_id
    assert [o["i"] for o in lists[0]["O"]] == [r["orderId"] for r in placed["orderReports"]]
    legs = [r for r in reports if r["g"] == list_id]
    assert [(r["o"], r["x"], r["X"]) for r in legs] == [
        ("STOP_LOSS", "NEW", "NEW"),
        ("LIMIT_MAKER", "NEW", "NEW"),
        ("LIMIT_MAKER", "TRADE_PREVENTION", "EXPIRED_IN_MATCH"),  # own buy met it
        ("STOP_LOSS", "EXPIRED", "EXPIRED"),  # the other leg of the list
    ]
    assert (legs[2]["A"], legs[2]["V"]) == ("0.10000000", "EXPIRE_MAKER")
    await sim.cancel_all(key.account_id, "BTCUSDT")


async def events_until(ws: Any, last: Any, timeout_s: float = 10) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while not events or not last(events[-1]):
            events.append(json.loads(await ws.recv())["event"])
    return events
