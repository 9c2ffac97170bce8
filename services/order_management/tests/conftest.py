"""The session's real parts for order management's tests (see ``harness.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.bus import Producer
from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS
from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.settings import DEFAULT_MARKET
from eip.testing.auth import auth_services
from eip.testing.endpoints import VaultEndpoint
from eip.testing.plugin import TopicFactory
from eip.testing.simulator import run_simulator
from eip.testing.tokens import TokenIssuer
from eip.vault import VaultClient

from .harness import Desk, Instance, Platform, desk_for, make_topics

# One instrument more than the simulator's default market, for the rules a default instrument
# does not have (a maximum notional, a minimum quantity above the lot).
EXTRA_INSTRUMENT = """
[[instrument]]
symbol = "TSTUSDT"
base = "TST"
quote = "USDT"
tick_size = "0.01"
step_size = "0.001"
min_qty = "0.01"
max_qty = "1000"
min_notional = "5"
max_notional = "500"
maker_fee = "0.001"
taker_fee = "0.001"
reference_price = "100"
"""


@pytest.fixture(scope="session")
def quiet_simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("om-sim")
    instruments = folder / "instruments.toml"
    instruments.write_text(DEFAULT_MARKET.read_text() + EXTRA_INSTRUMENT)
    env = {"SIMULATOR_MARKET": "none", "SIMULATOR_INSTRUMENTS_FILE": str(instruments)}
    with run_simulator(folder, env) as process:
        yield process.base_url


@pytest_asyncio.fixture(scope="session")
async def platform(
    quiet_simulator_url: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    token_issuer: TokenIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Platform]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    sim = SimulatorClient(quiet_simulator_url)
    async with auth_services(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        schema=schema,
        credentials_topic=await make_topic(AUTH_CREDENTIALS),
        audit_topic=await make_topic(AUDIT_EVENTS),
        exchange_base_url=quiet_simulator_url,
        log_dir=tmp_path_factory.mktemp("om-auth"),
    ) as start:
        auth = await start()
        client_id = f"order-management-{uuid.uuid4().hex[:6]}"
        secret = await auth.create_client(client_id, ["credentials:use", "books:read"], ["*"])
        yield Platform(
            sim, auth, client_id, secret, kafka_bootstrap_servers, database_url, token_issuer
        )
    await sim.aclose()
    async with db_pool.connection() as conn:
        for name in (schema, f"{schema}_audit"):
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )


@pytest_asyncio.fixture
async def desk(
    platform: Platform,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    producer: Producer,
) -> AsyncIterator[Desk]:
    await platform.sim.clear_faults()
    await platform.sim.reset_rate_limits()
    async with desk_for(platform, db_schema, await make_topics(make_topic), producer) as opened:
        yield opened
    await platform.sim.clear_faults()
    async with db_pool.connection() as conn:
        for name in (f"{db_schema}_audit", f"{db_schema}_md", f"{db_schema}_ob"):
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            await conn.execute(drop)


@pytest_asyncio.fixture(scope="module")
async def shared(
    platform: Platform,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    producer: Producer,
) -> AsyncIterator[tuple[Desk, Instance]]:
    """One desk and one running instance for a whole module: its tests use fresh accounts, so
    they do not see each other's orders."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    async with desk_for(platform, schema, await make_topics(make_topic), producer) as opened:
        instance = await opened.instance()
        yield opened, instance
    async with db_pool.connection() as conn:
        for name in (schema, f"{schema}_audit", f"{schema}_md", f"{schema}_ob"):
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            await conn.execute(drop)


@pytest_asyncio.fixture
async def sim(platform: Platform) -> AsyncIterator[SimulatorClient]:
    """The session's simulator with no fault left over."""
    await platform.sim.clear_faults()
    await platform.sim.reset_rate_limits()
    yield platform.sim
    await platform.sim.clear_faults()
    await platform.sim.reset_rate_limits()


def pytest_configure(config: pytest.Config) -> None:
    """``--log-format=json``-like output for debugging: ``OM_TEST_JSON_LOGS=1`` makes the
    captured logs show every field (the service logs its details as fields)."""
    import logging
    import os

    if os.environ.get("OM_TEST_JSON_LOGS"):
        from eip.observability.logging import JsonFormatter

        handler = logging.FileHandler(os.environ["OM_TEST_JSON_LOGS"])
        handler.setFormatter(JsonFormatter("om-tests"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
