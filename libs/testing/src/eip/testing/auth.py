"""The auth service as a real process (``python -m eip.auth``) against the real Kafka,
PostgreSQL and Vault and an exchange simulator, on a schema, topics and a signing key of its
own: for the auth service's tests, and for any test that signs exchange requests through it
(the trading conformance suite).

``auth_services(...)`` yields a factory of such processes sharing one schema, topics, Vault
token and signing key (a second one may point at another Vault address, e.g. a ``TcpProxy``);
the plugin's ``auth_factory`` fixture is it for one test. ``one_auth_service(...)`` is one
process with the default settings on a schema and topics of its own, for a fixture that shares
it across a module or the session whose tests use ids of their own (a process costs seconds of
start-up on the shared machine). ``standalone_auth_services(...)`` is it outside pytest
(benchmarks): infrastructure from the environment, a schema and topics made for it and removed
after. The service gets its own least-privilege periodic Vault token, as ``make up`` gives it —
never the root token.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS, TopicSpec
from eip.exchanges import registry
from eip.testing import endpoints
from eip.testing import service_processes as processes
from eip.testing.endpoints import VaultEndpoint
from eip.testing.scratch import scratch
from eip.testing.simulator import free_port
from eip.vault import VaultClient


class AuthServiceFailed(RuntimeError):
    """The auth process exited or did not become ready (the message carries its log tail)."""


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

    async def create_credential(
        self, account_id: str, exchange: str, api_key: str, secret: str, **extra: Any
    ) -> str:
        """Store an exchange key (validated at the exchange); its credential id."""
        response = await self.http.post(
            f"{self.base_url}/v1/credentials",
            json={
                "account_id": account_id,
                "exchange": exchange,
                "api_key": api_key,
                "secret": secret,
                **extra,
            },
            headers=await self.admin_headers(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["credential"]["id"])

    async def revoke_credential(self, credential_id: str) -> None:
        response = await self.http.post(
            f"{self.base_url}/v1/credentials/{credential_id}/revoke",
            json={"reason": "test"},
            headers=await self.admin_headers(),
        )
        assert response.status_code == 200, response.text

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")


def start_process(env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    return processes.start_process("eip.auth", env, log_file)


async def wait_ready(
    service: AuthService, timeout_s: float = 60, ready_without: Collection[str] = ()
) -> None:
    """Until /readyz passes — every check but those named in ``ready_without`` (e.g.
    ``kafka`` for a process given an unreachable broker on purpose) — and the JWKS has a key."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            raise AuthServiceFailed(f"auth service exited: {service.logs()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = await service.http.get(f"{service.base_url}/readyz")
            last = response.text
            checks = response.json().get("checks", {})
            if checks and all(c.get("ok") for n, c in checks.items() if n not in ready_without):
                # the signing key is made ready just after: wait for the JWKS too
                jwks = await service.http.get(f"{service.base_url}/v1/.well-known/jwks.json")
                if jwks.status_code == 200 and jwks.json()["keys"]:
                    return
        await asyncio.sleep(0.3)
    raise AuthServiceFailed(
        f"auth service not ready in {timeout_s}s: {last}\n{service.logs()[-3000:]}"
    )


stop_process = processes.stop_process


AuthFactory = Callable[..., Awaitable[AuthService]]


@contextlib.asynccontextmanager
async def auth_services(
    *,
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    schema: str,
    credentials_topic: TopicSpec,
    audit_topic: TopicSpec,
    exchange_base_url: str,
    log_dir: Path,
) -> AsyncIterator[AuthFactory]:
    """A factory of auth processes on ``schema`` (and ``<schema>_audit``) and the given topics,
    validating every venue's keys at ``exchange_base_url`` (the simulator); every process is
    stopped at the end. Dropping the schemas and topics is the caller's."""
    started: list[AuthService] = []
    service_token = await vault.create_token(["eip-auth-service"], period="30m")
    admin_secret = secrets.token_urlsafe(24)
    key_name = f"eip-test-jwt-{uuid.uuid4().hex[:10]}"

    async def factory(
        vault_addr: str | None = None, ready_without: Collection[str] = (), **extra: str
    ) -> AuthService:
        port = free_port()
        env = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "VAULT_ADDR": vault_addr or vault_endpoint.addr,
            "VAULT_TOKEN": service_token,
            "AUTH_HTTP_PORT": str(port),
            "AUTH_DB_SCHEMA": schema,
            "AUTH_AUDIT_SCHEMA": f"{schema}_audit",
            "AUTH_CREDENTIALS_TOPIC": credentials_topic.name,
            "AUTH_AUDIT_TOPIC": audit_topic.name,
            "AUTH_JWT_KEY_NAME": key_name,
            "AUTH_BOOTSTRAP_CLIENT_ID": "test-admin",
            "AUTH_BOOTSTRAP_CLIENT_SECRET": admin_secret,
            # every venue's keys at the simulator (a test reaches no real venue); a test
            # aims one elsewhere with its own AUTH_<VENUE>_BASE_URL in ``extra``
            **{
                f"AUTH_{venue.upper()}_BASE_URL": exchange_base_url
                for venue in registry.credential_exchanges()
            },
            "AUTH_CONNECT_TIMEOUT_S": "3",
            "AUTH_LOG_LEVEL": "DEBUG",
            **extra,
        }
        service = AuthService(
            base_url=f"http://127.0.0.1:{port}",
            log_file=log_dir / f"auth-{port}.log",
            admin_id="test-admin",
            admin_secret=admin_secret,
            schema=schema,
            audit_schema=f"{schema}_audit",
            credentials_topic=credentials_topic,
            audit_topic=audit_topic,
            env=env,
        )
        service.process = start_process(env, service.log_file)
        started.append(service)
        await wait_ready(service, ready_without=ready_without)
        return service

    try:
        yield factory
    finally:
        for service in started:
            if service.process is not None:
                stop_process(service.process)
            await service.http.aclose()


@contextlib.asynccontextmanager
async def one_auth_service(
    *,
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    exchange_base_url: str,
    log_dir: Path,
) -> AsyncIterator[AuthService]:
    """One auth process with the default settings on a schema (``test_…``) and topics of its
    own; the schema and its audit schema are dropped at the end, the topics with the
    session's."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        async with auth_services(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            vault=vault,
            vault_endpoint=vault_endpoint,
            schema=schema,
            credentials_topic=await make_topic(AUTH_CREDENTIALS),
            audit_topic=await make_topic(AUDIT_EVENTS),
            exchange_base_url=exchange_base_url,
            log_dir=log_dir,
        ) as start:
            yield await start()
    finally:
        async with db_pool.connection() as conn:
            for name in (schema, f"{schema}_audit"):
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                await conn.execute(drop)


@contextlib.asynccontextmanager
async def standalone_auth_services(
    *, exchange_base_url: str, log_dir: Path, prefix: str = "bench"
) -> AsyncIterator[tuple[AuthFactory, VaultClient]]:
    """``auth_services`` outside pytest: Kafka, PostgreSQL and Vault found as the tests find
    them (``eip.testing.endpoints``), a schema ``<prefix>_…`` and topics ``<prefix>.…`` of
    their own, dropped at the end. Yields the factory and a Vault client (root), for removing
    the secrets the caller stored."""
    vault_endpoint = endpoints.vault_endpoint()
    vault = VaultClient(vault_endpoint.addr, vault_endpoint.token)
    try:
        async with (
            scratch(prefix, (AUTH_CREDENTIALS, AUDIT_EVENTS)) as made,
            auth_services(
                database_url=made.database_url,
                kafka_bootstrap_servers=made.kafka_bootstrap_servers,
                vault=vault,
                vault_endpoint=vault_endpoint,
                schema=made.schema,
                credentials_topic=made.topics[0],
                audit_topic=made.topics[1],
                exchange_base_url=exchange_base_url,
                log_dir=log_dir,
            ) as factory,
        ):
            yield factory, vault
    finally:
        await vault.aclose()
