"""A whole platform for the console's tests, as real processes on ports of their own: the
exchange simulator, the auth service (Vault, PostgreSQL, Kafka), market-data and order-book
following the simulator, the account service (syncing keys connected at auth from the
simulator), order management (trading at the simulator through keys held by auth), the
automation service, and the console pointed at them — against the shared Kafka,
PostgreSQL and Vault, on topic copies (``test.*``) and schemas (``test_*``) of this session.
Nothing listens on the platform's default ports (8101-8106, 8300), where a shared `make up`
may run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg
import pytest
from psycopg import sql

from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import (
    ACCOUNT_BALANCES,
    ALERTS_ARBITRAGE,
    AUDIT_EVENTS,
    AUTH_CREDENTIALS,
    AUTOMATION_RULES,
    MD_BOOK_DELTAS,
    MD_BOOK_SNAPSHOTS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    TopicSpec,
    dlq_spec,
)
from eip.testing.auth import AuthService, auth_services
from eip.testing.endpoints import VaultEndpoint
from eip.testing.simulator import free_port, run_simulator
from eip.vault import VaultClient
from eip.vault.provision import provision

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# Screenshots and measurements of the browser tests: gitignored, kept after the run for a
# reviewer (docs/CONSOLE.md, "Tests").
ARTIFACTS = REPO / "test-artifacts" / "console"


class LoopThread:
    """An event loop on a thread of its own, for the async helpers (the auth service's process
    and its client) that this session-wide, synchronous fixture keeps: Playwright's sync API
    holds the tests' own thread's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, call: Awaitable[T]) -> T:
        async def awaited() -> T:
            return await call

        return asyncio.run_coroutine_threadsafe(awaited(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@dataclass
class Platform:
    simulator: str
    auth: str
    market_data: str
    order_book: str
    account: str
    order_management: str
    automation: str
    console: str
    admin_id: str
    admin_secret: str = field(repr=False)
    log_dir: Path
    auth_service: AuthService | None = field(default=None, repr=False)
    loop: LoopThread | None = field(default=None, repr=False)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    def _run(self, call: Awaitable[T]) -> T:
        assert self.loop is not None
        return self.loop.run(call)

    def headers(self, accounts: list[str] | None = None) -> dict[str, str]:
        """An admin token of the platform's auth service, for the test's own calls (naming
        ``accounts``: the admin client may act on any, but a token covers those it names)."""
        assert self.auth_service is not None
        token = self._run(self.auth_service.token(accounts=accounts))
        return {"Authorization": f"Bearer {token}"}

    def create_client(
        self, client_id: str, scopes: list[str], accounts: list[str] | None = None
    ) -> str:
        """A service client of the auth service (its secret), on ``accounts`` (any: ``*``)."""
        assert self.auth_service is not None
        return self._run(self.auth_service.create_client(client_id, scopes, accounts or ["*"]))


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
    name: str, url: str, process: subprocess.Popen[bytes], log_dir: Path, timeout_s: float = 240
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
            if response.status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    pytest.fail(f"{name} not ready within {timeout_s}s: {last}")


async def _make_topics(bootstrap: str, suffix: str) -> list[TopicSpec]:
    specs = [AUDIT_EVENTS, AUTH_CREDENTIALS, MD_TRADES, MD_TICKERS, MD_CANDLES]
    specs += [MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS]
    specs += [ACCOUNT_BALANCES, ORDERS_EVENTS, ORDERS_COMMANDS, AUTOMATION_RULES, ALERTS_ARBITRAGE]
    copies: list[TopicSpec] = []
    for spec in specs:
        copy = dataclasses.replace(spec, name=f"test.{spec.name}.{suffix}")
        copies += [copy, dlq_spec(copy)]
    async with admin_client(bootstrap) as admin:
        await ensure_topics(admin, copies)
    return copies


async def _drop_topics(bootstrap: str, names: list[str]) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.delete_topics(names)


def _copy(specs: list[TopicSpec], name: str) -> TopicSpec:
    return next(spec for spec in specs if spec.name.startswith(f"test.{name}."))


@pytest.fixture(scope="session")
def platform(
    kafka_bootstrap_servers: str,
    database_url: str,
    vault_endpoint: VaultEndpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    # A simulator of its own: this session-wide platform keeps market-data and order-book
    # following BTC/USDT until the session ends, and on the session's shared simulator those
    # connections would take the stream faults other tests aim at their own connections.
    # (120 s to start: 30 s was seen too short on the shared machine at load 15)
    with run_simulator(
        tmp_path_factory.mktemp("console-simulator"), startup_timeout_s=120
    ) as simulator_process:
        yield from _platform(
            kafka_bootstrap_servers,
            database_url,
            vault_endpoint,
            simulator_process.base_url,
            tmp_path_factory,
        )


def _platform(
    kafka_bootstrap_servers: str,
    database_url: str,
    vault_endpoint: VaultEndpoint,
    sim: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    suffix = uuid.uuid4().hex[:10]
    log_dir = tmp_path_factory.mktemp("console-platform")
    loop = LoopThread()
    topics = loop.run(_make_topics(kafka_bootstrap_servers, suffix))
    schemas = {
        "auth": f"test_{suffix}_auth",
        "audit": f"test_{suffix}_auth_audit",  # auth_services' own name for it
        "market_data": f"test_{suffix}_md",
        "order_book": f"test_{suffix}_ob",
        "account": f"test_{suffix}_account",
        "order_management": f"test_{suffix}_om",
        "automation": f"test_{suffix}_automation",
    }
    vault = VaultClient(vault_endpoint.addr, vault_endpoint.token)
    loop.run(provision(vault))  # idempotent, as the plugin's vault fixture does
    # The auth service as every test that needs one runs it (eip.testing.auth): its own
    # least-privilege Vault token, schema, topics and signing key.
    auth_processes = auth_services(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        schema=schemas["auth"],
        credentials_topic=_copy(topics, AUTH_CREDENTIALS.name),
        audit_topic=_copy(topics, AUDIT_EVENTS.name),
        exchange_base_url=sim,
        log_dir=log_dir,
    )
    platform: Platform | None = None
    entered = False
    try:
        factory = loop.run(auth_processes.__aenter__())
        entered = True
        auth = loop.run(factory())
        names = ["market-data", "order-book", "account", "order-management", "automation"]
        names += ["console"]
        ports = {name: free_port() for name in names}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        jwks = f"{auth.base_url}/v1/.well-known/jwks.json"
        # order management's own client at auth, as docs/ORDER_MANAGEMENT.md has the operator
        # create it: signing at the venues for every account, and the order-book's slippage
        om_secret = loop.run(
            auth.create_client(
                f"order-management-{suffix}", ["credentials:use", "books:read"], ["*"]
            )
        )

        def topic(spec: TopicSpec) -> str:
            return _copy(topics, spec.name).name

        base = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "VAULT_ADDR": vault_endpoint.addr,
            "EIP_TEST_TOPIC_SUFFIX": suffix,
        }
        plan: list[tuple[str, list[str], dict[str, str]]] = [
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
                "account",
                ["-m", "eip.account"],
                {
                    "ACCOUNT_HTTP_PORT": str(ports["account"]),
                    "ACCOUNT_AUTH_JWKS_URL": jwks,
                    "ACCOUNT_AUTH_URL": auth.base_url,
                    # the admin client, as `make up` runs it (docs/ACCOUNT.md, settings)
                    "ACCOUNT_AUTH_CLIENT_ID": auth.admin_id,
                    "ACCOUNT_AUTH_CLIENT_SECRET": auth.admin_secret,
                    "ACCOUNT_MARKET_DATA_URL": urls["market-data"],
                    "ACCOUNT_EXCHANGE_URLS": json.dumps({"binance": sim}),
                    "ACCOUNT_DB_SCHEMA": schemas["account"],
                    "ACCOUNT_GROUP_ID": f"test-console-account-{suffix}",
                    "ACCOUNT_BALANCES_TOPIC": topic(ACCOUNT_BALANCES),
                    "ACCOUNT_TICKERS_TOPIC": topic(MD_TICKERS),
                    "ACCOUNT_CREDENTIALS_TOPIC": topic(AUTH_CREDENTIALS),
                    "ACCOUNT_ORDER_EVENTS_TOPIC": topic(ORDERS_EVENTS),
                },
            ),
            (
                "order-management",
                ["-m", "eip.order_management"],
                {
                    "ORDER_MANAGEMENT_HTTP_PORT": str(ports["order-management"]),
                    "ORDER_MANAGEMENT_AUTH_JWKS_URL": jwks,
                    "ORDER_MANAGEMENT_AUTH_URL": auth.base_url,
                    "ORDER_MANAGEMENT_AUTH_CLIENT_ID": f"order-management-{suffix}",
                    "ORDER_MANAGEMENT_AUTH_CLIENT_SECRET": om_secret,
                    "ORDER_MANAGEMENT_ORDER_BOOK_URL": urls["order-book"],
                    "ORDER_MANAGEMENT_EXCHANGE_URLS": json.dumps({"binance": sim}),
                    "ORDER_MANAGEMENT_DB_SCHEMA": schemas["order_management"],
                    # the platform's one audit chain, auth's (as `make up` runs them)
                    "ORDER_MANAGEMENT_AUDIT_SCHEMA": schemas["audit"],
                    "ORDER_MANAGEMENT_GROUP_ID": f"test-console-om-{suffix}",
                    "ORDER_MANAGEMENT_COMMANDS_TOPIC": topic(ORDERS_COMMANDS),
                    "ORDER_MANAGEMENT_EVENTS_TOPIC": topic(ORDERS_EVENTS),
                    "ORDER_MANAGEMENT_TRADES_TOPIC": topic(MD_TRADES),
                    "ORDER_MANAGEMENT_TICKERS_TOPIC": topic(MD_TICKERS),
                    "ORDER_MANAGEMENT_AUDIT_TOPIC": topic(AUDIT_EVENTS),
                    # pre-trade risk reads the balances the account service publishes
                    "ORDER_MANAGEMENT_BALANCES_TOPIC": topic(ACCOUNT_BALANCES),
                    # a command taken before the group's first rebalance waits for its owner
                    "ORDER_MANAGEMENT_FORWARD_WAIT_S": "30",
                },
            ),
            (
                "automation",
                ["-m", "eip.automation"],
                {
                    "AUTOMATION_HTTP_PORT": str(ports["automation"]),
                    "AUTOMATION_AUTH_JWKS_URL": jwks,
                    "AUTOMATION_DB_SCHEMA": schemas["automation"],
                    # the platform's one audit chain, auth's (as `make up` runs them)
                    "AUTOMATION_AUDIT_SCHEMA": schemas["audit"],
                    "AUTOMATION_GROUP_ID": f"test-console-automation-{suffix}",
                    "AUTOMATION_TICKERS_TOPIC": topic(MD_TICKERS),
                    "AUTOMATION_TRADES_TOPIC": topic(MD_TRADES),
                    "AUTOMATION_CANDLES_TOPIC": topic(MD_CANDLES),
                    "AUTOMATION_BOOK_SNAPSHOTS_TOPIC": topic(MD_BOOK_SNAPSHOTS),
                    "AUTOMATION_BOOK_DELTAS_TOPIC": topic(MD_BOOK_DELTAS),
                    "AUTOMATION_COMMANDS_TOPIC": topic(ORDERS_COMMANDS),
                    "AUTOMATION_RULES_TOPIC": topic(AUTOMATION_RULES),
                    "AUTOMATION_ARBITRAGE_TOPIC": topic(ALERTS_ARBITRAGE),
                    "AUTOMATION_AUDIT_TOPIC": topic(AUDIT_EVENTS),
                },
            ),
            (
                "console",
                ["-m", "eip.console"],
                {
                    "CONSOLE_HTTP_PORT": str(ports["console"]),
                    "CONSOLE_AUTH_JWKS_URL": jwks,
                    "CONSOLE_AUTH_URL": auth.base_url,
                    "CONSOLE_MARKET_DATA_URL": urls["market-data"],
                    "CONSOLE_ORDER_BOOK_URL": urls["order-book"],
                    "CONSOLE_ACCOUNT_URL": urls["account"],
                    "CONSOLE_AUTOMATION_URL": urls["automation"],
                    "CONSOLE_ORDER_MANAGEMENT_URL": urls["order-management"],
                    # the shared machine runs several engineers' tests at once (load 15-20):
                    # auth and the account service were seen taking more than the default 5 s
                    "CONSOLE_REQUEST_TIMEOUT_S": "20",
                },
            ),
        ]
        platform = Platform(
            simulator=sim,
            auth=auth.base_url,
            market_data=urls["market-data"],
            order_book=urls["order-book"],
            account=urls["account"],
            order_management=urls["order-management"],
            automation=urls["automation"],
            console=urls["console"],
            admin_id=auth.admin_id,
            admin_secret=auth.admin_secret,
            log_dir=log_dir,
            auth_service=auth,
            loop=loop,
        )
        # Started together, then awaited: one after the other, the services took six minutes
        # to come up on the shared machine at load 15, inside the first test's time-out.
        for name, argv, env in plan:
            platform.processes[name] = _start(name, argv, {**base, **env}, log_dir)
        for name, _, _ in plan:
            _wait_ready(name, urls[name], platform.processes[name], log_dir)
        yield platform
    finally:
        for process in platform.processes.values() if platform else []:
            process.terminate()
        for process in platform.processes.values() if platform else []:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        if entered:
            loop.run(auth_processes.__aexit__(None, None, None))
        loop.run(vault.aclose())
        with psycopg.connect(database_url, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
        loop.run(_drop_topics(kafka_bootstrap_servers, [t.name for t in topics]))
        loop.close()
