"""Run the auth service as a real process (``python -m eip.auth``) against the real Kafka,
PostgreSQL and Vault and the session's exchange simulator, on a schema, topics and a signing
key of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS, TopicSpec
from eip.exchange_simulator.client import SimulatorClient
from eip.testing.endpoints import VaultEndpoint
from eip.testing.proxy import TcpProxy
from eip.testing.simulator import free_port
from eip.vault import VaultClient

TopicFactory = Callable[[TopicSpec], Awaitable[TopicSpec]]


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


@dataclass
class AuthService:
    base_url: str
    log_file: Path
    admin_id: str
    admin_secret: str = field(repr=False)
    schema: str
    audit_schema: str
    credentials_topic: TopicSpec
    audit_topic: TopicSpec
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = None
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    async def token(
        self,
        client_id: str | None = None,
        secret: str | None = None,
        scope: str | None = None,
        accounts: list[str] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "client_id": client_id or self.admin_id,
            "client_secret": secret or self.admin_secret,
        }
        if scope is not None:
            body["scope"] = scope
        if accounts is not None:
            body["accounts"] = accounts
        response = await self.http.post(f"{self.base_url}/v1/tokens", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def admin_headers(self) -> dict[str, str]:
        """An operator's token: credentials and clients, the audit trail, introspection."""
        scope = "credentials:admin audit:read tokens:introspect"
        return {"Authorization": f"Bearer {await self.token(scope=scope)}"}

    async def create_client(self, client_id: str, scopes: list[str], accounts: list[str]) -> str:
        response = await self.http.post(
            f"{self.base_url}/v1/clients",
            json={"client_id": client_id, "scopes": scopes, "accounts": accounts},
            headers=await self.admin_headers(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["client_secret"])

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")


def start_process(env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "eip.auth"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(service: AuthService, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            pytest.fail(f"auth service exited: {service.logs()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            response = await service.http.get(f"{service.base_url}/readyz")
            last = response.text
            if response.status_code == 200:
                # the signing key is made ready just after: wait for the JWKS too
                jwks = await service.http.get(f"{service.base_url}/v1/.well-known/jwks.json")
                if jwks.status_code == 200 and jwks.json()["keys"]:
                    return
        await asyncio.sleep(0.3)
    pytest.fail(f"auth service not ready in {timeout_s}s: {last}\n{service.logs()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


AuthFactory = Callable[..., Awaitable[AuthService]]


@pytest_asyncio.fixture
async def auth_factory(
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    simulator: SimulatorClient,
    tmp_path: Path,
) -> AsyncIterator[AuthFactory]:
    """Start auth service processes sharing one schema, topics and signing key (a second one
    may point at a different Vault address, e.g. a TcpProxy)."""
    started: list[AuthService] = []
    audit_schema = f"{db_schema}_audit"
    credentials_topic = await make_topic(AUTH_CREDENTIALS)
    audit_topic = await make_topic(AUDIT_EVENTS)
    # The service's own least-privilege periodic token, as `make up` gives it: never the root.
    service_token = await vault.create_token(["eip-auth-service"], period="30m")
    admin_secret = secrets.token_urlsafe(24)
    key_name = f"eip-test-jwt-{uuid.uuid4().hex[:10]}"

    async def factory(vault_addr: str | None = None, **extra: str) -> AuthService:
        port = free_port()
        env = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "VAULT_ADDR": vault_addr or vault_endpoint.addr,
            "VAULT_TOKEN": service_token,
            "AUTH_HTTP_PORT": str(port),
            "AUTH_DB_SCHEMA": db_schema,
            "AUTH_AUDIT_SCHEMA": audit_schema,
            "AUTH_CREDENTIALS_TOPIC": credentials_topic.name,
            "AUTH_AUDIT_TOPIC": audit_topic.name,
            "AUTH_JWT_KEY_NAME": key_name,
            "AUTH_BOOTSTRAP_CLIENT_ID": "test-admin",
            "AUTH_BOOTSTRAP_CLIENT_SECRET": admin_secret,
            "AUTH_BINANCE_BASE_URL": simulator.base_url,
            "AUTH_CONNECT_TIMEOUT_S": "3",
            "AUTH_LOG_LEVEL": "DEBUG",
            **extra,
        }
        service = AuthService(
            base_url=f"http://127.0.0.1:{port}",
            log_file=tmp_path / f"auth-{port}.log",
            admin_id="test-admin",
            admin_secret=admin_secret,
            schema=db_schema,
            audit_schema=audit_schema,
            credentials_topic=credentials_topic,
            audit_topic=audit_topic,
            env=env,
        )
        service.process = start_process(env, service.log_file)
        started.append(service)
        await wait_ready(service)
        return service

    yield factory
    for service in started:
        if service.process is not None:
            stop_process(service.process)
        await service.http.aclose()
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(audit_schema))
        )
    # Only paths of this test's accounts were written; they are removed by the tests.


@pytest_asyncio.fixture
async def auth(auth_factory: AuthFactory) -> AuthService:
    return await auth_factory()


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
