"""Where order management's tests trade: the real parts, and the service in process.

A session has an exchange simulator with no background market (every order in its books is a
test's) and a real auth service (real Vault, PostgreSQL, Kafka) that holds the accounts' keys
and signs for the service. A ``Desk`` (one per test) opens accounts at the simulator with their
keys stored in auth, starts order-management instances on a schema and topics of the test's own
(``instance``: the app in process, its HTTP API through ASGI, tokens from the session's issuer)
and reads what they publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.async_support  # noqa: F401  (see below)
import httpx
from fastapi import FastAPI
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.audit import AuditTrail, BrokenLink
from eip.bus import Producer
from eip.events.topics import (
    AUDIT_EVENTS,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    TopicSpec,
    record_key,
)
from eip.events.v1 import common_pb2, market_data_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.order_management.app import build_app
from eip.order_management.runtime import OrderManagementRuntime, Topics
from eip.order_management.settings import OrderManagementSettings
from eip.testing.auth import AuthService
from eip.testing.tokens import TokenIssuer
from eip.testing.topics import read_topic

EXCHANGE = "binance"
SYMBOL = "BTC/USDT"
SIM_SYMBOL = "BTCUSDT"
PRICE = Decimal("1000")  # the quiet simulator's books are the tests'; notional 10 > min 5
QUANTITY = Decimal("0.01")
# ccxt is imported here, at collection: importing it compiles a hundred exchange modules
# (seconds, tens of them without bytecode caches), which inside a test would stall the
# service under test — its Kafka heartbeats share the test's event loop.
T = TypeVar("T")
SCOPES = ["orders:write", "orders:read", "orders:confirm", "risk:admin"]


async def until(
    condition: Callable[[], Any], timeout_s: float = 20.0, what: str = "", every_s: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(every_s)


@dataclass(frozen=True)
class AuditCheck:
    """The audit trail of some orders against their event logs (``audit_of``)."""

    logged: Counter[tuple[str, str, str]]  # (order id, 'order.' + event, version) in the logs
    audited: Counter[tuple[str, str, str]]  # the same triples among the chain's events
    checked: int  # events of the whole chain whose hashes and links were verified
    broken: BrokenLink | None


async def audit_of(
    pool: AsyncConnectionPool[Any], schema: str, order_ids: list[str], timeout_s: float = 60
) -> AuditCheck:
    """Once nothing is staged any more (every instance chains ``audit_outbox`` in batches after
    its transactions), every change of ``order_ids`` as logged and as audited, and the whole
    chain verified by the audit library's own verifier (``AuditTrail.verify``)."""
    staged = sql.Identifier(schema, "audit_outbox")

    async def nothing_staged() -> bool:
        async with pool.connection() as conn:
            cursor = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(staged))
            row = await cursor.fetchone()
            return row is not None and row[0] == 0

    await until(nothing_staged, timeout_s, "the staged audit events to be chained")
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT order_id::text, 'order.' || event, version::text FROM {}"
                " WHERE order_id = ANY(%s::uuid[])"
            ).format(sql.Identifier(schema, "order_events")),
            (order_ids,),
        )
        logged = Counter((str(o), str(e), str(v)) for o, e, v in await cursor.fetchall())
        cursor = await conn.execute(
            sql.SQL(
                "SELECT subject, action, details->>'version' FROM {} WHERE subject = ANY(%s)"
            ).format(sql.Identifier(f"{schema}_audit", "audit_events")),
            (order_ids,),
        )
        audited = Counter((str(s), str(a), str(v)) for s, a, v in await cursor.fetchall())
        checked, broken = await AuditTrail(f"{schema}_audit").verify(conn)
    return AuditCheck(logged, audited, checked, broken)


@dataclass
class Platform:
    """The session's real parts."""

    sim: SimulatorClient
    auth: AuthService
    client_id: str
    client_secret: str = field(repr=False)
    kafka: str
    database_url: str = field(repr=False)
    issuer: TokenIssuer


@dataclass
class Instance:
    app: FastAPI
    runtime: OrderManagementRuntime
    http: httpx.AsyncClient
    stack: contextlib.AsyncExitStack

    async def stop(self) -> None:
        await self.stack.aclose()


class Desk:
    def __init__(
        self,
        platform: Platform,
        schema: str,
        topics: Topics,
        producer: Producer,
    ) -> None:
        self.p = platform
        self.sim = platform.sim
        self.schema = schema
        self.topics = topics
        self.producer = producer
        self.group = f"om-test-{uuid.uuid4().hex[:10]}"
        self.accounts: list[str] = []
        self.makers: list[tuple[str, str]] = []  # (simulator account, symbol) of maker()
        self.keys: dict[str, Any] = {}  # account -> its simulator key (for asking the venue)
        self.instances: list[Instance] = []
        self._stacks: list[contextlib.AsyncExitStack] = []

    def settings(self, **overrides: Any) -> OrderManagementSettings:
        base: dict[str, Any] = {
            "kafka_bootstrap_servers": self.p.kafka,
            "database_url": SecretStr(self.p.database_url),
            "db_schema": self.schema,
            "audit_schema": f"{self.schema}_audit",
            "commands_topic": self.topics.commands.name,
            "events_topic": self.topics.events.name,
            "trades_topic": self.topics.trades.name,
            "tickers_topic": self.topics.tickers.name,
            "audit_topic": self.topics.audit.name,
            "group_id": self.group,
            "auth_url": self.p.auth.base_url,
            "auth_client_id": self.p.client_id,
            "auth_client_secret": SecretStr(self.p.client_secret),
            "order_book_url": "http://127.0.0.1:9",  # no order-book service unless a test has one
            "exchange_urls": {EXCHANGE: self.sim.base_url},
            "venue_timeout_s": 3.0,
            "stream_stale_after_s": 3.0,
            "send_deadline_s": 2.0,
            "in_doubt_horizon_s": 8.0,
            "retry_base_s": 0.2,
            "retry_max_s": 2.0,
            "poll_interval_s": 0.5,
            "reconcile_interval_s": 2.0,
            "lost_after": 2,
            "forward_wait_s": 15.0,
            "risk_refresh_s": 1.0,
            "balance_max_age_s": 0.5,
            # the venue's balances: no account service runs here (test_balances_topic.py runs
            # risk on account.balances.v1)
            "balance_source": "adapter",
            "rules_ttl_s": 1.0,
            **self.p.issuer.settings(),
        }
        base.update(overrides)
        return OrderManagementSettings(**base)

    async def instance(
        self,
        *,
        wait_for_partitions: bool = True,
        books_token: Callable[[], Awaitable[str]] | None = None,
        **overrides: Any,
    ) -> Instance:
        settings = self.settings(instance_id=f"om-{uuid.uuid4().hex[:6]}", **overrides)
        app = build_app(settings, topics=self.topics, books_token=books_token)
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://om", timeout=60
        )
        stack.push_async_callback(http.aclose)
        runtime: OrderManagementRuntime = app.state.runtime
        instance = Instance(app, runtime, http, stack)
        self.instances.append(instance)
        await until(lambda: runtime.ready.is_set(), 30, "the schema to be migrated")
        if wait_for_partitions:
            await until(
                lambda: (
                    sum(len(i.runtime.ownership.owned()) for i in self.instances)
                    == self.topics.commands.partitions
                ),
                60,
                "every partition of the commands topic to be owned",
            )
        return instance

    def headers(
        self,
        accounts: list[str] | None = None,
        subject: str = "trader",
        scopes: list[str] | None = None,
    ) -> dict[str, str]:
        return self.p.issuer.headers(
            scopes or SCOPES, accounts=accounts or self.accounts, subject=subject
        )

    async def account(self, balances: dict[str, str | Decimal] | None = None) -> str:
        """An account at the simulator, its key stored (validated) in auth."""
        account_id = f"om-{uuid.uuid4().hex[:12]}"
        await self.sim.create_account(account_id, balances or {"USDT": "100000", "BTC": "10"})
        key = await self.sim.create_key(account_id, "trading", venue=EXCHANGE)
        await self.p.auth.create_credential(account_id, EXCHANGE, key.api_key, key.secret)
        self.accounts.append(account_id)
        self.keys[account_id] = key
        return account_id

    async def venue_orders(self, account_id: str, symbol: str = SYMBOL) -> list[dict[str, Any]]:
        """Every order the venue has for the account (open and closed), as ccxt reads them."""

        async def fetch() -> list[dict[str, Any]]:
            client = self.sim.ccxt_binance(self.keys[account_id])
            try:
                return list(await client.fetch_orders(symbol, limit=1000))
            finally:
                await client.close()

        return await in_thread(fetch)

    async def place(
        self, instance: Instance, account_id: str, key: str, *, wait: str = "ack", **fields: Any
    ) -> httpx.Response:
        body = {
            "account_id": account_id,
            "idempotency_key": key,
            "exchange": EXCHANGE,
            "symbol": SYMBOL,
            "side": "buy",
            "type": "limit",
            "quantity": str(QUANTITY),
            "price": str(PRICE),
        }
        body.update({k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()})
        return await instance.http.post(
            f"/v1/orders?wait={wait}", json=body, headers=self.headers()
        )

    async def order(self, instance: Instance, order_id: str) -> dict[str, Any]:
        response = await instance.http.get(f"/v1/orders/{order_id}", headers=self.headers())
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()["order"]
        return order

    async def state_of(
        self, instance: Instance, order_id: str, *states: str, timeout_s: float = 30
    ) -> dict[str, Any]:
        """The order once it is in one of ``states`` (its event log in the failure if not)."""
        found: dict[str, Any] = {}

        async def reached() -> bool:
            found.update(await self.order(instance, order_id))
            return found["state"] in states

        try:
            await until(reached, timeout_s, f"order {order_id} to reach {states}", every_s=0.2)
        except AssertionError:
            history = await instance.http.get(
                f"/v1/orders/{order_id}/events", headers=self.headers()
            )
            events = [
                (e["event"], e["state"], e["changes"]) for e in history.json().get("events", [])
            ]
            raise AssertionError(
                f"order {order_id} is {found.get('state')}, not {states}: {events}"
            ) from None
        return found

    async def maker(
        self, side: str, price: Decimal, quantity: Decimal, symbol: str = SYMBOL
    ) -> None:
        """Resting liquidity from an account outside the platform (straight at the simulator)."""
        account_id = f"mm-{uuid.uuid4().hex[:10]}"
        balances: dict[str, str | Decimal] = {"USDT": "10000000", "BTC": "1000", "ETH": "100000"}
        creds = await self.sim.create_account_with_key(account_id, balances)
        self.makers.append((account_id, symbol))

        async def order() -> None:
            client = self.sim.ccxt_binance(creds)
            try:
                await client.create_order(symbol, "limit", side, float(quantity), float(price))
            finally:
                await client.close()

        await in_thread(order)

    async def clear_makers(self) -> None:
        """Cancel what ``maker`` left resting at the simulator."""
        for account_id, symbol in self.makers:
            await self.sim.cancel_all(account_id, symbol.replace("/", ""))
        self.makers.clear()

    async def ticker(
        self, bid: str, ask: str, at: datetime | None = None, symbol: str = SYMBOL
    ) -> None:
        """A live price on the test's md.tickers.v1, as the market-data service publishes it."""
        message = market_data_pb2.Ticker(
            instrument=common_pb2.Instrument(exchange=EXCHANGE, symbol=symbol), bid=bid, ask=ask
        )
        message.times.received_time.FromDatetime(at or datetime.now(UTC))
        await self.producer.publish(self.topics.tickers, record_key(EXCHANGE, symbol), message)

    async def market_data(self) -> FastAPI:
        """The market-data service in process, streaming the simulator's BTC/USDT trades and
        ticker to this desk's md topics (what emulated triggers and price bands read)."""
        from eip.events.topics import MD_CANDLES
        from eip.market_data.app import build_app as market_data_app
        from eip.market_data.settings import MarketDataSettings, SubscriptionConfig

        settings = MarketDataSettings(
            kafka_bootstrap_servers=self.p.kafka,
            database_url=SecretStr(self.p.database_url),
            history_schema=f"{self.schema}_md",
            subscriptions=[
                SubscriptionConfig(exchange=EXCHANGE, symbol=SYMBOL, channel="trades"),
                SubscriptionConfig(exchange=EXCHANGE, symbol=SYMBOL, channel="ticker"),
            ],
            exchange_urls={EXCHANGE: self.sim.base_url},
            candles_enabled=False,
            **self.p.issuer.settings(),
        )
        app = market_data_app(
            settings,
            trades_topic=self.topics.trades,
            tickers_topic=self.topics.tickers,
            candles_topic=dataclasses.replace(
                MD_CANDLES, name=f"{self.topics.trades.name}.candles"
            ),
        )
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        self._stacks.append(stack)
        return app

    async def order_book(self) -> str:
        """The order-book service following the simulator's BTC/USDT book, served over real
        HTTP on a free port (order management asks it for slippage estimates); its URL."""
        import uvicorn

        from eip.order_book.app import build_app as order_book_app
        from eip.order_book.settings import OrderBookSettings
        from eip.testing.simulator import free_port

        settings = OrderBookSettings(
            kafka_bootstrap_servers=self.p.kafka,
            database_url=SecretStr(self.p.database_url),
            subscriptions={EXCHANGE: [SYMBOL]},
            subscriptions_schema=f"{self.schema}_ob",
            exchange_urls={EXCHANGE: self.sim.base_url},
            **self.p.issuer.settings(),
        )
        app = order_book_app(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        task = asyncio.create_task(server.serve())

        async def stop() -> None:
            server.should_exit = True
            await asyncio.wait_for(task, 15)

        stack = contextlib.AsyncExitStack()
        stack.push_async_callback(stop)
        self._stacks.append(stack)
        await until(lambda: server.started, 30, "the order-book service to serve")
        return f"http://127.0.0.1:{port}"

    async def limits(self, instance: Instance, scope: str, scope_id: str, **limits: Any) -> None:
        body = {
            "scope": scope,
            "scope_id": scope_id,
            "limits": {k: str(v) if isinstance(v, Decimal) else v for k, v in limits.items()},
        }
        response = await instance.http.put("/v1/risk/limits", json=body, headers=self.headers())
        assert response.status_code == 200, response.text

    async def switch(
        self, instance: Instance, level: str, scope_id: str, state: str, **extra: Any
    ) -> dict[str, Any]:
        body = {"level": level, "scope_id": scope_id, "state": state, **extra}
        response = await instance.http.put(
            "/v1/risk/kill-switches", json=body, headers=self.headers()
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def print_at(self, price: str, count: int = 1) -> None:
        """Trades on the simulator's tape at ``price`` (no book change)."""
        await self.sim.print_trades(SIM_SYMBOL, count, price, "0.001")

    async def events(self) -> list[Any]:
        return await read_topic(self.p.kafka, self.topics.events)

    async def close(self) -> None:
        for stack in self._stacks:
            with contextlib.suppress(Exception):
                await stack.aclose()
        for instance in reversed(self.instances):
            with contextlib.suppress(Exception):
                await instance.stop()
        for account_id in self.accounts:
            with contextlib.suppress(Exception):
                for symbol in (SIM_SYMBOL, "ETHUSDT"):
                    await self.sim.cancel_all(account_id, symbol)


async def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on a loop of its own in a thread: ccxt builds its markets synchronously
    (seconds on a loaded machine), which must not stall the service under test, whose Kafka
    heartbeats share the test's loop."""
    return await asyncio.to_thread(lambda: asyncio.run(work()))  # type: ignore[arg-type]


async def make_topics(make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]]) -> Topics:
    return Topics(
        commands=await make_topic(ORDERS_COMMANDS),
        events=await make_topic(ORDERS_EVENTS),
        trades=await make_topic(MD_TRADES),
        tickers=await make_topic(MD_TICKERS),
        audit=await make_topic(AUDIT_EVENTS),
    )


@contextlib.asynccontextmanager
async def desk_for(
    platform: Platform, schema: str, topics: Topics, producer: Producer
) -> AsyncIterator[Desk]:
    desk = Desk(platform, schema, topics, producer)
    try:
        yield desk
    finally:
        await desk.close()
