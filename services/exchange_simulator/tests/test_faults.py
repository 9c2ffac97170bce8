"""Every fault of the admin API, observed the way a client would observe it."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest
import websockets

from eip.exchange_simulator.client import SimulatorClient

from .helpers import binance, new_trader


def ws_url(sim: SimulatorClient, path: str) -> str:
    return sim.base_url.replace("http", "ws", 1) + path


async def next_messages(ws: Any, count: int, timeout_s: float = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while len(out) < count:
            out.append(json.loads(await ws.recv()))
    return out


async def drain(ws: Any, timeout_s: float = 5) -> None:
    """Read until the server closes the connection (ConnectionClosed) or the time is up."""
    async with asyncio.timeout(timeout_s):
        while True:
            await ws.recv()


async def test_rest_5xx_for_n_requests(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    await sim.fail_requests(count=2, status=503, path_prefix="/api/v3/ticker")
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        statuses = [
            (await http.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})).status_code
            for _ in range(3)
        ]
        other = await http.get("/api/v3/time")
    assert statuses == [503, 503, 200]
    assert other.status_code == 200
    async with binance(sim) as ex:
        await sim.fail_requests(count=1, status=500)
        with pytest.raises(ccxt.BaseError, match="-1000"):  # ccxt: OperationFailed
            await ex.fetch_ticker("BTC/USDT")
        assert (await ex.fetch_ticker("BTC/USDT"))["last"] > 0


async def test_rest_timeout(clean_simulator: SimulatorClient) -> None:
    await clean_simulator.fail_requests(count=1, mode="timeout", path_prefix="/api/v3/depth")
    async with binance(clean_simulator) as ex:
        ex.timeout = 1000
        started = time.monotonic()
        with pytest.raises(ccxt.RequestTimeout):
            await ex.fetch_order_book("BTC/USDT")
        assert time.monotonic() - started < 5
        assert (await ex.fetch_order_book("BTC/USDT"))["bids"]


async def test_dropped_stream_is_closed(clean_simulator: SimulatorClient) -> None:
    async with websockets.connect(ws_url(clean_simulator, "/ws/btcusdt@depth@100ms")) as ws:
        await next_messages(ws, 1)
        assert await clean_simulator.drop_streams("btcusdt") >= 1
        with pytest.raises(websockets.ConnectionClosed):
            await drain(ws)


async def test_stalled_stream_goes_quiet_then_catches_up(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with websockets.connect(ws_url(sim, "/ws/ethusdt@aggTrade")) as ws:
        # Stalled well past the quiet second checked below: on a loaded machine the two admin
        # calls alone can take half a second.
        await sim.stall_streams(3)
        await sim.print_trades("ETHUSDT", 3, "3000.00", "0.1")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await ws.recv()
        messages = await next_messages(ws, 3, timeout_s=8)
        assert all(m["e"] == "aggTrade" for m in messages)


async def test_delayed_stream_messages(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with websockets.connect(ws_url(sim, "/ws/solusdt@trade")) as ws:
        await sim.delay_streams(400)
        sent = time.monotonic()
        await sim.print_trades("SOLUSDT", 1, "150.00", "1")
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["p"] == "150.00000000" and message["q"] == "1.00000000":
                break
        assert time.monotonic() - sent >= 0.4


async def _diffs(ws: Any, count: int) -> list[tuple[int, int]]:
    return [(m["U"], m["u"]) for m in await next_messages(ws, count)]


async def test_skipped_sequence_leaves_a_gap(clean_simulator: SimulatorClient) -> None:
    async with websockets.connect(ws_url(clean_simulator, "/ws/btcusdt@depth@100ms")) as ws:
        before = await _diffs(ws, 3)
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(before))
        await clean_simulator.skip_sequence("BTCUSDT", 1, venue="binance")
        after = await _diffs(ws, 4)
    pairs = before + after
    gaps = [b[0] - a[1] - 1 for a, b in itertools.pairwise(pairs) if b[0] != a[1] + 1]
    assert len(gaps) == 1
    assert gaps[0] > 0


async def test_repeated_sequence_arrives_twice(clean_simulator: SimulatorClient) -> None:
    async with websockets.connect(ws_url(clean_simulator, "/ws/btcusdt@depth@100ms")) as ws:
        await _diffs(ws, 2)
        await clean_simulator.repeat_sequence("BTCUSDT", 1, venue="binance")
        pairs = await _diffs(ws, 5)
    assert any(a == b for a, b in itertools.pairwise(pairs))


async def test_halted_symbol_refuses_orders(clean_simulator: SimulatorClient) -> None:
    key = await new_trader(clean_simulator)
    await clean_simulator.halt("ETHBTC")
    async with binance(clean_simulator, key) as ex:
        info = await ex.publicGetExchangeInfo({"symbol": "ETHBTC"})
        assert info["symbols"][0]["status"] == "HALT"
        with pytest.raises(ccxt.MarketClosed, match="Market is closed"):
            await ex.create_order("ETH/BTC", "limit", "sell", 0.1, 0.05)
        await clean_simulator.resume_symbol("ETHBTC")
        order = await ex.create_order("ETH/BTC", "limit", "sell", 0.1, 0.5)
        assert order["status"] == "open"


async def test_skewed_clock(clean_simulator: SimulatorClient) -> None:
    key = await new_trader(clean_simulator)
    async with binance(clean_simulator, key) as ex:
        await clean_simulator.skew_clock(-120_000)  # the exchange runs two minutes behind
        server = await ex.fetch_time()
        assert server < ex.milliseconds() - 100_000
        with pytest.raises(ccxt.InvalidNonce, match="-1021"):
            await ex.fetch_balance()


async def test_weight_limit_then_ban(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    await sim.set_rate_limits(weight_per_minute=30, ban_after_violations=2, ban_seconds=60)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        seen = []
        for _ in range(12):
            r = await http.get("/api/v3/exchangeInfo")  # weight 20
            seen.append((r.status_code, r.headers.get("Retry-After"), r.json().get("code")))
        used = (await http.get("/api/v3/ping")).status_code
    statuses = [s for s, _, _ in seen]
    assert statuses[0] == 200
    assert 429 in statuses
    assert statuses[-1] == 418
    assert all(code == -1003 and retry for s, retry, code in seen if s in (429, 418))
    assert used == 418  # banned for everything, not only the heavy endpoint
    await sim.reset_rate_limits()
    await sim.set_rate_limits(weight_per_minute=6000)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        ok = await http.get("/api/v3/ping")
    assert ok.status_code == 200
    assert int(ok.headers["X-MBX-USED-WEIGHT-1M"]) == 1


async def test_order_count_limit(clean_simulator: SimulatorClient) -> None:
    key = await new_trader(clean_simulator)
    await clean_simulator.set_rate_limits(orders_per_10s=3)
    try:
        async with binance(clean_simulator, key) as ex:
            for _ in range(3):
                await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
            with pytest.raises(ccxt.BaseError, match="-1015"):
                await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    finally:
        await clean_simulator.set_rate_limits(orders_per_10s=100)


async def test_ws_message_rate_limit_disconnects(clean_simulator: SimulatorClient) -> None:
    async with websockets.connect(ws_url(clean_simulator, "/ws/0")) as ws:
        for n in range(8):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
        with pytest.raises(websockets.ConnectionClosed):
            await drain(ws)


async def test_ws_connection_attempts_are_limited(clean_simulator: SimulatorClient) -> None:
    await clean_simulator.set_rate_limits(ws_connections_per_5min=2)
    try:
        for _ in range(2):
            async with websockets.connect(ws_url(clean_simulator, "/ws/btcusdt@trade")):
                pass
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(ws_url(clean_simulator, "/ws/btcusdt@trade"))
        assert refused.value.response.status_code == 403  # the handshake is refused
    finally:
        await clean_simulator.set_rate_limits(ws_connections_per_5min=300)
