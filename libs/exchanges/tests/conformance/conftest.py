"""The suite's infrastructure, once per session: a simulator with no background market (every
order in its books is a test's), and a real auth service (real Vault, PostgreSQL and Kafka)
that holds the traders' keys and signs for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.events.topics import TopicSpec
from eip.exchange_simulator.client import SimulatorClient
from eip.testing.auth import AuthService, one_auth_service
from eip.testing.endpoints import VaultEndpoint
from eip.testing.simulator import run_simulator
from eip.testing.venues import BINANCE, HARNESSES, KRAKEN, VenueHarness
from eip.vault import VaultClient

from .harness import Desk, desk_for


@pytest.fixture(scope="session")
def quiet_simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"SIMULATOR_MARKET": "none"}
    with run_simulator(tmp_path_factory.mktemp("conformance-sim"), env) as process:
        yield process.base_url


@pytest_asyncio.fixture(scope="session")
async def quiet_simulator(quiet_simulator_url: str) -> AsyncIterator[SimulatorClient]:
    client = SimulatorClient(quiet_simulator_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="session")
async def signing_auth(
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    quiet_simulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AuthService]:
    async with one_auth_service(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        db_pool=db_pool,
        make_topic=make_topic,
        exchange_base_url=quiet_simulator_url,
        log_dir=tmp_path_factory.mktemp("conformance-auth"),
    ) as service:
        yield service


@pytest.fixture(params=HARNESSES, ids=str)
def harness(request: pytest.FixtureRequest) -> VenueHarness:
    venue: VenueHarness = request.param
    return venue


@pytest_asyncio.fixture
async def desk(
    harness: VenueHarness,
    quiet_simulator: SimulatorClient,
    signing_auth: AuthService,
    vault: VaultClient,
) -> AsyncIterator[Desk]:
    """A venue's desk for one test; its traders' orders are cancelled and their secrets
    destroyed in Vault afterwards."""
    await quiet_simulator.clear_faults()
    await quiet_simulator.reset_rate_limits()
    async with desk_for(harness, quiet_simulator, signing_auth, vault) as opened:
        yield opened
    await quiet_simulator.clear_faults()
    await quiet_simulator.reset_rate_limits()


@pytest_asyncio.fixture
async def binance_desk(
    quiet_simulator: SimulatorClient, signing_auth: AuthService, vault: VaultClient
) -> AsyncIterator[Desk]:
    """Binance's desk alone, for what only Binance has (its clock window, -1021)."""
    await quiet_simulator.clear_faults()
    async with desk_for(BINANCE, quiet_simulator, signing_auth, vault) as opened:
        yield opened
    await quiet_simulator.clear_faults()


@pytest_asyncio.fixture
async def kraken_desk(
    quiet_simulator: SimulatorClient, signing_auth: AuthService, vault: VaultClient
) -> AsyncIterator[Desk]:
    """Kraken's desk alone, for what only Kraken has (its newest-first history paging)."""
    await quiet_simulator.clear_faults()
    async with desk_for(KRAKEN, quiet_simulator, signing_auth, vault) as opened:
        yield opened
    await quiet_simulator.clear_faults()  # Kraken's counters back to the default tier
