"""The failed-authentication lockout is shared through PostgreSQL: exact across instances,
released after the window, bounded in storage, and closed when PostgreSQL is away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.auth.app import build_app
from eip.auth.ratelimit import FailureLimiter
from eip.auth.runtime import MIGRATIONS
from eip.auth.settings import AuthSettings
from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS, TopicSpec
from eip.storage import apply_migrations
from eip.testing.endpoints import VaultEndpoint
from eip.testing.proxy import TcpProxy
from eip.vault import VaultClient

pytestmark = pytest.mark.integration

Pool = AsyncConnectionPool[AsyncConnection]


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        await asyncio.sleep(0.2)


async def rows(pool: Pool, schema: str) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "auth_failures"))
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def all_older_than_window(pool: Pool, schema: str, window_s: float) -> bool:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT coalesce(bool_and(last_failed_at <= now() - %s), true) FROM {}").format(
                sql.Identifier(schema, "auth_failures")
            ),
            (timedelta(seconds=window_s),),
        )
        row = await cursor.fetchone()
    assert row is not None
    return bool(row[0])


@pytest_asyncio.fixture
async def failures_schema(db_pool: Pool, db_schema: str) -> str:
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
    return db_schema


async def test_limiters_sharing_a_table_count_one_budget(
    db_pool: Pool, failures_schema: str
) -> None:
    a = FailureLimiter(db_pool, failures_schema, limit=4, window_s=600)
    b = FailureLimiter(db_pool, failures_schema, limit=4, window_s=600)
    assert (await a.fail("ip|x")).locks is False
    assert (await b.fail("ip|x")).locks is False
    assert await a.retry_after("ip|x") is None
    # the last two at once, from both instances: exactly one of them is the locking failure
    outcomes = await asyncio.gather(a.fail("ip|x"), b.fail("ip|x"))
    assert sorted(o.locks for o in outcomes) == [False, True]
    locked = next(o for o in outcomes if o.locks)
    assert locked.retry_after is not None
    assert 590 <= locked.retry_after <= 600
    retry_a, retry_b = await a.retry_after("ip|x"), await b.retry_after("ip|x")
    assert retry_a is not None
    assert retry_b is not None
    assert 590 <= retry_a <= 600
    assert 590 <= retry_b <= 600
    assert await a.retry_after("ip|y") is None  # other sources are unaffected
    # a failure beyond the limit (a race past the check) is not a second lockout
    beyond = await b.fail("ip|x")
    assert beyond.locks is False
    assert beyond.retry_after is not None
    async with db_pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT cardinality(failed_at) FROM {} WHERE source = 'ip|x'").format(
                sql.Identifier(failures_schema, "auth_failures")
            )
        )
        assert await cursor.fetchone() == (5,)  # limit + 1 kept at most
    await a.succeed("ip|x")  # a success clears the source everywhere
    assert await b.retry_after("ip|x") is None
    assert (await b.fail("ip|x")).locks is False


async def test_expired_rows_are_pruned_on_write_and_the_cleanup_caps_sources(
    db_pool: Pool, failures_schema: str
) -> None:
    window_s = 1.0
    limiter = FailureLimiter(db_pool, failures_schema, limit=3, window_s=window_s, max_sources=10)
    for i in range(30):  # an attacker with many addresses
        await limiter.fail(f"10.0.0.{i}|c")
    assert await rows(db_pool, failures_schema) == 30
    await until(
        lambda: all_older_than_window(db_pool, failures_schema, window_s), "failures to expire"
    )
    assert await rows(db_pool, failures_schema) == 30  # nothing deletes them by itself
    await limiter.fail("10.0.1.1|c")  # one more failure prunes the expired ones
    assert await rows(db_pool, failures_schema) == 1

    capped = FailureLimiter(db_pool, failures_schema, limit=3, window_s=600, max_sources=10)
    for i in range(25):
        await capped.fail(f"10.0.2.{i}|c")
    assert await rows(db_pool, failures_schema) == 26
    assert await capped.cleanup() == 16
    assert await rows(db_pool, failures_schema) == 10
    # the newest sources are the ones kept
    assert (await capped.fail("10.0.2.24|c")).locks is False
    assert (await capped.fail("10.0.2.24|c")).locks is True
    assert await capped.retry_after("10.0.2.0|c") is None


# -- two instances of the service ---------------------------------------------------------------


Instance = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest_asyncio.fixture
async def instances(
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: Pool,
    db_schema: str,
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
) -> AsyncIterator[tuple[Instance, str]]:
    """Start ASGI apps of the auth service sharing one schema, topics and signing key (as pods
    would), each running its own lifespan; yields the starter (settings may be overridden)
    and the bootstrap admin's secret."""
    audit_schema = f"{db_schema}_audit"
    admin_secret = uuid.uuid4().hex
    service_token = await vault.create_token(["eip-auth-service"], period="30m")
    settings = AuthSettings(
        database_url=SecretStr(database_url),
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault_addr=vault_endpoint.addr,
        vault_token=SecretStr(service_token),
        db_schema=db_schema,
        audit_schema=audit_schema,
        credentials_topic=(await make_topic(AUTH_CREDENTIALS)).name,
        audit_topic=(await make_topic(AUDIT_EVENTS)).name,
        jwt_key_name=f"eip-test-jwt-{uuid.uuid4().hex[:10]}",
        bootstrap_client_id="test-admin",
        bootstrap_client_secret=SecretStr(admin_secret),
        connect_timeout_s=3,
        failure_limit=3,
        failure_window_s=4,
    )
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> httpx.AsyncClient:
            app: FastAPI = build_app(settings.model_copy(update=overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auth")
            )

            async def ready() -> bool:
                return bool(app.state.auth.ready.is_set())

            await until(ready, "the instance to be ready")
            return http

        yield start, admin_secret
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(audit_schema))
        )


async def test_failures_split_across_instances_lock_the_source_out_on_both(
    instances: tuple[Instance, str], db_pool: Pool, db_schema: str
) -> None:
    start, admin_secret = instances
    a, b = await start(), await start()
    bad = {"client_id": "test-admin", "client_secret": "wrong-" + uuid.uuid4().hex}
    good = {"client_id": "test-admin", "client_secret": admin_secret}
    first = await a.post("/v1/tokens", json=bad)
    second = await b.post("/v1/tokens", json=bad)
    third = await a.post("/v1/tokens", json=bad)  # the third of 3 allowed, over both instances
    assert [first.status_code, second.status_code, third.status_code] == [401, 401, 429]
    assert third.json()["error"]["code"] == "too_many_failures"
    assert 1 <= int(third.headers["Retry-After"]) <= 4
    for instance in (a, b):  # locked out on both, even with the right secret
        response = await instance.post("/v1/tokens", json=good)
        assert response.status_code == 429, response.text
        assert 1 <= int(response.headers["Retry-After"]) <= 4
        assert response.json()["error"]["details"]["retry_after_s"] >= 1
    async with db_pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT action, outcome FROM {} ORDER BY sequence").format(
                sql.Identifier(f"{db_schema}_audit", "audit_events")
            )
        )
        events = await cursor.fetchall()
    assert events.count(("auth.lockout", "alert")) == 1  # one lockout, however many instances
    assert events.count(("token.issue", "denied")) == 3

    async def admitted() -> bool:
        response = await b.post("/v1/tokens", json=good)
        assert response.status_code in (200, 429), response.text
        return response.status_code == 200

    await until(admitted, "the lockout to end after the window")
    # the success cleared the source: a new failure starts a fresh count on the other instance
    again = await a.post("/v1/tokens", json=bad)
    assert again.status_code == 401
    assert await rows(db_pool, db_schema) == 1


async def test_the_limiter_fails_closed_when_postgresql_is_away(
    instances: tuple[Instance, str], database_url: str
) -> None:
    """No uncounted attempt gets through: with its database gone, the instance refuses token
    requests and introspection with 503 instead of checking secrets without a limiter."""
    url = urlsplit(database_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        through_proxy = url._replace(
            netloc=f"{url.netloc.rpartition('@')[0]}@127.0.0.1:{proxy.port}"
        )
        start, admin_secret = instances
        http = await start(database_url=SecretStr(urlunsplit(through_proxy)))
        issued = await http.post(
            "/v1/tokens",
            json={
                "client_id": "test-admin",
                "client_secret": admin_secret,
                "scope": "tokens:introspect",
            },
        )
        caller = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        await proxy.stop()  # PostgreSQL unreachable from the instance from here on
        for path, body in (
            ("/v1/tokens", {"client_id": "test-admin", "client_secret": admin_secret}),
            ("/v1/tokens", {"client_id": "test-admin", "client_secret": "wrong"}),
            ("/v1/tokens/introspect", {"token": "x.y.z"}),
        ):
            response = await http.post(path, json=body, headers=caller)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
    finally:
        await proxy.stop()
