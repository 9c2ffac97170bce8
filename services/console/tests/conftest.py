"""A whole platform for the console's tests, as real processes on ports of their own: the
exchange simulator, the auth service (Vault, PostgreSQL, Kafka), market-data and order-book
following the simulator, and the console pointed at them — against the shared Kafka,
PostgreSQL and Vault, on topic copies (``test.*``) and schemas (``test_*``) of this session.
Nothing listens on the platform's default ports (8101-8106, 8300), where a shared `make up`
may run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import (
    AUDIT_EVENTS,
    AUTH_CREDENTIALS,
    MD_BOOK_DELTAS,
    MD_BOOK_SNAPSHOTS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    TopicSpec,
    dlq_spec,
)
from eip.testing.endpoints import VaultEndpoint
from eip.testing.simulator import SimulatorProcess, free_port
from eip.vault import VaultClient
from eip.vault.provision import provision

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# Screenshots and measurements of the browser tests: gitignored, kept after the run for a
# reviewer (docs/CONSOLE.md, "Tests").
ARTIFACTS = REPO / "test-artifacts" / "console"


@dataclass
class Platform:
    simulator: str
    auth: str
    market_data: str
    order_book: str
    console: str
    admin_id: str
    admin_secret: str = field(repr=False)
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    def logs(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def headers(self) -> dict[str, str]:
        """An admin token of the platform's auth service, for the test's own calls."""
        token = httpx.post(
            f"{self.auth}/v1/tokens",
            json={"client_id": self.admin_id, "client_secret": self.admin_secret},
            timeout=30,
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def create_client(self, client_id: str, scopes: list[str]) -> str:
        """A service client of the auth service (its secret)."""
        answer = httpx.post(
            f"{self.auth}/v1/clients",
            json={"client_id": client_id, "scopes": scopes, "accounts": ["*"]},
            headers=self.headers(),
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["client_secret"])


def _start(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path
) -> subprocess.Popen[bytes]:
    with (log_dir / f"{name}.log").open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
            [sys.executable, *argv],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def _wait_ready(
    name: str, url: str, process: subprocess.Popen[bytes], log_dir: Path, timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"{name} exited with {process.returncode}:\n{log}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            last = response.text
            if response.status_code == 200 and (name != "auth" or _has_keys(url)):
                return
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    pytest.fail(f"{name} not ready within {timeout_s}s: {last}")


def _has_keys(auth: str) -> bool:
    """The auth service makes its signing key ready just after /readyz: wait for the JWKS."""
    jwks = httpx.get(f"{auth}/v1/.well-known/jwks.json", timeout=5)
    return jwks.status_code == 200 and bool(jwks.json()["keys"])


async def _make_topics(bootstrap: str, suffix: str) -> list[str]:
    specs = [AUDIT_EVENTS, AUTH_CREDENTIALS, MD_TRADES, MD_TICKERS, MD_CANDLES]
    specs += [MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS]
    copies: list[TopicSpec] = []
    for spec in specs:
        copy = dataclasses.replace(spec, name=f"test.{spec.name}.{suffix}")
        copies += [copy, dlq_spec(copy)]
    async with admin_client(bootstrap) as admin:
        await ensure_topics(admin, copies)
    return [c.name for c in copies]


async def _drop_topics(bootstrap: str, names: list[str]) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.delete_topics(names)


async def _auth_vault_token(endpoint: VaultEndpoint) -> str:
    client = VaultClient(endpoint.addr, endpoint.token)
    try:
        await provision(client)  # idempotent
        # The auth service's own least-privilege token, as `make up` gives it: never the root.
        return await client.create_token(["eip-auth-service"], period="30m")
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def platform(
    kafka_bootstrap_servers: str,
    database_url: str,
    vault_endpoint: VaultEndpoint,
    simulator_process: SimulatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    suffix = uuid.uuid4().hex[:10]
    log_dir = tmp_path_factory.mktemp("console-platform")
    topics = asyncio.run(_make_topics(kafka_bootstrap_servers, suffix))
    vault_token = asyncio.run(_auth_vault_token(vault_endpoint))
    schemas = {
        "auth": f"test_{suffix}_auth",
        "audit": f"test_{suffix}_audit",
        "market_data": f"test_{suffix}_md",
        "order_book": f"test_{suffix}_ob",
    }
    ports = {name: free_port() for name in ("auth", "market-data", "order-book", "console")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    sim = simulator_process.base_url
    jwks = f"{urls['auth']}/v1/.well-known/jwks.json"
    admin_secret = secrets.token_urlsafe(24)
    base = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "VAULT_ADDR": vault_endpoint.addr,
        "EIP_TEST_TOPIC_SUFFIX": suffix,
    }
    plan: list[tuple[str, list[str], dict[str, str]]] = [
        (
            "auth",
            ["-m", "eip.auth"],
            {
                "VAULT_TOKEN": vault_token,
                "AUTH_HTTP_PORT": str(ports["auth"]),
                "AUTH_DB_SCHEMA": schemas["auth"],
                "AUTH_AUDIT_SCHEMA": schemas["audit"],
                "AUTH_CREDENTIALS_TOPIC": f"test.{AUTH_CREDENTIALS.name}.{suffix}",
                "AUTH_AUDIT_TOPIC": f"test.{AUDIT_EVENTS.name}.{suffix}",
                "AUTH_JWT_KEY_NAME": f"eip-test-jwt-{suffix}",
                "AUTH_BOOTSTRAP_CLIENT_ID": "console-admin",
                "AUTH_BOOTSTRAP_CLIENT_SECRET": admin_secret,
                "AUTH_BINANCE_BASE_URL": sim,
            },
        ),
        (
            "market-data",
            [str(HERE / "run_service.py"), "market-data"],
            {
                "MARKET_DATA_HTTP_PORT": str(ports["market-data"]),
                "MARKET_DATA_AUTH_JWKS_URL": jwks,
                "MARKET_DATA_EXCHANGE_URLS": json.dumps({"binance": sim}),
                "MARKET_DATA_SUBSCRIPTIONS": json.dumps(
                    [
                        {"exchange": "binance", "symbol": "BTC/USDT", "channel": "trades"},
                        {"exchange": "binance", "symbol": "BTC/USDT", "channel": "ticker"},
                    ]
                ),
                "MARKET_DATA_HISTORY_SCHEMA": schemas["market_data"],
                "MARKET_DATA_CANDLES_GROUP_ID": f"test-console-candles-{suffix}",
            },
        ),
        (
            "order-book",
            [str(HERE / "run_service.py"), "order-book"],
            {
                "ORDER_BOOK_HTTP_PORT": str(ports["order-book"]),
                "ORDER_BOOK_AUTH_JWKS_URL": jwks,
                "ORDER_BOOK_EXCHANGE_URLS": json.dumps({"binance": sim, "kraken": sim}),
                "ORDER_BOOK_SUBSCRIPTIONS": json.dumps(
                    {"binance": ["BTC/USDT"], "kraken": ["BTC/USDT"]}
                ),
                "ORDER_BOOK_SUBSCRIPTIONS_SCHEMA": schemas["order_book"],
            },
        ),
        (
            "console",
            ["-m", "eip.console"],
            {
                "CONSOLE_HTTP_PORT": str(ports["console"]),
                "CONSOLE_AUTH_JWKS_URL": jwks,
                "CONSOLE_AUTH_URL": urls["auth"],
                "CONSOLE_MARKET_DATA_URL": urls["market-data"],
                "CONSOLE_ORDER_BOOK_URL": urls["order-book"],
                # account and order-management are not started: their screens wait for them
                "CONSOLE_ACCOUNT_URL": f"http://127.0.0.1:{free_port()}",
                "CONSOLE_ORDER_MANAGEMENT_URL": f"http://127.0.0.1:{free_port()}",
            },
        ),
    ]
    platform = Platform(
        simulator=sim,
        auth=urls["auth"],
        market_data=urls["market-data"],
        order_book=urls["order-book"],
        console=urls["console"],
        admin_id="console-admin",
        admin_secret=admin_secret,
        log_dir=log_dir,
    )
    try:
        for name, argv, env in plan:
            platform.processes[name] = _start(name, argv, {**base, **env}, log_dir)
            _wait_ready(name, urls[name], platform.processes[name], log_dir)
        yield platform
    finally:
        for process in platform.processes.values():
            process.terminate()
        for process in platform.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(database_url, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
        asyncio.run(_drop_topics(kafka_bootstrap_servers, topics))
