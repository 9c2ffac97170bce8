"""The automation service as a test runs it: its app on real Kafka (unique topics) and
PostgreSQL (a schema of its own, the audit chain in another), tokens from the test issuer.

For the tests that trade through order management (``desk``): the real order-management
service in process, started by order management's own test harness (a quiet exchange simulator,
the auth service holding the accounts' keys) on the same commands, events and market topics."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from google.protobuf.message import Message
from order_management.tests.conftest import platform, quiet_simulator_url
from order_management.tests.harness import Desk, Platform, desk_for
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.automation.app import build_app
from eip.automation.runtime import Automation
from eip.automation.settings import AutomationSettings
from eip.automation.storage.rules import RuleStore
from eip.automation.topics import Topics, unique_topics
from eip.bus import Producer
from eip.bus.codec import decode
from eip.events.topics import TopicSpec, record_key
from eip.exchanges.contract.market_data import Ticker
from eip.market_data.wire import ticker_message
from eip.order_management.runtime import Topics as OrderManagementTopics
from eip.testing.plugin import TopicFactory
from eip.testing.service_processes import kill_process, start_process, stop_process
from eip.testing.simulator import free_port
from eip.testing.tokens import TokenIssuer

__all__ = ["platform", "quiet_simulator_url"]  # order management's session fixtures, reused

ACCOUNT = "acct-1"
# a market buy of 25 USDT of BTC on binance, the action of the crash and rebalance tests
BUY_25_USDT = {
    "type": "place_order",
    "exchange": "binance",
    "symbol": "BTC/USDT",
    "side": "buy",
    "order_type": "market",
    "quote_quantity": "25",
}


def above(level: str) -> dict[str, str]:
    """A condition: binance BTC/USDT's last price above ``level``."""
    return {
        "type": "price_cross",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "direction": "above",
        "level": level,
    }


@dataclass
class Service:
    app: FastAPI
    http: httpx.AsyncClient
    topics: Topics
    settings: AutomationSettings

    @property
    def automation(self) -> Automation:
        automation: Automation = self.app.state.automation
        return automation

    @property
    def store(self) -> RuleStore:
        store: RuleStore = self.app.state.rules
        return store


Starter = Callable[..., Awaitable[Service]]


@pytest_asyncio.fixture
async def topics(make_topic: TopicFactory) -> Topics:
    return await unique_topics(make_topic)


@pytest_asyncio.fixture
async def start_service(
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    topics: Topics,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Starter]:
    """Starts instances of the service (same schema, topics and group), each with its own
    lifespan; all stop at the end of the test, the audit schema is dropped."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Service:
            settings = AutomationSettings(
                kafka_bootstrap_servers=kafka_bootstrap_servers,
                database_url=SecretStr(database_url),
                db_schema=db_schema,
                audit_schema=f"{db_schema}_audit",
                group_id=f"automation-{db_schema}",
                tick_interval_s=0.2,
                connect_timeout_s=5.0,
                **token_issuer.settings(),
                **overrides,
            )
            app = build_app(settings, topics)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://test",
                    headers=token_issuer.headers(accounts=[ACCOUNT]),
                )
            )
            service = Service(app, http, topics, settings)
            await until(lambda: service.store.migrated, 30, "rule storage migrated")
            return service

        yield start
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(f"{db_schema}_audit"))
        )


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)


async def read_all(bootstrap: str, topic: TopicSpec, timeout_s: float = 5.0) -> list[Message]:
    """Every record of ``topic`` up to its end now, decoded."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic.name} not read to its end in {timeout_s}s")
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                out += [decode(topic, r.value, r.headers) for r in records]
        return out
    finally:
        await consumer.stop()


@pytest_asyncio.fixture
async def desk(
    platform: Platform,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    topics: Topics,
    producer: Producer,
) -> AsyncIterator[Desk]:
    """Order management's desk on the automation test's topics (its commands, the events it
    publishes, the market it prices from) and a schema of its own; ``desk.instance()`` starts
    the service."""
    await platform.sim.clear_faults()
    schema = f"{db_schema}_om"
    shared = OrderManagementTopics(
        commands=topics.commands,
        events=topics.order_events,
        trades=topics.trades,
        tickers=topics.tickers,
        audit=topics.audit,
    )
    async with desk_for(platform, schema, shared, producer) as opened:
        yield opened
        await opened.clear_makers()
    async with db_pool.connection() as conn:
        for name in (schema, f"{schema}_audit"):
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            await conn.execute(drop)


async def tick(producer: Producer, topics: Topics, last: str, symbol: str = "BTC/USDT") -> None:
    """A ticker on the test's md.tickers.v1 with bid = ask = last (what rules and order
    management's price checks read)."""
    now = datetime.now(UTC)
    price = Decimal(last)
    ticker = Ticker(
        "binance", symbol, price, Decimal(1), price, Decimal(1), price,
        None, None, None, None, None, now, now,
    )  # fmt: skip
    await producer.publish(topics.tickers, record_key("binance", symbol), ticker_message(ticker))


class Process:
    """The service as a real process (``python -m eip.automation``), killed outright or
    stopped gently; its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        self.env, self.log, self.port = env, log, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_process("eip.automation", self.env, self.log)

    def kill(self) -> None:
        assert self.process is not None
        kill_process(self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process, 20)

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"the service exited: {self.log.read_text()[-3000:]}")
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        raise AssertionError(f"not ready in {timeout_s}s: {self.log.read_text()[-3000:]}")


@pytest.fixture
def processes(
    tmp_path: Path,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    topics: Topics,
    token_issuer: TokenIssuer,
) -> Iterator[Callable[[str], Process]]:
    """Makes service processes on the test's schema, topics and group (``instance_id`` names
    each; the same id again is a restart of that instance); all are stopped at the end."""
    made: list[Process] = []

    def make(instance_id: str) -> Process:
        port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "DATABASE_URL": database_url,
            "AUTOMATION_HTTP_HOST": "127.0.0.1",
            "AUTOMATION_HTTP_PORT": str(port),
            "AUTOMATION_DB_SCHEMA": db_schema,
            "AUTOMATION_AUDIT_SCHEMA": f"{db_schema}_audit",
            "AUTOMATION_GROUP_ID": f"automation-{db_schema}",
            "AUTOMATION_INSTANCE_ID": instance_id,
            "AUTOMATION_ARBITRAGE_ENABLED": "false",
            "AUTOMATION_TICK_INTERVAL_S": "0.2",
            **token_issuer.environment("AUTOMATION_"),
            **{
                f"AUTOMATION_{f.name.upper()}_TOPIC": getattr(topics, f.name).name
                for f in fields(Topics)
            },
        }
        process = Process(env, tmp_path / f"automation-{instance_id}.log", port)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
