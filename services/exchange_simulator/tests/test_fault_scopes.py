"""Faults per dialect: a lost answer to an order the venue took, REST faults narrowed to a method
or a dialect, stream faults aimed at one dialect and reaching private (user data) sockets, and
clearing that restores tightened rate limits."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest
import websockets

from eip.exchange_simulator.binance.signing import sign, ws_api_payload
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchange_simulator.core.faults import Faults, RestFault

from .helpers import binance, new_trader
from .test_faults import drain, next_messages, ws_url


def test_a_scoped_rest_fault_is_taken_only_by_requests_in_its_scope() -> None:
    faults = Faults()
    faults.rest.append(RestFault("error", 5, path_prefix="/api/v3", method="POST", venue="binance"))
    assert faults.take_rest_fault("/api/v3/order", "GET", "binance") is None
    assert faults.take_rest_fault("/api/v3/order", "POST", "coinbase") is None
    assert faults.take_rest_fault("/api/v3/order", "POST", None) is None  # an unknown dialect
    assert faults.take_rest_fault("/api/v3/order", "post", "binance") is not None
    assert faults.rest[0].remaining == 4


async def test_a_dropped_response_leaves_the_order_placed(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_trader(sim)
    async with binance(sim, key) as ex:
        await sim.drop_responses("/api/v3/order", method="POST")
        ex.timeout = 1500
        started = time.monotonic()
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 30000, {"clientOrderId": "lost-answer-1"}
            )
        assert time.monotonic() - started >= 1.4  # held, not refused
        ex.timeout = 10_000
        found = await ex.fetch_open_orders("BTC/USDT")
        assert [o["clientOrderId"] for o in found] == ["lost-answer-1"]
        again = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
        assert again["status"] == "open"  # one answer lost, not every one
    balances = await sim.balances(key.account_id)
    assert balances["USDT"]["locked"] == 600


async def test_a_method_scoped_fault_leaves_other_methods_alone(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    await sim.fail_requests(count=1, status=502, path_prefix="/api/v3/ticker", method="POST")
    await sim.fail_requests(count=1, status=500, path_prefix="/api/v3", venue="kraken")
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        get = await http.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})
        assert get.status_code == 200  # neither fault is for a Binance GET
        await sim.fail_requests(count=1, status=502, path_prefix="/api/v3/ticker", venue="binance")
        failed = await http.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})
    assert (failed.status_code, failed.json()["code"]) == (502, -1000)


async def test_clearing_faults_restores_tightened_rate_limits(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    configured = await sim.set_rate_limits()
    await sim.set_rate_limits(weight_per_minute=30, orders_per_10s=1)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        statuses = [(await http.get("/api/v3/exchangeInfo")).status_code for _ in range(3)]
        assert statuses[-1] == 429
        await sim.clear_faults()
        assert await sim.set_rate_limits() == configured
        after = await http.get("/api/v3/exchangeInfo")
    assert after.status_code == 200
    assert after.headers["X-MBX-USED-WEIGHT-1M"] == "20"  # counters forgotten too


async def subscribe_user_data(sim: SimulatorClient, key: ApiCredentials) -> Any:
    ws = await websockets.connect(ws_url(sim, "/ws-api/v3"))
    params: dict[str, Any] = {"apiKey": key.api_key, "timestamp": int(time.time() * 1000)}
    params["signature"] = sign(key.secret, ws_api_payload(params))
    request = {"id": 1, "method": "userDataStream.subscribe.signature", "params": params}
    await ws.send(json.dumps(request))
    assert (await next_messages(ws, 1))[0]["status"] == 200
    return ws


async def place_limit(sim: SimulatorClient, key: ApiCredentials) -> None:
    query = urllib.parse.urlencode(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "30000",
            "timestamp": int(time.time() * 1000),
        }
    )
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        response = await http.post(
            "/api/v3/order",
            content=f"{query}&signature={sign(key.secret, query)}",
            headers={
                "X-MBX-APIKEY": key.api_key,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert response.status_code == 200, response.text


async def test_a_stall_holds_private_user_data_events_too(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    key = await new_trader(sim)
    ws = await subscribe_user_data(sim, key)
    try:
        await sim.stall_streams(1.5, venue="binance")
        await place_limit(sim, key)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await ws.recv()
        events = [m["event"]["e"] for m in await next_messages(ws, 2, timeout_s=5)]
        assert "executionReport" in events
    finally:
        await ws.close()


async def test_a_drop_aimed_at_one_dialect_closes_its_private_and_public_sockets_only(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    key = await new_trader(sim)
    user = await subscribe_user_data(sim, key)
    market = await websockets.connect(ws_url(sim, "/ws/btcusdt@trade"))
    coinbase = await websockets.connect(sim.coinbase_ws_url)
    try:
        await coinbase.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
        await next_messages(coinbase, 1)
        assert await sim.drop_streams(venue="binance") >= 2
        for ws in (user, market):
            with pytest.raises(websockets.ConnectionClosed):
                await drain(ws)
        await next_messages(coinbase, 2)  # heartbeats go on
    finally:
        for ws in (user, market, coinbase):
            await ws.close()


async def test_a_stall_aimed_at_one_dialect_leaves_the_others_flowing(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    async with websockets.connect(sim.coinbase_ws_url) as coinbase:  # a heartbeat a second
        await coinbase.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
        await next_messages(coinbase, 1)
        await sim.stall_streams(3, venue="kraken")
        await next_messages(coinbase, 2, timeout_s=2.8)
        await sim.stall_streams(2.5, venue="coinbase")
        await asyncio.sleep(0.2)  # what was already on the wire
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.8):
                await coinbase.recv()
