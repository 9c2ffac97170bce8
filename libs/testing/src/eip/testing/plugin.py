"""Pytest fixtures for tests that need real infrastructure.

A fixture whose component is missing fails the test with how to start it; nothing is skipped
and nothing is faked.
"""

from __future__ import annotations

import dataclasses
import decimal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.bus import KafkaUnavailable, Producer, ProducerConfig
from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS, TopicSpec, dlq_spec
from eip.exchange_simulator.client import SimulatorClient
from eip.storage import DatabaseUnavailable, open_pool
from eip.testing import endpoints, redaction
from eip.testing.auth import AuthFactory, auth_services
from eip.testing.simulator import SimulatorProcess, run_simulator
from eip.testing.tokens import TokenIssuer, serve_issuer
from eip.vault import VaultClient, VaultUnavailable
from eip.vault.provision import provision

TopicFactory = Callable[[TopicSpec], Awaitable[TopicSpec]]


def _fail(component: str, exc: Exception) -> None:
    pytest.fail(f"{component} is not available: {exc}\n{endpoints.HOW_TO_START}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    redaction.redact_report(report)
    return report


@pytest.fixture(autouse=True)
def default_decimal_context() -> None:
    """Every test starts in Python's default decimal context. ccxt's decimal_to_precision sets
    the caller's context (ROUND_HALF_UP, Underflow trapped) and never puts it back, so a test
    run after one that drove a ccxt client computed in another rounding: the full suite failed
    tests that passed alone (the calibration defaults, the Bollinger bands' symmetry)."""
    decimal.setcontext(decimal.Context())


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> str:
    try:
        return endpoints.kafka_bootstrap_servers()
    except endpoints.InfrastructureMissing as exc:
        _fail("Kafka", exc)
        raise


@pytest.fixture(scope="session")
def database_url() -> str:
    try:
        return endpoints.database_url()
    except endpoints.InfrastructureMissing as exc:
        _fail("PostgreSQL", exc)
        raise


@pytest.fixture(scope="session")
def vault_endpoint() -> endpoints.VaultEndpoint:
    try:
        return endpoints.vault_endpoint()
    except endpoints.InfrastructureMissing as exc:
        _fail("Vault", exc)
        raise


@pytest_asyncio.fixture(scope="session")
async def make_topic(kafka_bootstrap_servers: str) -> AsyncIterator[TopicFactory]:
    """Create a uniquely named copy of a registered topic (and its DLQ) for one test."""
    created: list[str] = []
    try:
        async with admin_client(kafka_bootstrap_servers) as admin:

            async def factory(template: TopicSpec) -> TopicSpec:
                spec = dataclasses.replace(
                    template,
                    name=f"test.{template.name}.{uuid.uuid4().hex[:10]}",
                )
                await ensure_topics(admin, [spec, dlq_spec(spec)])
                created.extend([spec.name, spec.dlq_name])
                return spec

            yield factory
            if created:
                await admin.delete_topics(created)
    except KafkaUnavailable as exc:
        _fail("Kafka", exc)


@pytest_asyncio.fixture(scope="session")
async def producer(kafka_bootstrap_servers: str) -> AsyncIterator[Producer]:
    p = Producer(ProducerConfig(kafka_bootstrap_servers, client_id="eip-tests"))
    try:
        await p.start()
    except KafkaUnavailable as exc:
        _fail("Kafka", exc)
    yield p
    await p.stop()


@pytest_asyncio.fixture(scope="session")
async def db_pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection]]:
    try:
        pool = await open_pool(database_url, max_size=5)
    except DatabaseUnavailable as exc:
        _fail("PostgreSQL", exc)
        raise
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def db_schema(db_pool: AsyncConnectionPool[AsyncConnection]) -> AsyncIterator[str]:
    """A fresh, empty schema for one test, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield schema
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest_asyncio.fixture(scope="session")
async def vault(vault_endpoint: endpoints.VaultEndpoint) -> AsyncIterator[VaultClient]:
    client = VaultClient(vault_endpoint.addr, vault_endpoint.token)
    try:
        await client.health()
        await provision(client)  # idempotent; a container Vault starts bare
    except VaultUnavailable as exc:
        await client.aclose()
        _fail("Vault", exc)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    """Tokens a service under test accepts once built with ``token_issuer.settings()``; see
    ``eip.testing.tokens``."""
    with serve_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def simulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """A simulator with the default generated market, for the whole session."""
    with run_simulator(tmp_path_factory.mktemp("simulator")) as process:
        yield process


@pytest_asyncio.fixture(scope="session")
async def simulator(simulator_process: SimulatorProcess) -> AsyncIterator[SimulatorClient]:
    client = SimulatorClient(simulator_process.base_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def clean_simulator(simulator: SimulatorClient) -> AsyncIterator[SimulatorClient]:
    """The session's simulator with no fault or limit left over from an earlier test."""
    await simulator.clear_faults()
    await simulator.reset_rate_limits()
    yield simulator
    await simulator.clear_faults()
    await simulator.reset_rate_limits()


@pytest_asyncio.fixture
async def auth_factory(
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: endpoints.VaultEndpoint,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    simulator: SimulatorClient,
    tmp_path: Path,
) -> AsyncIterator[AuthFactory]:
    """Start auth service processes (``eip.testing.auth``) for one test, sharing its schema,
    topics and signing key, validating keys at the session's simulator."""
    async with auth_services(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        schema=db_schema,
        credentials_topic=await make_topic(AUTH_CREDENTIALS),
        audit_topic=await make_topic(AUDIT_EVENTS),
        exchange_base_url=simulator.base_url,
        log_dir=tmp_path,
    ) as factory:
        yield factory
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(f"{db_schema}_audit"))
        )
    # Only paths of the test's accounts were written in Vault; the tests remove them.
