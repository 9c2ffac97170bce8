"""End to end against the exchange simulator, in each trading dialect it serves (Binance,
Kraken, Coinbase: ``eip.testing.venues.HARNESSES``), with the venue's real trading adapter
signing through a real auth service (Vault, PostgreSQL, Kafka), the real market-data service
publishing tickers, and the account service — all on real infrastructure.

- a key stored at auth is connected and its balances appear within seconds;
- a fill placed directly at the simulator shows in balances through the private stream and in
  the trade history; the quote-currency total equals a hand computation from the simulator's
  prices;
- a stream cut and a REST outage make the connection degraded, then it recovers with nothing
  lost or counted twice;
- the trade sync SIGKILLed half-way resumes from its stored cursor: the stored fills equal the
  venue's, none twice (Binance: the resumable cursor is the account service's, not a venue's).

The simulator's books are one per instrument whichever dialect reads them, so one market (made
through the Binance dialect) and the market-data service's Binance tickers price every venue's
balances. Kraken's account is of the pro tier at the simulator and in its adapter (its
``balances`` channel sends totals; free and locked come from ``BalanceEx``, paced by the tier).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.account.app import build_app
from eip.account.runtime import AccountRuntime, Topics
from eip.account.settings import AccountSettings
from eip.account.valuation import PRECISION
from eip.events.topics import (
    ACCOUNT_BALANCES,
    AUDIT_EVENTS,
    AUTH_CREDENTIALS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_EVENTS,
)
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.market_data.app import build_app as market_data_app
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.resilience import RetryPolicy
from eip.testing.auth import AuthService, auth_services
from eip.testing.endpoints import VaultEndpoint
from eip.testing.simulator import free_port, run_simulator
from eip.testing.tokens import TokenIssuer
from eip.testing.venues import BINANCE, HARNESSES, VenueHarness
from eip.vault import VaultClient

pytestmark = pytest.mark.integration
D = Decimal
FAST = {
    "reconnect_policy": RetryPolicy(attempts=1_000_000, base_delay_s=0.05, max_delay_s=0.5),
    "stale_after_s": 15.0,  # the machine is shared: a loaded loop is not a dead stream
}


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


@dataclass
class Platform:
    venue: VenueHarness
    sim: SimulatorClient
    auth: AuthService
    issuer: TokenIssuer
    http: httpx.AsyncClient
    rt: AccountRuntime
    schema: str
    client_id: str
    client_secret: str
    env: dict[str, str]

    async def account(self, balances: dict[str, str]) -> tuple[str, ApiCredentials, ApiCredentials]:
        """A venue account, the key the platform is given, and the owner's own key for trading
        directly (a second key, as at the real venue: Kraken's nonces are per key and must only
        grow, so two clients on one key would refuse each other's requests)."""
        account_id = f"e2e-{uuid.uuid4().hex[:10]}"
        await self.sim.create_account(account_id, balances)  # type: ignore[arg-type]
        keys = [
            await self.sim.create_key(account_id, "trading", venue=self.venue.venue)
            for _ in range(2)
        ]
        return account_id, keys[0], keys[1]

    async def connect(self, account_id: str, key: ApiCredentials) -> str:
        """The key stored (and validated at the simulator) by auth: the account service's cue."""
        return await self.auth.create_credential(
            account_id, self.venue.venue, key.api_key, key.secret
        )

    def headers(self, account_id: str) -> dict[str, str]:
        return self.issuer.headers(["accounts:read"], accounts=[account_id])

    async def get(self, account_id: str, path: str, **params: Any) -> dict[str, Any]:
        answer = await self.http.get(
            f"/v1/accounts/{account_id}{path}", params=params, headers=self.headers(account_id)
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def totals(self, account_id: str) -> dict[str, Decimal]:
        answer = await self.http.get(
            f"/v1/accounts/{account_id}/balances", headers=self.headers(account_id)
        )
        if answer.status_code != 200:
            return {}
        return {a["asset"]: D(a["total"]) for a in answer.json()["consolidated"]}

    async def venue_totals(self, account_id: str) -> dict[str, Decimal]:
        return {
            asset: b["free"] + b["locked"]
            for asset, b in (await self.sim.balances(account_id)).items()
            if b["free"] + b["locked"] != 0
        }

    async def status(self, account_id: str) -> str | None:
        answer = await self.http.get(
            f"/v1/accounts/{account_id}/connections", headers=self.headers(account_id)
        )
        if answer.status_code != 200:
            return None
        (conn,) = answer.json()["connections"]
        return str(conn["status"])

    async def trade_ids(self, account_id: str) -> list[str]:
        body = await self.get(account_id, "/trades", limit=1000)
        return [f"{t['symbol']}#{t['trade_id']}#{t['order_id']}" for t in body["trades"]]


async def venue_trade_ids(p: Platform, key: ApiCredentials) -> list[str]:
    """The account's fills as the venue's own API lists them (an unmodified ccxt), named as
    the adapters name a fill: symbol, the pair's public trade id, the venue's order id. (ccxt's
    Kraken ``id`` is the fill's own txid, one per side; the public ``trade_id`` is in ``info``.)
    """
    exchange = p.venue.ccxt(p.sim, key)

    def name(t: dict[str, Any]) -> str:
        return f"{t['symbol']}#{t['info'].get('trade_id', t['id'])}#{t['order']}"

    try:
        if not p.venue.my_trades_per_symbol:
            return [name(t) for t in await exchange.fetch_my_trades(None)]
        out = []
        for symbol in ("BTC/USDT", "ETH/USDT", "ETH/BTC", "BTC/USD", "SOL/USDT", "ETH/USD"):
            out += [name(t) for t in await exchange.fetch_my_trades(symbol, limit=1000)]
        return out
    finally:
        await exchange.close()


async def market_order(p: Platform, key: ApiCredentials, side: str, qty: str) -> None:
    """A fill placed directly at the simulator, in the venue's dialect (not through the
    platform: the account service learns of it from the venue alone)."""
    exchange = p.venue.ccxt(p.sim, key)
    try:
        # a venue sizing market buys in the quote currency (Coinbase) has ccxt ask for a price
        # to convert the base quantity with: the maker's ask
        quote_sized = side == "buy" and exchange.options.get("createMarketBuyOrderRequiresPrice")
        price = 65010 if quote_sized else None
        await exchange.create_order("BTC/USDT", "market", side, float(qty), price)
    finally:
        await exchange.close()


@pytest.fixture(scope="module")
def quiet_simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simulator without a background market: every order in its books is this module's,
    so prices hold still for the hand computation and the shared machine's load stays low."""
    with run_simulator(tmp_path_factory.mktemp("e2e-sim"), {"SIMULATOR_MARKET": "none"}) as sim:
        yield sim.base_url


async def make_market(sim: SimulatorClient) -> None:
    """A maker's resting orders around 65,000 on BTC/USDT and BTC/USD."""
    maker = f"maker-{uuid.uuid4().hex[:8]}"
    await sim.create_account(maker, {"USDT": "10000000", "USD": "10000000", "BTC": "1000"})
    exchange = sim.ccxt_binance(await sim.create_key(maker, "trading", venue="binance"))
    try:
        for symbol, bid, ask in (("BTC/USDT", 64990, 65010), ("BTC/USD", 64980, 65020)):
            await exchange.create_order(symbol, "limit", "buy", 5, bid)
            await exchange.create_order(symbol, "limit", "sell", 5, ask)
    finally:
        await exchange.close()


@pytest.fixture(params=HARNESSES, ids=str)
def venue(request: pytest.FixtureRequest) -> VenueHarness:
    harness: VenueHarness = request.param
    return harness


@pytest_asyncio.fixture
async def platform(
    venue: VenueHarness,
    quiet_simulator_url: str,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: Any,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    token_issuer: TokenIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Platform]:
    simulator = SimulatorClient(quiet_simulator_url)
    await simulator.clear_faults()
    await simulator.reset_rate_limits()
    await venue.set_up(simulator)
    await make_market(simulator)
    run = uuid.uuid4().hex[:10]
    schemas = [f"test_{run}_auth", f"test_{run}_auth_audit", f"test_{run}_md", f"test_{run}_acct"]
    credentials = await make_topic(AUTH_CREDENTIALS)
    tickers = await make_topic(MD_TICKERS)
    topics = Topics(
        await make_topic(ACCOUNT_BALANCES), tickers, credentials, await make_topic(ORDERS_EVENTS)
    )
    infra: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "database_url": SecretStr(database_url),
        "connect_timeout_s": 3.0,
        **token_issuer.settings(),
    }
    try:
        async with AsyncExitStack() as stack:
            start = await stack.enter_async_context(
                auth_services(
                    database_url=database_url,
                    kafka_bootstrap_servers=kafka_bootstrap_servers,
                    vault=vault,
                    vault_endpoint=vault_endpoint,
                    schema=schemas[0],
                    credentials_topic=credentials,
                    audit_topic=await make_topic(AUDIT_EVENTS),
                    exchange_base_url=simulator.base_url,
                    log_dir=tmp_path_factory.mktemp("e2e-auth"),
                )
            )
            auth = await start()
            client_id = f"account-{run}"
            secret = await auth.create_client(client_id, ["credentials:use", "market:read"], ["*"])
            md = market_data_app(
                MarketDataSettings(
                    **infra,
                    history_schema=schemas[2],
                    exchange_urls={"binance": simulator.base_url},
                    subscriptions=[
                        SubscriptionConfig(exchange="binance", symbol=s, channel="ticker")
                        for s in ("BTC/USDT", "BTC/USD")
                    ],
                    candles_enabled=False,
                ),
                trades_topic=await make_topic(MD_TRADES),
                tickers_topic=tickers,
                candles_topic=await make_topic(MD_CANDLES),
            )
            await stack.enter_async_context(md.router.lifespan_context(md))
            settings = AccountSettings(
                **infra,
                db_schema=schemas[3],
                group_id=f"account-e2e-{run}",
                auth_url=auth.base_url,
                auth_client_id=client_id,
                auth_client_secret=SecretStr(secret),
                market_data_url="http://127.0.0.1:9",
                exchange_urls={venue.venue: simulator.base_url},
                # long: balances that change within seconds came through the stream
                reconcile_interval_s=60,
                trade_sync_interval_s=2,
                retry_base_delay_s=0.1,
                retry_max_delay_s=1,
            )
            options = {**venue.adapter_options, **FAST}  # the venue's account, the test's pace
            app = build_app(settings, topics=topics, adapter_options=options)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            )
            rt: AccountRuntime = app.state.account
            await asyncio.wait_for(rt.ready.wait(), 60)
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                "DATABASE_URL": database_url,
                **token_issuer.environment("ACCOUNT_"),
                "ACCOUNT_AUTH_URL": auth.base_url,
                "ACCOUNT_AUTH_CLIENT_ID": client_id,
                "ACCOUNT_AUTH_CLIENT_SECRET": secret,
                "ACCOUNT_EXCHANGE_URLS": f'{{"{venue.venue}": "{simulator.base_url}"}}',
                "ACCOUNT_MARKET_DATA_URL": "http://127.0.0.1:9",
                "ACCOUNT_TICKERS_TOPIC": tickers.name,
                "ACCOUNT_BALANCES_TOPIC": topics.balances.name,
                "ACCOUNT_ORDER_EVENTS_TOPIC": topics.order_events.name,
            }
            yield Platform(
                venue, simulator, auth, token_issuer, http, rt, schemas[3], client_id, secret, env
            )
    finally:
        await simulator.clear_faults()  # and the venue's admin setup (Kraken's tier)
        await simulator.reset_rate_limits()
        await simulator.aclose()
        async with db_pool.connection() as conn:
            for name in schemas:
                await conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


async def test_a_key_connects_balances_appear_a_fill_streams_in_and_the_total_is_the_venues(
    platform: Platform,
) -> None:
    account_id, key, own = await platform.account({"USDT": "10000", "BTC": "1"})
    started = time.monotonic()
    await platform.connect(account_id, key)
    await until(
        lambda: _totals_are(platform, account_id, {"USDT": D(10000), "BTC": D(1)}),
        60,  # a liveness bound, not the goal: timings are the benches' job, never an assertion
        "the key's balances",
    )
    print(f"balances {time.monotonic() - started:.1f} s after the key was connected")
    await until(lambda: _status_is(platform, account_id, "live"), 30, "live")

    await market_order(platform, own, "buy", "0.01")
    venue = await platform.venue_totals(account_id)
    assert venue["BTC"] != D(1)
    await until(lambda: _totals_equal_venue(platform, account_id), 15, "the fill in balances")
    async with platform.rt.store._conn() as conn:  # the history says who brought the change
        cur = await conn.execute(
            sql.SQL("SELECT DISTINCT source FROM {} WHERE asset = 'BTC'").format(
                sql.Identifier(platform.schema, "balance_history")
            )
        )
        sources = {str(r[0]) for r in await cur.fetchall()}
    assert "stream" in sources, sources
    venue_trades = await venue_trade_ids(platform, own)
    assert len(venue_trades) >= 1
    await until(
        lambda: _trades_are(platform, account_id, venue_trades), 30, "the fill in trade history"
    )
    (conn_info,) = (await platform.get(account_id, "/connections"))["connections"]
    assert set(conn_info["permissions"]) >= {"read", "trade"}
    assert conn_info["ip_restricted"] is False  # read from auth's metadata, not the event

    # the hand computation, on the books' prices (only the tests' orders move them)
    mids: dict[str, Decimal] = {}

    async def graph_has_the_books() -> bool:
        for symbol in ("BTCUSDT", "BTCUSD"):
            book = await platform.sim.book(symbol, limit=1)
            with localcontext() as ctx:
                ctx.prec = PRECISION
                mids[symbol] = (D(book["bids"][0][0]) + D(book["asks"][0][0])) / 2
        seen = {s: platform.rt.graph.known_price("binance", s) for s in ("BTC/USDT", "BTC/USD")}
        return all(p is not None and p.price == mids[s.replace("/", "")] for s, p in seen.items())

    await until(graph_has_the_books, 30, "the tickers of the books")
    venue = await platform.venue_totals(account_id)
    usdt = await platform.get(account_id, "/balances", quote="USDT")
    usd = await platform.get(account_id, "/balances", quote="USD")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        in_usdt = venue["BTC"] * mids["BTCUSDT"] + venue["USDT"]
        usdt_in_usd = (D(1) / mids["BTCUSDT"]) * mids["BTCUSD"]  # USDT → BTC → USD
        in_usd = venue["BTC"] * mids["BTCUSD"] + venue["USDT"] * usdt_in_usd
    assert D(usdt["total_value"]) == in_usdt
    assert D(usd["total_value"]) == in_usd
    routes = {a["asset"]: a["route"] for a in usd["consolidated"]}
    assert routes["USDT"]["kind"] == "bridge"
    assert [leg["symbol"] for leg in routes["USDT"]["legs"]] == ["BTC/USDT", "BTC/USD"]
    assert usd["unvalued"] == 0


async def test_a_stream_cut_and_a_rest_outage_degrade_then_recover_with_nothing_lost(
    platform: Platform,
) -> None:
    account_id, key, own = await platform.account({"USDT": "10000", "BTC": "1"})
    await platform.connect(account_id, key)
    await until(lambda: _status_is(platform, account_id, "live"), 30, "live")
    venue = platform.venue
    for path in venue.account_paths:
        await platform.sim.fail_requests(10_000, 503, path, venue=venue.venue)
    cut = await platform.sim.drop_streams(venue.private_stream, venue=venue.venue)
    assert cut >= 1  # ours was cut
    platform.rt.manager.refresh(account_id, venue.venue)
    await until(lambda: _status_is(platform, account_id, "degraded"), 30, "degraded")

    async def rest_named() -> bool:
        reason = (await platform.get(account_id, "/connections"))["connections"][0]["reason"]
        return "rest" in (reason or "")

    await until(rest_named, 30, "the reason to name REST")

    for side in ("buy", "sell", "buy"):  # fills while the sync cannot read REST
        await market_order(platform, own, side, "0.01")
    await platform.sim.clear_faults()
    # the adapter's circuit breaker may hold REST for its cool-down (30 s) after the outage
    await until(lambda: _status_is(platform, account_id, "live"), 120, "recovered")
    await until(lambda: _totals_equal_venue(platform, account_id), 30, "balances caught up")
    venue_trades = await venue_trade_ids(platform, own)
    assert len(venue_trades) >= 3
    await until(lambda: _trades_are(platform, account_id, venue_trades), 60, "trades caught up")
    stored = await platform.trade_ids(account_id)
    assert len(stored) == len(set(stored)) == len(venue_trades)


@pytest.mark.parametrize("venue", [BINANCE], ids=str)
async def test_a_trade_sync_killed_half_way_resumes_with_every_fill_once(
    platform: Platform, tmp_path: Path
) -> None:
    account_id, key, own = await platform.account({"USDT": "100000", "BTC": "1"})
    for i in range(24):
        await market_order(platform, own, "buy" if i % 2 == 0 else "sell", "0.001")
    venue_trades = await venue_trade_ids(platform, own)
    assert len(venue_trades) >= 24
    await platform.rt.manager.stop_all()  # the in-process service stands aside
    schema = f"test_{uuid.uuid4().hex[:10]}_kill"
    env = {
        **os.environ,
        **platform.env,
        "ACCOUNT_DB_SCHEMA": schema,
        "ACCOUNT_GROUP_ID": f"account-kill-{uuid.uuid4().hex[:8]}",
        "ACCOUNT_CREDENTIALS_TOPIC": platform.rt.topics.credentials.name,
        "ACCOUNT_TRADE_PAGE_LIMIT": "2",
        "ACCOUNT_HTTP_PORT": str(free_port()),
    }

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "eip.account"], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    async def stored() -> list[tuple[str, str, str]]:
        async with platform.rt.store._conn() as conn:
            cur = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.fills",))
            row = await cur.fetchone()
            if row is None or row[0] is None:
                return []
            cur = await conn.execute(
                sql.SQL("SELECT symbol, trade_id, venue_order_id FROM {}").format(
                    sql.Identifier(schema, "fills")
                )
            )
            return [(str(a), str(b), str(c)) for a, b, c in await cur.fetchall()]

    await platform.connect(account_id, key)
    first = start("first")
    try:
        killed_at = 0

        async def half_way() -> bool:
            nonlocal killed_at
            rows = await stored()
            if 0 < len(rows) < len(venue_trades):
                first.send_signal(signal.SIGKILL)
                killed_at = len(rows)
                return True
            assert len(rows) < len(venue_trades), "the sync finished before it could be killed"
            return False

        await until(half_way, 90, "the sync to be half-way")
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        assert 0 < killed_at < len(venue_trades)
        second = start("second")
        try:

            async def complete() -> bool:
                return len(await stored()) >= len(venue_trades)

            await until(complete, 120, "the restarted sync to finish")
            await asyncio.sleep(2)  # anything more it would write
            rows = await stored()
            assert len(rows) == len(set(rows))
            assert sorted(f"{s}#{t}#{o}" for s, t, o in rows) == sorted(venue_trades)
        finally:
            second.terminate()
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
        async with platform.rt.store._conn() as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
            await conn.commit()


async def _totals_are(p: Platform, account_id: str, expected: dict[str, Decimal]) -> bool:
    totals = await p.totals(account_id)
    return {a: v for a, v in totals.items() if v} == expected


async def _totals_equal_venue(p: Platform, account_id: str) -> bool:
    totals = await p.totals(account_id)
    return {a: v for a, v in totals.items() if v} == await p.venue_totals(account_id)


async def _status_is(p: Platform, account_id: str, status: str) -> bool:
    return await p.status(account_id) == status


async def _trades_are(p: Platform, account_id: str, expected: list[str]) -> bool:
    return sorted(await p.trade_ids(account_id)) == sorted(expected)
