"""The other side: a trading service's credentials cache is emptied by a revocation through
Kafka, and another service's endpoint refuses a token without its scope."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from psycopg import sql

from eip.account.app import build_app as build_account_app
from eip.account.settings import AccountSettings
from eip.bus import Producer
from eip.credentials_client import ClientCredentials, CredentialRevoked, CredentialsClient
from eip.exchange_simulator.client import SimulatorClient
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration


async def eventually(check: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_revocation_evicts_a_running_consumers_cache(
    auth: AuthService,
    simulator: SimulatorClient,
    vault: VaultClient,
    producer: Producer,
    kafka_bootstrap_servers: str,
    account_id: str,
) -> None:
    creds = await simulator.create_account_with_key(account_id, {"USDT": "1"})
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json={
            "account_id": account_id,
            "exchange": "binance",
            "api_key": creds.api_key,
            "secret": creds.secret,
        },
        headers=admin,
    )
    cid = created.json()["credential"]["id"]
    trader = f"om-{uuid.uuid4().hex[:6]}"
    trader_secret = await auth.create_client(trader, ["credentials:use"], [account_id])
    tokens = ClientCredentials(auth.base_url, trader, trader_secret, scope="credentials:use")
    client = CredentialsClient(auth.base_url, tokens.token, ttl_s=600)  # long: eviction matters
    listener = client.listener(
        kafka_bootstrap_servers, producer, topic=auth.credentials_topic, client_id="test-om"
    )
    await listener.start()
    running = asyncio.create_task(listener.run())
    try:
        # the consumer starts at the latest offset: wait for its partitions before acting
        await eventually(lambda: bool(listener._consumer.assignment()))
        await asyncio.sleep(1.0)  # the position is fetched right after the assignment
        first = await client.get(cid, purpose="test")
        assert first.secret == creds.secret
        assert "secret" not in repr(first).lower().replace("credential(", "")
        assert client.cached(cid) is first
        assert await client.get(cid) is first  # served from the cache

        revoked = await auth.http.post(
            f"{auth.base_url}/v1/credentials/{cid}/revoke", json={"reason": "leak"}, headers=admin
        )
        assert revoked.status_code == 200
        await eventually(lambda: client.cached(cid) is None)
        with pytest.raises(CredentialRevoked):
            await client.get(cid)
    finally:
        listener.stop()
        await asyncio.wait_for(running, 15)
        await client.aclose()
        await tokens.aclose()
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_another_services_endpoint_enforces_the_scope(
    auth: AuthService, account_id: str
) -> None:
    settings = AccountSettings(auth_jwks_url=f"{auth.base_url}/v1/.well-known/jwks.json")
    app = build_account_app(settings)
    market_only = f"md-{uuid.uuid4().hex[:6]}"
    md_secret = await auth.create_client(market_only, ["market:read"], [account_id])
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    reader_secret = await auth.create_client(reader, ["accounts:read"], [account_id])
    path = f"/v1/accounts/{account_id}/access"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://account"
    ) as http:
        no_token = await http.get(path)
        assert no_token.status_code == 401
        assert no_token.json()["error"]["code"] == "unauthorized"
        assert no_token.headers["WWW-Authenticate"] == "Bearer"

        wrong_scope = await http.get(
            path, headers={"Authorization": f"Bearer {await auth.token(market_only, md_secret)}"}
        )
        assert wrong_scope.status_code == 403
        assert wrong_scope.json()["error"]["details"] == {"missing": ["accounts:read"]}

        token = await auth.token(reader, reader_secret)
        ok = await http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"account_id": account_id, "subject": reader, "access": "read"}
        other = await http.get(
            "/v1/accounts/someone-else/access", headers={"Authorization": f"Bearer {token}"}
        )
        assert other.status_code == 403
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        bad = await http.get(path, headers={"Authorization": f"Bearer {tampered}"})
        assert bad.status_code == 401
    await app.state.token_verifier.aclose()


async def test_edited_audit_row_fails_the_verify_command(
    auth: AuthService, db_pool: Any, run_audit_verify: Callable[[str], Any]
) -> None:
    """The service's own trail: verify passes, then one edited row breaks it at that row —
    via the command (a subprocess) and via the API."""
    admin = await auth.admin_headers()
    for _ in range(3):
        await auth.token(scope="market:read")
    verify_api = await auth.http.get(f"{auth.base_url}/v1/audit/verify", headers=admin)
    assert verify_api.json()["ok"] is True
    total = verify_api.json()["checked"]
    assert total >= 4
    target = total - 1
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("UPDATE {} SET actor = 'client:intruder' WHERE sequence = %s").format(
                sql.Identifier(auth.audit_schema, "audit_events")
            ),
            (target,),
        )
    result = run_audit_verify(auth.audit_schema)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"BROKEN at sequence {target}:" in result.stdout
    verify_api = await auth.http.get(f"{auth.base_url}/v1/audit/verify", headers=admin)
    assert verify_api.json()["ok"] is False
    assert verify_api.json()["broken_at"] == target
