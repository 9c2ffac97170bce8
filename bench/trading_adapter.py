"""Trading adapter cost: place + cancel round trips per second and the latency the Binance
trading adapter adds — signing through the auth service included — over a bare signed request
to the simulator, measured in the same run.

Three ways to make the same round trip (a resting limit order placed, then cancelled by its
client order id) against one simulator with no background market:

- **baseline**: bare ``httpx`` requests signed in this process (HMAC-SHA256 with the secret
  here), the same HTTP client the adapter uses — what any Binance client pays;
- **adapter, local signer**: ``BinanceTradingAdapter`` with a signer that holds the secret in
  this process — the adapter's own cost (parameters, clock, weights, parsing, breaker);
- **adapter, auth signer**: ``BinanceTradingAdapter`` signing through a real auth service
  (``AuthRequestSigner`` → ``POST /v1/credentials/{id}/sign``: token check, credential row,
  Vault read, audit event) — the production path, the secret never in the adapter.

Sequential round trips, interleaved in rounds so the shared machine's noise falls on all three
alike; then throughput with several flows in flight. Needs Kafka, PostgreSQL and Vault
(``make infra-up``; the auth service gets a schema and topics of its own, removed after).

    uv run python bench/trading_adapter.py [--round-trips 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx

from eip.credentials_client import AuthRequestSigner, ClientCredentials, CredentialsClient
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges.binance.trading import BinanceTradingAdapter
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.trading import OrderRequest, OrderType
from eip.testing.auth import standalone_auth_services
from eip.testing.simulator import run_simulator
from eip.testing.timing import Measure, in_flight, interleaved

SYMBOL, INSTRUMENT = "BTC/USDT", "BTCUSDT"
PRICE, QUANTITY = Decimal("1000"), Decimal("0.01")  # rests forever in an empty book
ROUND = 20  # round trips per variant per round

RoundTrip = Callable[[int], Awaitable[None]]


class LocalSigner:
    """The bench's signer with the secret in this process: the adapter minus the auth hop."""

    exchange = "binance"

    def __init__(self, credentials: ApiCredentials) -> None:
        self._key = credentials.api_key
        self._secret = credentials.secret.encode()

    async def sign(self, request: SigningRequest) -> SignedRequest:
        payload = request.fields["payload"]
        signature = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        return SignedRequest(self._key, signature, {"X-MBX-APIKEY": self._key})

    async def aclose(self) -> None:
        pass


def bare_round_trip(http: httpx.AsyncClient, key: ApiCredentials, run: str) -> RoundTrip:
    secret = key.secret.encode()
    headers = {"X-MBX-APIKEY": key.api_key}

    async def signed(method: str, params: dict[str, str]) -> None:
        query = urllib.parse.urlencode(
            {**params, "recvWindow": 5000, "timestamp": int(time.time() * 1000)}
        )
        signature = hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()
        response = await http.request(
            method, f"/api/v3/order?{query}&signature={signature}", headers=headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"baseline {method}: {response.status_code} {response.text}")

    async def round_trip(n: int) -> None:
        client_id = f"{run}b{n}"
        await signed(
            "POST",
            {
                "symbol": INSTRUMENT,
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": str(QUANTITY),
                "price": str(PRICE),
                "newClientOrderId": client_id,
                "newOrderRespType": "RESULT",
            },
        )
        await signed("DELETE", {"symbol": INSTRUMENT, "origClientOrderId": client_id})

    return round_trip


def adapter_round_trip(adapter: BinanceTradingAdapter, tag: str) -> RoundTrip:
    async def round_trip(n: int) -> None:
        client_id = f"{tag}{n}"
        await adapter.place_order(
            OrderRequest(
                symbol=SYMBOL,
                side="buy",
                type=OrderType.LIMIT,
                client_order_id=client_id,
                quantity=QUANTITY,
                price=PRICE,
            )
        )
        await adapter.cancel_order(SYMBOL, client_order_id=client_id)

    return round_trip


async def run(round_trips: int, flows: int) -> int:
    limits = {"SIMULATOR_MARKET": "none", "SIMULATOR_ORDERS_PER_10S": "1000000"}
    limits["SIMULATOR_WEIGHT_PER_MINUTE"] = "100000000"
    with tempfile.TemporaryDirectory() as tmp, run_simulator(Path(tmp), limits) as simulator:
        sim = SimulatorClient(simulator.base_url)
        account = f"bench-{uuid.uuid4().hex[:8]}"
        key = await sim.create_account_with_key(account, {"USDT": "1000000000"})
        async with standalone_auth_services(
            exchange_base_url=simulator.base_url, log_dir=Path(tmp)
        ) as (start, vault):
            auth = await start(AUTH_LOG_LEVEL="WARNING")
            credential_id = await auth.create_credential(
                account, "binance", key.api_key, key.secret
            )
            client_secret = await auth.create_client("bench-trader", ["credentials:use"], [account])
            tokens = ClientCredentials(
                auth.base_url, "bench-trader", client_secret, scope="credentials:use"
            )
            credentials = CredentialsClient(auth.base_url, tokens.token)
            via_auth = BinanceTradingAdapter(
                AuthRequestSigner(credentials, credential_id, "binance"),
                rest_base_url=simulator.base_url,
            )
            local = BinanceTradingAdapter(LocalSigner(key), rest_base_url=simulator.base_url)
            bare = httpx.AsyncClient(base_url=simulator.base_url, timeout=10)
            run_id = uuid.uuid4().hex[:6]
            measures = [
                Measure("baseline: bare signed requests", bare_round_trip(bare, key, run_id)),
                Measure("adapter, local signer", adapter_round_trip(local, f"{run_id}l")),
                Measure(
                    "adapter, signing through auth", adapter_round_trip(via_auth, f"{run_id}a")
                ),
            ]
            try:
                for measure in measures:  # warm: connections, rules, clock, token
                    for n in range(5):
                        await measure.run(-1 - n)
                await interleaved(measures, round_trips, ROUND)
                for n, measure in enumerate(measures):
                    await in_flight(measure, round_trips, flows, 1_000_000 * (n + 1))
            finally:
                await bare.aclose()
                await local.close()
                await via_auth.close()
                await credentials.aclose()
                await tokens.aclose()
                await sim.aclose()
                await vault.kv_destroy_all(f"exchange-credentials/{account}/{credential_id}")
    report(measures, flows)
    return 0


def report(measures: list[Measure], flows: int) -> None:
    base = measures[0]
    print(f"place + cancel round trips against the simulator ({len(base.latencies_ms)} each)")
    head = f"{'':<32}{'rt/s':>8}{'rt/s x' + str(flows):>10}{'p50 ms':>9}{'p99 ms':>9}"
    print(head + f"{'+p50 ms':>9}{'+p99 ms':>9}{'p50 ratio':>11}")
    for m in measures:
        p50, p99 = m.percentile(0.5), m.percentile(0.99)
        sequential_rate = 1000 / statistics.fmean(m.latencies_ms)
        print(
            f"{m.name:<32}{sequential_rate:>8,.0f}{m.per_second:>10,.0f}{p50:>9.2f}{p99:>9.2f}"
            f"{p50 - base.percentile(0.5):>9.2f}{p99 - base.percentile(0.99):>9.2f}"
            f"{p50 / base.percentile(0.5):>11.2f}"
        )
    print("+p50/+p99: latency added over the baseline's percentile; rt/s xN: N flows in flight")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(run(args.round_trips, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
