"""Order path cost: orders/s of one order-management instance and the latency the platform adds
(HTTP in -> idempotency -> pre-trade risk -> order + outbox transaction -> sender -> venue ack
recorded) over the simulator's own round trip for the same placement, measured in the same run.

Two order-management instances run in this process (the real app: uvicorn, real Kafka and
PostgreSQL, one consumer group), trading on a simulator with no background market through the
real ``BinanceTradingAdapter``. The adapters sign in this process (``eip.testing.signers``, as
bench/trading_adapter.py's "local signer"), so what is measured is order management's own
cost; signing through the auth service adds its own (bench/auth_sign.py, per venue request).

Measured, interleaved in rounds of 20 so the shared machine's noise falls on all alike:

- **baseline**: a bare signed ``POST /api/v3/order`` to the simulator (httpx, HMAC here) — the
  venue round trip every placement pays;
- **placed, wait=ack**: ``POST /v1/orders?wait=ack`` to the account's owner, answered once the
  venue's acceptance is recorded — the whole path; *added* = its percentile less the
  baseline's;
- **stored, wait=none**: the same to the owner, answered once the order and its outbox row are
  committed (the venue call happens after the answer);
- **forwarded, wait=none**: to the instance that does not own the account: the command goes
  through ``orders.commands.v1`` to its owner and the answer comes back by PostgreSQL NOTIFY —
  the latency cost of the forwarding choice (docs/ORDER_MANAGEMENT.md, "Ownership").

Then throughput: N placements with F flows in flight (wait=ack) against one instance, and the
baseline's with as many flows. Needs Kafka and PostgreSQL (``make infra-up``); the instances get
topics and a schema of their own, removed after.

    uv run python bench/order_path.py [--orders 400] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from eip.events.topics import (
    AUDIT_EVENTS,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
)
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges.binance.trading import BinanceTradingAdapter
from eip.exchanges.contract.trading import TradingAdapter
from eip.order_management.app import build_app
from eip.order_management.runtime import OrderManagementRuntime, Topics
from eip.order_management.settings import OrderManagementSettings
from eip.testing.scratch import scratch
from eip.testing.signers import LocalSigner
from eip.testing.simulator import free_port, run_simulator
from eip.testing.timing import Call, Measure, in_flight, interleaved
from eip.testing.tokens import TokenIssuer, serve_issuer

SYMBOL, INSTRUMENT = "BTC/USDT", "BTCUSDT"
PRICE, QUANTITY = Decimal("1000"), Decimal("0.01")  # rests forever in an empty book
ROUND = 20
ACCOUNTS = 16
STORED = {"pending_new", "submitted", "accepted"}  # wait=none: the sender may be quicker


@dataclasses.dataclass
class Served:
    runtime: OrderManagementRuntime
    url: str


def bare_place(http: httpx.AsyncClient, keys: list[ApiCredentials], run: str) -> Call:
    async def place(n: int) -> None:
        key = keys[n % len(keys)]
        query = urllib.parse.urlencode(
            {
                "symbol": INSTRUMENT,
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": str(QUANTITY),
                "price": str(PRICE),
                "newClientOrderId": f"{run}b{n}",
                "newOrderRespType": "RESULT",
                "recvWindow": 5000,
                "timestamp": int(time.time() * 1000),
            }
        )
        signature = hmac.new(key.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        response = await http.post(
            f"/api/v3/order?{query}&signature={signature}",
            headers={"X-MBX-APIKEY": key.api_key},
        )
        if response.status_code != 200:
            raise RuntimeError(f"baseline: {response.status_code} {response.text}")

    return place


def om_place(
    http: httpx.AsyncClient, url: str, accounts: list[str], run: str, wait: str, want: set[str]
) -> Call:
    async def place(n: int) -> None:
        body = {
            "account_id": accounts[n % len(accounts)],
            "idempotency_key": f"{run}-{n}",
            "exchange": "binance",
            "symbol": SYMBOL,
            "side": "buy",
            "type": "limit",
            "quantity": str(QUANTITY),
            "price": str(PRICE),
        }
        response = await http.post(f"{url}/v1/orders?wait={wait}", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"{url} {wait}: {response.status_code} {response.text}")
        state = response.json()["order"]["state"]
        if state not in want:
            raise RuntimeError(f"{url} {wait}: the order is {state}, not {want}")

    return place


@contextlib.asynccontextmanager
async def serve(
    name: str,
    settings: dict[str, object],
    topics: Topics,
    adapters: Callable[[str, str], Awaitable[TradingAdapter]],
) -> AsyncIterator[Served]:
    """One order-management instance in this process, over real HTTP."""
    port = free_port()
    app = build_app(
        OrderManagementSettings(**settings, http_port=port, instance_id=name),  # type: ignore[arg-type]
        adapters=adapters,
        topics=topics,
        books_token=_no_token,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield Served(app.state.runtime, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


async def _no_token() -> str:
    return ""


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def run(orders: int, flows: int) -> int:
    limits = {"SIMULATOR_MARKET": "none", "SIMULATOR_ORDERS_PER_10S": "1000000"}
    limits["SIMULATOR_WEIGHT_PER_MINUTE"] = "100000000"
    measures: list[Measure] = []
    specs = (ORDERS_COMMANDS, ORDERS_EVENTS, MD_TRADES, MD_TICKERS, AUDIT_EVENTS)
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_simulator(Path(tmp), limits) as simulator,
        serve_issuer() as issuer,
    ):
        async with scratch("bench", specs) as made:
            topics = Topics(*made.topics)
            sim = SimulatorClient(simulator.base_url)
            keys: dict[str, ApiCredentials] = {}
            for _ in range(ACCOUNTS):
                account = f"bench-{uuid.uuid4().hex[:8]}"
                keys[account] = await sim.create_account_with_key(account, {"USDT": "1000000000"})
            built: list[BinanceTradingAdapter] = []

            async def adapters(account_id: str, exchange: str) -> TradingAdapter:
                adapter = BinanceTradingAdapter(
                    LocalSigner(keys[account_id]), rest_base_url=simulator.base_url
                )
                built.append(adapter)
                return adapter

            settings: dict[str, object] = {
                "kafka_bootstrap_servers": made.kafka_bootstrap_servers,
                "database_url": SecretStr(made.database_url),
                "db_schema": made.schema,
                "audit_schema": f"{made.schema}_audit",
                "group_id": f"bench-{uuid.uuid4().hex[:8]}",
                "order_book_url": "http://127.0.0.1:9",
                "exchange_urls": {"binance": simulator.base_url},
                "log_level": "WARNING",
                "balance_source": "adapter",  # no account service here: the venue's balances
                **issuer.settings(),
            }
            async with (
                serve("om-a", settings, topics, adapters) as a,
                serve("om-b", settings, topics, adapters) as b,
            ):
                partitions = topics.commands.partitions
                await until(
                    lambda: (
                        len(a.runtime.ownership.owned()) + len(b.runtime.ownership.owned())
                        == partitions
                        and bool(a.runtime.ownership.owned())
                        and bool(b.runtime.ownership.owned())
                    ),
                    120,
                    "both instances to own partitions",
                )
                mine = [acc for acc in keys if a.runtime.ownership.owns_account(acc)]
                theirs = [acc for acc in keys if b.runtime.ownership.owns_account(acc)]
                if not mine or not theirs:
                    raise RuntimeError(f"accounts split {len(mine)}/{len(theirs)}: run again")
                headers = _headers(issuer, list(keys))
                http = httpx.AsyncClient(timeout=30, headers=headers)
                bare = httpx.AsyncClient(base_url=simulator.base_url, timeout=10)
                run_id = uuid.uuid4().hex[:6]
                # accounts of the baseline's own: orders order management did not place in its
                # accounts would be adopted by its reconcile passes (and alerted)
                bare_keys = [
                    await sim.create_account_with_key(f"bare-{n}-{run_id}", {"USDT": "1000000000"})
                    for n in range(len(mine))
                ]
                measures = [
                    Measure("baseline: bare signed placement", bare_place(bare, bare_keys, run_id)),
                    Measure(
                        "placed, wait=ack",
                        om_place(http, a.url, mine, f"{run_id}k", "ack", {"accepted"}),
                    ),
                    Measure(
                        "stored, wait=none",
                        om_place(http, a.url, mine, f"{run_id}n", "none", STORED),
                    ),
                    Measure(
                        "forwarded, wait=none",
                        om_place(http, a.url, theirs, f"{run_id}f", "none", STORED),
                    ),
                ]
                try:
                    for measure in measures:  # warm: connections, rules, balances, tokens
                        for n in range(10):
                            await measure.run(-1 - n)
                    await interleaved(measures, orders, ROUND)
                    await asyncio.sleep(2)  # the stored ones reach the venue before the burst
                    for n, measure in enumerate(measures[:2]):
                        await in_flight(measure, orders, flows, 1_000_000 * (n + 1))
                finally:
                    await http.aclose()
                    await bare.aclose()
            for adapter in built:
                with contextlib.suppress(Exception):
                    await adapter.close()
            await sim.aclose()
    report(measures, flows)
    return 0


def _headers(issuer: TokenIssuer, accounts: list[str]) -> dict[str, str]:
    return issuer.headers(["orders:write", "orders:read"], accounts=accounts, subject="bench")


def report(measures: list[Measure], flows: int) -> None:
    base = measures[0]
    print(f"placements against the simulator ({len(base.latencies_ms)} each, sequential)")
    head = f"{'':<34}{'/s':>7}{'/s x' + str(flows):>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(head + f"{'+p50 ms':>9}{'+p99 ms':>9}")
    for m in measures:
        p50, p99 = m.percentile(0.5), m.percentile(0.99)
        rate = 1000 / statistics.fmean(m.latencies_ms)
        burst = f"{m.per_second:>9,.0f}" if m.per_second else f"{'':>9}"
        print(
            f"{m.name:<34}{rate:>7,.0f}{burst}{p50:>9.2f}{p99:>9.2f}"
            f"{p50 - base.percentile(0.5):>9.2f}{p99 - base.percentile(0.99):>9.2f}"
        )
    print(
        "+p50/+p99: over the baseline's percentile (for wait=ack: what the platform adds to the"
        " venue round trip); /s xN: N flows in flight on one instance"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    return asyncio.run(run(args.orders, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
