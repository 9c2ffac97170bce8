"""Trading adapter cost: place + cancel round trips per second and the latency a trading
adapter (Binance by default, ``--venue kraken`` or ``--venue coinbase``) adds — signing
through the auth service included — over bare signed requests to the simulator, measured in the
same run.

Three ways to make the same round trip (a resting limit order placed, then cancelled by its
client order id) against one simulator with no background market:

- **baseline**: bare ``httpx`` requests signed in this process (HMAC-SHA256 with the secret
  here), the same HTTP client the adapter uses — what any Binance client pays (Kraken: an
  ``AddOrder`` and a ``CancelOrder`` by ``cl_ord_id``, HMAC-SHA512, one call at a time per key
  as Kraken's nonces require; the adapter also reads each order back, as Kraken answers ids.
  Coinbase: a placement, then ``batch_cancel`` by the order id it answered, each with its own
  ES256 JWT signed here; the adapter reads each order back too, as Coinbase answers ids);
- **adapter, local signer**: the venue's adapter with a signer that holds the secret in this
  process — the adapter's own cost (parameters, clock, weights, parsing, breaker);
- **adapter, auth signer**: the venue's adapter signing through a real auth service
  (``AuthRequestSigner`` → ``POST /v1/credentials/{id}/sign``: token check, credential row,
  Vault read, audit event) — the production path, the secret never in the adapter.

Sequential round trips, interleaved in rounds so the shared machine's noise falls on all three
alike; then throughput with several flows in flight. Needs Kafka, PostgreSQL and Vault
(``make infra-up``; the auth service gets a schema and topics of its own, removed after).

    uv run python bench/trading_adapter.py [--venue binance|kraken|coinbase] [--round-trips 300]
        [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
import orjson

from eip.credentials_client import AuthRequestSigner, ClientCredentials, CredentialsClient
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges.binance.trading import BinanceTradingAdapter
from eip.exchanges.coinbase.credentials import jwt, sign_rest
from eip.exchanges.coinbase.symbols import coinbase_product_id
from eip.exchanges.coinbase.trading import CoinbaseTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.trading import OrderRequest, OrderType, TradingAdapter
from eip.exchanges.kraken.rest import ApiCounter, Nonces
from eip.exchanges.kraken.trading import KrakenTradingAdapter
from eip.testing.auth import standalone_auth_services
from eip.testing.signers import LocalSigner
from eip.testing.simulator import run_simulator
from eip.testing.timing import Measure, in_flight, interleaved

SYMBOL, INSTRUMENT = "BTC/USDT", "BTCUSDT"
PRICE, QUANTITY = Decimal("1000"), Decimal("0.01")  # rests forever in an empty book
ROUND = 20  # round trips per variant per round

RoundTrip = Callable[[int], Awaitable[None]]


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


def kraken_sign(secret: str, path: str, nonce: str, body: str) -> str:
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class KrakenLocalSigner:
    """Kraken's ``kraken-rest`` with the secret in this process."""

    exchange = "kraken"

    def __init__(self, credentials: ApiCredentials) -> None:
        self._key = credentials.api_key
        self._secret = credentials.secret

    async def sign(self, request: SigningRequest) -> SignedRequest:
        fields = request.fields
        signature = kraken_sign(self._secret, fields["path"], fields["nonce"], fields["body"])
        return SignedRequest(self._key, signature, {"API-Key": self._key, "API-Sign": signature})

    async def aclose(self) -> None:
        pass


def kraken_bare_round_trip(http: httpx.AsyncClient, key: ApiCredentials, run: str) -> RoundTrip:
    nonces, one_at_a_time = Nonces(), asyncio.Lock()

    async def signed(method: str, params: dict[str, str]) -> None:
        path = f"/0/private/{method}"
        async with one_at_a_time:  # Kraken refuses a nonce below the key's last
            nonce = str(nonces.next())
            body = urllib.parse.urlencode({"nonce": nonce, **params})
            headers = {
                "API-Key": key.api_key,
                "API-Sign": kraken_sign(key.secret, path, nonce, body),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            response = await http.post(path, content=body, headers=headers)
        if response.status_code != 200 or response.json()["error"]:
            raise RuntimeError(f"baseline {method}: {response.status_code} {response.text}")

    async def round_trip(n: int) -> None:
        client_id = f"{run}b{n}"
        order = {"pair": "XBTUSDT", "type": "buy", "ordertype": "limit"}
        order |= {"volume": str(QUANTITY), "price": str(PRICE), "cl_ord_id": client_id}
        await signed("AddOrder", order)
        await signed("CancelOrder", {"cl_ord_id": client_id})

    return round_trip


class CoinbaseLocalSigner:
    """Coinbase's ``coinbase-jwt`` with the EC key in this process (auth's own scheme)."""

    exchange = "coinbase"

    def __init__(self, credentials: ApiCredentials) -> None:
        self._secret = ExchangeSecret(credentials.api_key, credentials.secret)

    async def sign(self, request: SigningRequest) -> SignedRequest:
        signed = sign_rest(self._secret, request.fields)
        return SignedRequest(self._secret.api_key, signed.signature, signed.headers)

    async def aclose(self) -> None:
        pass


def coinbase_bare_round_trip(http: httpx.AsyncClient, key: ApiCredentials, run: str) -> RoundTrip:
    secret = ExchangeSecret(key.api_key, key.secret)
    host = http.base_url.netloc.decode()  # what the token's uri names
    orders = "/api/v3/brokerage/orders"

    async def signed(path: str, body: dict[str, object]) -> dict[str, object]:
        headers = {
            "Authorization": f"Bearer {jwt(secret, f'POST {host}{path}')}",  # one per request
            "Content-Type": "application/json",
        }
        response = await http.post(path, content=orjson.dumps(body), headers=headers)
        answer = response.json() if response.status_code == 200 else {}
        results = answer.get("results") or [answer]  # batch_cancel: one result per id
        if not all(result.get("success") for result in results):
            raise RuntimeError(f"baseline {path}: {response.status_code} {response.text}")
        return dict(results[0])

    async def round_trip(n: int) -> None:
        configuration = {"base_size": str(QUANTITY), "limit_price": str(PRICE)}
        placed = await signed(
            orders,
            {
                "client_order_id": str(uuid.uuid4()),
                "product_id": coinbase_product_id(SYMBOL),
                "side": "BUY",
                "order_configuration": {"limit_limit_gtc": configuration},
            },
        )
        await signed(f"{orders}/batch_cancel", {"order_ids": [placed["order_id"]]})

    return round_trip


BASELINES: dict[str, Callable[[httpx.AsyncClient, ApiCredentials, str], RoundTrip]] = {
    "binance": bare_round_trip,
    "kraken": kraken_bare_round_trip,
    "coinbase": coinbase_bare_round_trip,
}


def adapter_round_trip(adapter: TradingAdapter, tag: str) -> RoundTrip:
    rules = adapter.capabilities.client_order_ids

    async def round_trip(n: int) -> None:
        client_id = f"{tag}{n}" if n >= 0 else f"{tag}w{-n}"  # warm-ups: letters and digits
        if not fits(client_id, rules):  # Coinbase's: UUIDs, derived as order management does
            client_id = client_order_id(tag, client_id, rules)
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


def adapters(
    venue: str, base_url: str, keys: list[ApiCredentials], signer: AuthRequestSigner
) -> tuple[TradingAdapter, TradingAdapter]:
    """(local signer, signing through auth): one key each (Kraken's nonces are per key)."""
    if venue == "coinbase":
        return (
            CoinbaseTradingAdapter(CoinbaseLocalSigner(keys[1]), rest_base_url=base_url),
            CoinbaseTradingAdapter(signer, rest_base_url=base_url),
        )
    if venue == "kraken":
        unlimited = ApiCounter(1e12, 1e12)  # the simulator's counters are lifted too
        return (
            KrakenTradingAdapter(
                KrakenLocalSigner(keys[1]), rest_base_url=base_url, api_counter=unlimited
            ),
            KrakenTradingAdapter(signer, rest_base_url=base_url, api_counter=unlimited),
        )
    return (
        BinanceTradingAdapter(LocalSigner(keys[1]), rest_base_url=base_url),
        BinanceTradingAdapter(signer, rest_base_url=base_url),
    )


async def run(venue: str, round_trips: int, flows: int) -> int:
    limits = {"SIMULATOR_MARKET": "none", "SIMULATOR_ORDERS_PER_10S": "1000000"}
    limits["SIMULATOR_WEIGHT_PER_MINUTE"] = "100000000"
    with tempfile.TemporaryDirectory() as tmp, run_simulator(Path(tmp), limits) as simulator:
        sim = SimulatorClient(simulator.base_url)
        account = f"bench-{uuid.uuid4().hex[:8]}"
        await sim.create_account(account, {"USDT": "1000000000"})
        keys = [await sim.create_key(account, venue=venue) for _ in range(3)]
        if venue == "kraken":  # Kraken's API and trading counters out of the way
            huge = {"api_max": 1e12, "api_decay_per_s": 1e12, "order_max": 1e12}
            huge |= {"order_decay_per_s": 1e12, "open_orders_max": 1_000_000}
            async with httpx.AsyncClient(base_url=simulator.base_url) as admin:
                (await admin.post("/admin/v1/kraken/rate-limits", json=huge)).raise_for_status()
        key = keys[0]
        async with standalone_auth_services(
            exchange_base_url=simulator.base_url, log_dir=Path(tmp)
        ) as (start, vault):
            auth = await start(AUTH_LOG_LEVEL="WARNING")
            credential_id = await auth.create_credential(
                account, venue, keys[2].api_key, keys[2].secret
            )
            client_secret = await auth.create_client("bench-trader", ["credentials:use"], [account])
            tokens = ClientCredentials(
                auth.base_url, "bench-trader", client_secret, scope="credentials:use"
            )
            credentials = CredentialsClient(auth.base_url, tokens.token)
            signer = AuthRequestSigner(credentials, credential_id, venue)
            local, via_auth = adapters(venue, simulator.base_url, keys, signer)
            bare = httpx.AsyncClient(base_url=simulator.base_url, timeout=10)
            run_id = uuid.uuid4().hex[:6]
            baseline = BASELINES[venue]
            measures = [
                Measure("baseline: bare signed requests", baseline(bare, key, run_id)),
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
    report(venue, measures, flows)
    return 0


def report(venue: str, measures: list[Measure], flows: int) -> None:
    base = measures[0]
    print(f"{venue}: place + cancel round trips against the simulator", end=" ")
    print(f"({len(base.latencies_ms)} each)")
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
    parser.add_argument("--venue", choices=tuple(BASELINES), default="binance")
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(run(args.venue, args.round_trips, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
