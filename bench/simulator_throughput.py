"""Exchange simulator throughput: stream messages per second to one client, and order requests
per second per dialect's order entry, each printed beside a baseline measured in the same run on
the same machine.

Baselines: a bare ``websockets`` server pushing pre-serialized messages of the same size (the
ceiling of Python WebSockets here); for each order entry, the same client doing the same work
(signing included: Coinbase's client signs an ES256 JWT per request) against a bare endpoint of
its transport, a uvicorn/Starlette endpoint for REST (the ceiling of Python HTTP here) or a bare
``websockets`` server answering each request for the WebSocket API. Targets: 20,000 messages/s
and 1,000 orders/s.

Order entry is one function per dialect (``ORDER_ENTRY``): Binance REST (``POST /api/v3/order``),
Binance's WebSocket API (``order.place``), Kraken (``POST /0/private/AddOrder``), Coinbase
(``POST /api/v3/brokerage/orders``): a function taking (base URL, keys of that venue, count) and
returning orders per second. Kraken wants a strictly increasing nonce per key, which concurrent
requests on one key cannot keep in order on arrival, so its workers sign with a key each (a real
client would set a nonce window instead).

    uv run python bench/simulator_throughput.py [--messages 100000] [--orders 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eip.exchange_simulator.binance.signing import sign, ws_api_payload
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchange_simulator.core.key_formats import Venue, new_key
from eip.exchange_simulator.kraken.signing import sign as kraken_sign
from eip.testing.simulator import run_simulator
from eip.tokens.jwt import b64url_encode, der_to_jws, signing_input

WS_TARGET = 20_000
ORDER_TARGET = 1_000
CONCURRENCY = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- baselines, each in its own process so that client and server do not share a core -----


def _bare_ws_server(port: int, count: int, message: str) -> None:
    async def push(ws: websockets.ServerConnection) -> None:
        await ws.recv()
        for _ in range(count):
            await ws.send(message)
        await ws.wait_closed()

    async def main() -> None:
        async with websockets.serve(push, "127.0.0.1", port):
            await asyncio.Future()

    asyncio.run(main())


def _bare_ws_api_server(port: int) -> None:
    answer = json.dumps({"id": 0, "status": 200, "result": {"orderId": 1, "status": "NEW"}})

    async def respond(ws: websockets.ServerConnection) -> None:
        async for _ in ws:
            await ws.send(answer)

    async def main() -> None:
        async with websockets.serve(respond, "127.0.0.1", port):
            await asyncio.Future()

    asyncio.run(main())


def _bare_http_server(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def order(_: object) -> JSONResponse:
        return JSONResponse({"orderId": 1, "status": "NEW"})

    app = Starlette(
        routes=[
            Route("/api/v3/order", order, methods=["POST"]),
            Route("/0/private/AddOrder", order, methods=["POST"]),
            Route("/api/v3/brokerage/orders", order, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


async def _receive(url: str, count: int, start: str | None = None) -> float:
    async with websockets.connect(url, max_queue=None) as ws:
        if start is not None:
            await ws.send(start)
        began = time.perf_counter()
        for _ in range(count):
            await ws.recv()
        return count / (time.perf_counter() - began)


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def _against_bare(
    server: Callable[..., None], client: Callable[[int], Awaitable[float]], *server_args: object
) -> float:
    """``client(port)`` measured against a bare ``server(port, *server_args)`` in a process of
    its own (so client and server do not share a core)."""
    port = _free_port()
    process = multiprocessing.Process(target=server, args=(port, *server_args), daemon=True)
    process.start()
    try:
        _wait_port(port)
        return await client(port)
    finally:
        process.terminate()


async def baseline_ws(count: int, message: str) -> float:
    return await _against_bare(
        _bare_ws_server,
        lambda port: _receive(f"ws://127.0.0.1:{port}/", count, start="go"),
        count,
        message,
    )


async def simulator_ws(sim: SimulatorClient, count: int) -> tuple[float, str]:
    url = sim.base_url.replace("http", "ws") + "/ws/btcusdt@trade"
    async with websockets.connect(url, max_queue=None) as ws:
        await asyncio.sleep(0.2)
        printing = asyncio.create_task(sim.print_trades("BTCUSDT", count, "65000.10", "0.01"))
        sample = await ws.recv()
        began = time.perf_counter()
        for _ in range(count - 1):
            await ws.recv()
        rate = (count - 1) / (time.perf_counter() - began)
        await printing
    return rate, str(sample)


def _order_params(n: int) -> dict[str, str | int]:
    """The n-th benchmark order: buys far below and sells far above, so nothing trades."""
    return {
        "symbol": "BTCUSDT",
        "side": "BUY" if n % 2 else "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": f"{(40000 if n % 2 else 90000) + n % 500}.00",
        "timestamp": int(time.time() * 1000),
        "recvWindow": 60000,
    }


async def _post_orders(base_url: str, count: int, key: str, secret: str) -> float:
    """Signed limit orders from CONCURRENCY workers on one aiohttp session (ccxt's own HTTP
    client; httpx manages only about 300 requests/s here and would measure itself)."""
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    next_order = iter(range(count))
    failures: list[int] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base_url, connector=connector) as http:

        async def worker() -> None:
            for n in next_order:
                query = urllib.parse.urlencode(_order_params(n))
                body = f"{query}&signature={sign(secret, query)}"
                async with http.post("/api/v3/order", data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures.append(response.status)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} orders failed: {failures[:5]}")
    return count / elapsed


async def _ws_orders(ws_url: str, count: int, key: str, secret: str) -> float:
    """Signed ``order.place`` requests, CONCURRENCY in flight on one connection (as ccxt.pro
    keeps one WebSocket API connection)."""
    in_flight = asyncio.Semaphore(CONCURRENCY)
    async with websockets.connect(ws_url, max_queue=None) as ws:

        async def read_answers() -> None:
            for _ in range(count):
                answer = json.loads(await ws.recv())
                in_flight.release()
                if answer.get("status") != 200:
                    raise RuntimeError(f"an order failed: {answer}")

        reader = asyncio.create_task(read_answers())
        began = time.perf_counter()
        for n in range(count):
            await in_flight.acquire()
            params: dict[str, object] = {"apiKey": key, **_order_params(n)}
            params["returnRateLimits"] = False
            params["signature"] = sign(secret, ws_api_payload(params))
            await ws.send(json.dumps({"id": n, "method": "order.place", "params": params}))
        await reader
        return count / (time.perf_counter() - began)


def _coinbase_jwt(key: ApiCredentials, private: ec.EllipticCurvePrivateKey, uri: str) -> str:
    now = int(time.time())
    header = {"alg": "ES256", "kid": key.api_key, "nonce": os.urandom(16).hex()}
    claims = {"sub": key.api_key, "iss": "cdp", "nbf": now, "exp": now + 120, "uri": uri}
    signed = signing_input(header, claims)
    signature = der_to_jws(private.sign(signed, ec.ECDSA(hashes.SHA256())))
    return f"{signed.decode()}.{b64url_encode(signature)}"


async def _post_coinbase_orders(base_url: str, count: int, key: ApiCredentials) -> float:
    """Coinbase limit orders (JSON, a fresh ES256 JWT each) from CONCURRENCY workers."""
    private = serialization.load_pem_private_key(key.secret.encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    path = "/api/v3/brokerage/orders"
    uri = f"POST {urllib.parse.urlsplit(base_url).netloc}{path}"
    next_order = iter(range(count))
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base_url, connector=connector) as http:

        async def worker() -> None:
            for n in next_order:
                body = {
                    "client_order_id": f"bench-{n}",
                    "product_id": "BTC-USDT",
                    "side": "BUY" if n % 2 else "SELL",
                    "order_configuration": {
                        "limit_limit_gtc": {
                            "base_size": "0.001",
                            "limit_price": f"{(40000 if n % 2 else 90000) + n % 500}.00",
                        }
                    },
                }
                headers = {"Authorization": f"Bearer {_coinbase_jwt(key, private, uri)}"}
                async with http.post(path, json=body, headers=headers) as response:
                    answer = await response.json()
                    if response.status != 200 or answer.get("success") is False:
                        failures.append(f"{response.status} {answer}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} orders failed: {failures[:3]}")
    return count / elapsed


async def _post_kraken_orders(base_url: str, count: int, keys: list[ApiCredentials]) -> float:
    """Kraken limit orders (form body, HMAC-SHA512 over path + SHA-256(nonce + body)), one worker
    per key so that each key's nonces arrive in order."""
    path = "/0/private/AddOrder"
    next_order = iter(range(count))
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=len(keys))
    async with aiohttp.ClientSession(base_url, connector=connector) as http:

        async def worker(key: ApiCredentials) -> None:
            nonce = time.time_ns()
            for n in next_order:
                nonce += 1
                body = urllib.parse.urlencode(
                    {
                        "nonce": nonce,
                        "ordertype": "limit",
                        "type": "buy" if n % 2 else "sell",
                        "volume": "0.001",
                        "pair": "XBTUSDT",
                        "price": f"{(40000 if n % 2 else 90000) + n % 500}.0",
                    }
                )
                headers = {
                    "API-Key": key.api_key,
                    "API-Sign": kraken_sign(key.secret, path, str(nonce), body),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                async with http.post(path, data=body, headers=headers) as response:
                    answer = await response.json(content_type=None)
                    if response.status != 200 or answer.get("error"):
                        failures.append(f"{response.status} {answer}")

        began = time.perf_counter()
        await asyncio.gather(*(worker(key) for key in keys))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} orders failed: {failures[:3]}")
    return count / elapsed


# -- order entry per dialect: (base URL, keys of that venue, count) -> orders/s ------------------

OrderEntry = Callable[[str, list[ApiCredentials], int], Awaitable[float]]


async def binance_rest_orders(base_url: str, keys: list[ApiCredentials], count: int) -> float:
    return await _post_orders(base_url, count, keys[0].api_key, keys[0].secret)


async def binance_ws_api_orders(base_url: str, keys: list[ApiCredentials], count: int) -> float:
    ws_url = base_url.replace("http", "ws", 1) + "/ws-api/v3"
    return await _ws_orders(ws_url, count, keys[0].api_key, keys[0].secret)


async def kraken_orders(base_url: str, keys: list[ApiCredentials], count: int) -> float:
    return await _post_kraken_orders(base_url, count, keys)


async def coinbase_orders(base_url: str, keys: list[ApiCredentials], count: int) -> float:
    return await _post_coinbase_orders(base_url, count, keys[0])


# name: (venue of the keys, how many keys, order entry, transport of its bare baseline)
ORDER_ENTRY: dict[str, tuple[Venue, int, OrderEntry, str]] = {
    "binance REST": ("binance", 1, binance_rest_orders, "http"),
    "binance WebSocket API": ("binance", 1, binance_ws_api_orders, "ws"),
    "kraken REST, key per worker": ("kraken", CONCURRENCY, kraken_orders, "http"),
    "coinbase REST, a JWT each": ("coinbase", 1, coinbase_orders, "http"),
}


async def baseline_orders(
    venue: Venue, keys: int, entry: OrderEntry, transport: str, count: int
) -> float:
    """The same order entry against a bare endpoint of its transport, with keys of its venue
    (the bare endpoint checks nothing; the client still signs everything)."""
    creds = [ApiCredentials(*new_key(venue), "bench") for _ in range(keys)]
    server = _bare_http_server if transport == "http" else _bare_ws_api_server
    return await _against_bare(server, lambda port: entry(f"http://127.0.0.1:{port}", creds, count))


async def run(messages: int, orders: int) -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_simulator(
            Path(tmp),
            {
                "SIMULATOR_MARKET": "none",
                "SIMULATOR_ORDERS_PER_10S": "1000000",
                "SIMULATOR_WEIGHT_PER_MINUTE": "100000000",
            },
        ) as process,
    ):
        sim = SimulatorClient(process.base_url)
        order_rates: list[tuple[str, float, float]] = []
        try:
            await sim.create_account("bench", {"USDT": "100000000000", "BTC": "100000"})
            sim_ws, sample = await simulator_ws(sim, messages)
            base_ws = await baseline_ws(messages, sample)
            # Kraken's trading counters would hold a burst back: the bench measures the server.
            async with aiohttp.ClientSession(process.base_url) as admin:
                limits = {"api_max": 1e7, "order_max": 1e7, "open_orders_max": 10_000_000}
                async with admin.post("/admin/v1/kraken/rate-limits", json=limits) as answer:
                    answer.raise_for_status()
            for name, (venue, keys, entry, transport) in ORDER_ENTRY.items():
                creds = [await sim.create_key("bench", venue=venue) for _ in range(keys)]
                await sim.cancel_all("bench", "BTCUSDT")  # each dialect starts on the same book
                rate = await entry(process.base_url, creds, orders)
                base = await baseline_orders(venue, keys, entry, transport, orders)
                order_rates.append((name, rate, base))
        finally:
            await sim.aclose()
    ok = sim_ws >= WS_TARGET and all(rate >= ORDER_TARGET for _, rate, _ in order_rates)
    print(f"{'measure':<60}{'simulator':>12}{'baseline':>12}{'ratio':>8}{'target':>10}")
    print(
        f"{'stream messages/s to one client':<60}{sim_ws:>12,.0f}{base_ws:>12,.0f}"
        f"{sim_ws / base_ws:>8.2f}{WS_TARGET:>10,}"
    )
    for name, rate, base in order_rates:
        label = f"order requests/s, {name} ({CONCURRENCY} in flight)"
        print(f"{label:<60}{rate:>12,.0f}{base:>12,.0f}{rate / base:>8.2f}{ORDER_TARGET:>10,}")
    print("baselines: bare websockets server pushing the same message; the same order client")
    print("against a bare uvicorn endpoint (REST) or a bare websockets server (WebSocket API)")
    print("result:", "targets met" if ok else "BELOW TARGET")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=3_000)
    args = parser.parse_args()
    return asyncio.run(run(args.messages, args.orders))


if __name__ == "__main__":
    sys.exit(main())
