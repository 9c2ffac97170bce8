"""Signing through the auth service alone: ``POST /v1/credentials/{id}/sign`` requests per
second and p50/p99 latency, beside the same HMAC computed in this process and a bare HTTP round
trip to the same auth process (``GET /healthz``), measured in the same run.

- **local HMAC**: what signing costs where the secret is (the floor of any signing path);
- **bare round trip**: ``GET /healthz`` of the same auth process over the same keep-alive
  client — what any HTTP call to auth pays before it does anything;
- **sign through auth**: ``CredentialsClient.sign_request`` (the adapters' ``AuthRequestSigner``
  path): token check, the credential's status, its secret, the HMAC, the aggregated audit.

The ratio that matters is sign over bare round trip: the work auth adds per signature. Rounds
of each interleaved so the shared machine's noise falls on all of them; then throughput with
several requests in flight. Needs Kafka, PostgreSQL and Vault (``make infra-up``; the auth
service gets a schema and topics of its own, removed after) and starts a simulator to validate
the key.

    uv run python bench/auth_sign.py [--requests 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from eip.credentials_client import ClientCredentials, CredentialsClient
from eip.exchange_simulator.client import SimulatorClient
from eip.testing.auth import standalone_auth_services
from eip.testing.simulator import run_simulator
from eip.testing.timing import Measure, in_flight, interleaved

ROUND = 50  # requests per variant per round
PAYLOAD = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=1000"


async def run(requests: int, flows: int) -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_simulator(Path(tmp), {"SIMULATOR_MARKET": "none"}) as simulator,
    ):
        sim = SimulatorClient(simulator.base_url)
        account = f"bench-{uuid.uuid4().hex[:8]}"
        key = await sim.create_account_with_key(account, {"USDT": "1000"})
        async with standalone_auth_services(
            exchange_base_url=simulator.base_url, log_dir=Path(tmp)
        ) as (start, vault):
            auth = await start(AUTH_LOG_LEVEL="WARNING")
            credential_id = await auth.create_credential(
                account, "binance", key.api_key, key.secret
            )
            client_secret = await auth.create_client("bench-signer", ["credentials:use"], [account])
            tokens = ClientCredentials(
                auth.base_url, "bench-signer", client_secret, scope="credentials:use"
            )
            credentials = CredentialsClient(auth.base_url, tokens.token)
            bare = httpx.AsyncClient(base_url=auth.base_url, timeout=10)
            secret = key.secret.encode()

            async def local(n: int) -> None:
                hmac.new(secret, f"{PAYLOAD}&timestamp={n}".encode(), hashlib.sha256).hexdigest()

            async def healthz(n: int) -> None:
                response = await bare.get("/healthz")
                if response.status_code != 200:
                    raise RuntimeError(f"healthz: {response.status_code}")

            async def sign(n: int) -> None:
                await credentials.sign_request(
                    credential_id, "binance-rest", {"payload": f"{PAYLOAD}&timestamp={n}"}
                )

            measures = [
                Measure("local HMAC", local),
                Measure("bare round trip (/healthz)", healthz),
                Measure("sign through auth", sign),
            ]
            try:
                signed = await credentials.sign_request(
                    credential_id, "binance-rest", {"payload": PAYLOAD}
                )
                expected = hmac.new(secret, PAYLOAD.encode(), hashlib.sha256).hexdigest()
                if signed["signature"] != expected:
                    raise RuntimeError("auth signed something else than the local HMAC")
                for measure in measures:  # warm: connections, token, caches
                    for n in range(20):
                        await measure.run(n)
                await interleaved(measures, requests, ROUND)
                for measure in measures[1:]:
                    await in_flight(measure, requests, flows)
            finally:
                await bare.aclose()
                await credentials.aclose()
                await tokens.aclose()
                await sim.aclose()
                await vault.kv_destroy_all(f"exchange-credentials/{account}/{credential_id}")
    report(measures, flows)
    return 0


def report(measures: list[Measure], flows: int) -> None:
    local, bare, sign = measures
    print(f"signing requests, {len(sign.latencies_ms)} sequential each, then {flows} in flight")
    print(f"{'':<30}{'req/s':>9}{'req/s x' + str(flows):>11}{'p50 ms':>9}{'p99 ms':>9}")
    for m in measures:
        rate = 1000 / statistics.fmean(m.latencies_ms)
        in_flight = f"{m.per_second:>11,.0f}" if m.per_second else f"{'':>11}"
        print(
            f"{m.name:<30}{rate:>9,.0f}{in_flight}{m.percentile(0.5):>9.3f}"
            f"{m.percentile(0.99):>9.3f}"
        )
    print(
        f"sign over bare round trip: p50 x{sign.percentile(0.5) / bare.percentile(0.5):.2f}"
        f" (+{sign.percentile(0.5) - bare.percentile(0.5):.2f} ms),"
        f" p99 x{sign.percentile(0.99) / bare.percentile(0.99):.2f}"
        f" (+{sign.percentile(0.99) - bare.percentile(0.99):.2f} ms);"
        f" throughput x{sign.per_second / bare.per_second:.2f}"
    )
    print(
        f"sign over local HMAC: +{sign.percentile(0.5) - local.percentile(0.5):.2f} ms at p50,"
        f" +{sign.percentile(0.99) - local.percentile(0.99):.2f} ms at p99"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(run(args.requests, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
