"""schemathesis against every service's OpenAPI document, in process (ASGI, no ports) with the
real Kafka, PostgreSQL, Vault and exchange simulator behind the apps: no 5xx, no response that
breaks its schema, no status the document does not list.

Cases are drawn by schemathesis (positive and negative data, a small budget per operation) and
sent through ``httpx.ASGITransport`` on the test's own event loop, where the apps' pools and
producers live. Tokens: the auth service's own (client-credentials at its /v1/tokens, signed by
Vault Transit) for auth; ``eip.testing.tokens`` for the services that verify against a JWKS.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eip.account.app import build_app as account_app
from eip.account.runtime import Topics as AccountTopics
from eip.account.settings import AccountSettings
from eip.auth.app import build_app as auth_app
from eip.auth.settings import AuthSettings
from eip.automation.app import build_app as automation_app
from eip.automation.settings import AutomationSettings
from eip.automation.topics import unique_topics as automation_topics
from eip.events.topics import (
    ACCOUNT_BALANCES,
    AUDIT_EVENTS,
    AUTH_CREDENTIALS,
    MD_BOOK_DELTAS,
    MD_BOOK_SNAPSHOTS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    TopicSpec,
)
from eip.exchange_simulator.client import SimulatorClient
from eip.market_data.app import build_app as market_data_app
from eip.market_data.settings import MarketDataSettings
from eip.order_book.app import build_app as order_book_app
from eip.order_book.settings import OrderBookSettings
from eip.order_management.app import build_app as order_management_app
from eip.order_management.runtime import Topics
from eip.order_management.settings import OrderManagementSettings
from eip.testing.endpoints import VaultEndpoint
from eip.testing.tokens import TokenIssuer
from eip.vault import VaultClient

pytestmark = pytest.mark.integration

EXAMPLES = 8  # per operation and generation mode: the whole run stays within ~2 minutes
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
SERVICES = ["market-data", "order-book", "account", "order-management", "auth", "automation"]


async def ready(http: httpx.AsyncClient, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await http.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.3)
    pytest.fail(f"not ready: {(await http.get('/readyz')).text}")


@pytest.fixture
async def service(
    request: pytest.FixtureRequest,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    make_topic: Any,
    simulator: SimulatorClient,
    token_issuer: TokenIssuer,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    name: str = request.param
    infra: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "database_url": SecretStr(database_url),
        "connect_timeout_s": 3.0,
    }
    venues = dict.fromkeys(("binance", "kraken", "coinbase"), simulator.base_url)

    async def topic(spec: TopicSpec) -> TopicSpec:
        made: TopicSpec = await make_topic(spec)
        return made

    headers = token_issuer.headers()
    if name == "market-data":
        app = market_data_app(
            MarketDataSettings(
                **infra,
                **token_issuer.settings(),
                history_schema=db_schema,
                exchange_urls=venues,
                candles_enabled=False,
            ),
            trades_topic=await topic(MD_TRADES),
            tickers_topic=await topic(MD_TICKERS),
            candles_topic=await topic(MD_CANDLES),
        )
    elif name == "order-book":
        app = order_book_app(
            OrderBookSettings(
                **infra,
                **token_issuer.settings(),
                subscriptions_schema=db_schema,
                exchange_urls=venues,
            ),
            deltas_topic=await topic(MD_BOOK_DELTAS),
            snapshots_topic=await topic(MD_BOOK_SNAPSHOTS),
        )
    elif name == "account":
        app = account_app(
            AccountSettings(
                **infra,
                **token_issuer.settings(),
                db_schema=db_schema,
                group_id=f"account-test-{uuid.uuid4().hex[:10]}",
            ),
            topics=AccountTopics(
                await topic(ACCOUNT_BALANCES),
                await topic(MD_TICKERS),
                await topic(AUTH_CREDENTIALS),
                await topic(ORDERS_EVENTS),
            ),
        )
    elif name == "order-management":
        # its own schema, topics and group: it consumes orders.commands.v1 and migrates
        app = order_management_app(
            OrderManagementSettings(
                **infra,
                **token_issuer.settings(),
                db_schema=db_schema,
                audit_schema=f"{db_schema}_audit",
                group_id=f"test-{uuid.uuid4().hex[:10]}",
                exchange_urls=venues,
            ),
            topics=Topics(
                commands=await topic(ORDERS_COMMANDS),
                events=await topic(ORDERS_EVENTS),
                trades=await topic(MD_TRADES),
                tickers=await topic(MD_TICKERS),
                audit=await topic(AUDIT_EVENTS),
            ),
        )
    elif name == "automation":
        app = automation_app(
            AutomationSettings(
                **infra,
                **token_issuer.settings(),
                db_schema=db_schema,
                audit_schema=f"{db_schema}_audit",
            ),
            await automation_topics(topic),
        )
    else:
        admin_secret = secrets.token_urlsafe(24)
        app = auth_app(
            AuthSettings(
                **infra,
                vault_addr=vault_endpoint.addr,
                vault_token=SecretStr(await vault.create_token(["eip-auth-service"], period="30m")),
                db_schema=db_schema,
                audit_schema=f"{db_schema}_audit",
                credentials_topic=(await topic(AUTH_CREDENTIALS)).name,
                audit_topic=(await topic(AUDIT_EVENTS)).name,
                jwt_key_name=f"eip-test-jwt-{uuid.uuid4().hex[:10]}",
                bootstrap_client_id="test-admin",
                bootstrap_client_secret=SecretStr(admin_secret),
                binance_base_url=simulator.base_url,
                kraken_base_url=simulator.base_url,
            )
        )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        )
        await ready(http)
        if name == "auth":
            for _ in range(100):  # the signing key is made just after readiness
                jwks = await http.get("/v1/.well-known/jwks.json")
                if jwks.status_code == 200 and jwks.json()["keys"]:
                    break
                await asyncio.sleep(0.3)
            issued = await http.post(
                "/v1/tokens", json={"client_id": "test-admin", "client_secret": admin_secret}
            )
            assert issued.status_code == 200, issued.text
            headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        yield app, headers


def draw(operation: Any, mode: GenerationMode) -> list[Any]:
    """Up to ``EXAMPLES`` cases of one operation (Hypothesis runs synchronously here; the
    requests are sent afterwards on the event loop the apps live on)."""
    cases: list[Any] = []

    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    # an operation without inputs has nothing to negate
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        collect()
    return cases


@pytest.mark.parametrize("service", SERVICES, indirect=True)
async def test_no_5xx_no_schema_violation_no_undocumented_status(
    service: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = service
    schema = schemathesis.openapi.from_dict(app.openapi())
    failures: list[str] = []
    operations = examples = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
    ) as http:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for case in draw(operation, mode):
                    examples += 1
                    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
                    response = await http.request(
                        kwargs["method"],
                        kwargs["url"],
                        headers=kwargs.get("headers"),
                        params=kwargs.get("params"),
                        json=kwargs.get("json"),
                        content=kwargs.get("data") or kwargs.get("content"),
                    )
                    try:
                        case.validate_response(response, checks=CHECKS)
                    except Exception as exc:
                        failures.append(
                            f"{operation.label} {mode.value}: {response.status_code}"
                            f" {response.text[:200]!r} for {kwargs.get('url')}"
                            f" {str(kwargs.get('params'))[:100]} {str(kwargs.get('json'))[:100]}:"
                            f" {str(exc)[:300]}"
                        )
    print(f"schemathesis: {operations} operations, {examples} examples, {len(failures)} failures")
    assert operations > 0
    assert failures == [], "\n".join(failures[:20])
