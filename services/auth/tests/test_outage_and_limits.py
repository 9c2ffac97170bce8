"""Vault outage (503, nothing half-written), failed-authentication lockout, signing key
rotation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.exchange_simulator.client import SimulatorClient
from eip.testing.proxy import TcpProxy
from eip.tokens import TokenVerifier
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration


async def count_rows(pool: AsyncConnectionPool[AsyncConnection], schema: str, table: str) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def test_vault_outage_gives_503_and_writes_nothing(
    auth_factory: Any,
    vault_proxy: TcpProxy,
    simulator: SimulatorClient,
    vault: VaultClient,
    db_pool: AsyncConnectionPool[AsyncConnection],
    account_id: str,
) -> None:
    auth: AuthService = await auth_factory(vault_addr=f"http://127.0.0.1:{vault_proxy.port}")
    creds = await simulator.create_account_with_key(account_id, {"USDT": "1"})
    admin = await auth.admin_headers()  # issued while Vault is there
    before = await count_rows(db_pool, auth.schema, "credentials")
    audit_before = await count_rows(db_pool, auth.audit_schema, "audit_events")

    await vault_proxy.stop()  # Vault unreachable from the service from here on
    response = await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json={
            "account_id": account_id,
            "exchange": "binance",
            "api_key": creds.api_key,
            "secret": creds.secret,
        },
        headers=admin,
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "vault_unavailable"
    assert "nothing changed" in response.json()["error"]["message"]
    # nothing half-written: no metadata row, no audit event, no secret under the account
    assert await count_rows(db_pool, auth.schema, "credentials") == before
    assert await count_rows(db_pool, auth.audit_schema, "audit_events") == audit_before
    assert (
        await vault._request(  # the test's own (direct) Vault client still works
            "LIST", f"secret/metadata/exchange-credentials/{account_id}", ok_missing=True
        )
        is None
    )
    # tokens are signed in Vault: no token either, with the same clear 503
    token = await auth.http.post(
        f"{auth.base_url}/v1/tokens",
        json={"client_id": auth.admin_id, "client_secret": auth.admin_secret},
    )
    assert token.status_code == 503
    assert token.json()["error"]["code"] == "vault_unavailable"
    # the service says so on /readyz: at once, from its latest check (one a second, each
    # bounded by 3 s), so within a round or two of the outage
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        ready = await auth.http.get(f"{auth.base_url}/readyz")
        if ready.status_code == 503 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert ready.status_code == 503
    assert ready.json()["checks"]["vault"]["ok"] is False


async def test_repeated_bad_client_secrets_are_locked_out(
    auth_factory: Any, db_pool: AsyncConnectionPool[AsyncConnection]
) -> None:
    auth: AuthService = await auth_factory(AUTH_FAILURE_LIMIT="3", AUTH_FAILURE_WINDOW_S="30")
    caller = await auth.admin_headers()  # for introspection below, before the lockout
    bad = {"client_id": auth.admin_id, "client_secret": "wrong-" + uuid.uuid4().hex}
    statuses = []
    for _ in range(4):
        response = await auth.http.post(f"{auth.base_url}/v1/tokens", json=bad)
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429, 429]
    assert response.json()["error"]["code"] == "too_many_failures"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 30
    # locked out even with the right secret until the window passes: brute force gains nothing
    good = {"client_id": auth.admin_id, "client_secret": auth.admin_secret}
    assert (await auth.http.post(f"{auth.base_url}/v1/tokens", json=good)).status_code == 429
    metrics = (await auth.http.get(f"{auth.base_url}/metrics")).text
    assert 'eip_auth_lockouts_total{kind="client_secret"} 1.0' in metrics
    assert 'eip_auth_failures_total{kind="client_secret"} 3.0' in metrics
    assert "source locked out" in auth.logs()
    async with db_pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT action, outcome FROM {} ORDER BY sequence").format(
                sql.Identifier(auth.audit_schema, "audit_events")
            )
        )
        events = await cursor.fetchall()
    assert ("auth.lockout", "alert") in events
    assert events.count(("token.issue", "denied")) == 3
    # introspection of bad tokens is limited per source too
    codes = []
    # introspection takes a token of the caller's own
    for _ in range(4):
        r = await auth.http.post(
            f"{auth.base_url}/v1/tokens/introspect", json={"token": "x.y.z"}, headers=caller
        )
        codes.append(r.status_code)
    assert codes == [200, 200, 429, 429]


async def test_signing_key_rotation_keeps_old_tokens_valid(auth: AuthService) -> None:
    old_token = await auth.token(scope="credentials:admin")
    jwks_url = f"{auth.base_url}/v1/.well-known/jwks.json"
    assert [k["kid"] for k in (await auth.http.get(jwks_url)).json()["keys"]] == ["1"]
    rotated = await auth.http.post(
        f"{auth.base_url}/v1/signing-key/rotate",
        headers={"Authorization": f"Bearer {old_token}"},
    )
    assert rotated.json() == {"kid": "2"}
    assert [k["kid"] for k in (await auth.http.get(jwks_url)).json()["keys"]] == ["1", "2"]
    new_token = await auth.token(scope="credentials:admin")
    verifier = TokenVerifier(jwks_url, issuer="eip-auth", audience="eip")
    try:
        assert (await verifier.verify(old_token)).scopes == {"credentials:admin"}
        new_claims = await verifier.verify(new_token)
    finally:
        await verifier.aclose()
    assert new_claims.subject == auth.admin_id
    introspected = await auth.http.post(
        f"{auth.base_url}/v1/tokens/introspect",
        json={"token": new_token},
        headers=await auth.admin_headers(),
    )
    assert introspected.json()["active"] is True
    assert introspected.json()["sub"] == auth.admin_id
