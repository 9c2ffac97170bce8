"""The auth service as a real process against the real Kafka, PostgreSQL and Vault and the
session's exchange simulator: ``auth_factory`` (the plugin's, ``eip.testing.auth``) starts
them, ``auth`` is one for a test.

``module_auth`` is one process for a whole module, for the modules whose tests each use ids of
their own (accounts, clients, credentials, audit subjects) and look only at those; such a
module rebinds ``auth`` to it. A process costs seconds to start on the shared machine (its
imports alone take 3-6 s under load), and there were one per test. A test that changes the
process' settings, cuts its Vault, counts every row of its schema or edits its audit chain
keeps a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.events.topics import TopicSpec
from eip.exchange_simulator.client import SimulatorClient
from eip.testing.auth import AuthFactory, AuthService, one_auth_service
from eip.testing.endpoints import VaultEndpoint
from eip.testing.plugin import TopicFactory
from eip.testing.proxy import TcpProxy
from eip.vault import VaultClient

__all__ = ["AuthService", "read_topic_values"]


async def read_topic_values(bootstrap: str, spec: TopicSpec) -> list[bytes]:
    """Every record value on a (test) topic, from the beginning to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        values: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                values.extend(r.value for r in records if r.value is not None)
        return values
    finally:
        await consumer.stop()


@pytest_asyncio.fixture
async def auth(auth_factory: AuthFactory) -> AuthService:
    return await auth_factory()


@pytest_asyncio.fixture(scope="module")
async def module_auth(
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    simulator: SimulatorClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AuthService]:
    """One auth process with the default settings for the module (``one_auth_service``)."""
    async with one_auth_service(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        db_pool=db_pool,
        make_topic=make_topic,
        exchange_base_url=simulator.base_url,
        log_dir=tmp_path_factory.mktemp("module-auth"),
    ) as service:
        yield service


@pytest_asyncio.fixture
async def vault_proxy(vault_endpoint: VaultEndpoint) -> AsyncIterator[TcpProxy]:
    url = httpx.URL(vault_endpoint.addr)
    proxy = TcpProxy(url.host, url.port or 8200)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def run_audit_verify(database_url: str) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """``python -m eip.audit verify --schema <schema>`` as its own process. A closure, so the
    database URL (with its password) is never a test argument a failure would print."""

    def run(schema: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "eip.audit", "verify", "--schema", schema],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def account_id() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}"
