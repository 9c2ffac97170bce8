"""Credentials end to end: the real service process, Vault, PostgreSQL, Kafka, the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.events.v1 import auth_pb2
from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.vault import VaultClient

from .conftest import AuthService, read_topic_values

pytestmark = pytest.mark.integration


@pytest.fixture
def auth(module_auth: AuthService) -> AuthService:
    """The module's one auth process (conftest): these tests use ids of their own."""
    return module_auth


async def new_key(
    sim: SimulatorClient, account: str, profile: str = "trading", ip: list[str] | None = None
) -> ApiCredentials:
    with contextlib.suppress(httpx.HTTPStatusError):  # the account exists (a second key)
        await sim.create_account(account, {"USDT": "1000"})
    return await sim.create_key(account, profile, ip_allowlist=ip)


def key_body(account: str, creds: ApiCredentials, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "exchange": "binance",
        "label": "main",
        "api_key": creds.api_key,
        "secret": creds.secret,
        **extra,
    }


async def audit_actions(auth: AuthService, subject: str) -> list[tuple[str, str]]:
    response = await auth.http.get(
        f"{auth.base_url}/v1/audit",
        params={"subject": subject},
        headers=await auth.admin_headers(),
    )
    assert response.status_code == 200, response.text
    return [(e["action"], e["outcome"]) for e in response.json()["events"]]


async def test_create_list_get_use_revoke(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    creds = await new_key(simulator, account_id, ip=["127.0.0.1"])
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=key_body(account_id, creds), headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    cred = body["credential"]
    assert cred["permissions"] == ["read", "trade"]
    assert cred["ip_restricted"] is True
    assert body["warnings"] == []
    assert cred["status"] == "active"
    cid = cred["id"]
    # the secret is in Vault under the per-account path, and only there
    stored = await vault.kv_get(f"exchange-credentials/{account_id}/{cid}")
    assert stored == {"api_key": creds.api_key, "secret": creds.secret}

    listed = await auth.http.get(
        f"{auth.base_url}/v1/credentials", params={"account_id": account_id}, headers=admin
    )
    assert [c["id"] for c in listed.json()["credentials"]] == [cid]

    # a trading service: credentials:use for this account only
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    trader_secret = await auth.create_client(trader, ["credentials:use"], [account_id])
    token = await auth.token(trader, trader_secret)
    use = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/use",
        json={"purpose": "test"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert use.status_code == 200, use.text
    assert use.json()["secret"] == creds.secret
    signed = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/sign",
        json={"payload": "timestamp=1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert signed.status_code == 200
    assert len(signed.json()["signature"]) == 64
    assert creds.secret not in signed.text
    # the admin token has no credentials:use: refused
    refused = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/use", json={}, headers=admin
    )
    assert refused.status_code == 403
    # another account's trader is refused, and that is audited
    other_id = f"other-{uuid.uuid4().hex[:6]}"
    other = await auth.create_client(other_id, ["credentials:use"], ["someone-else"])
    other_token = await auth.token(other_id, other)
    denied = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/use",
        json={},
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert denied.status_code == 403

    revoked = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/revoke", json={"reason": "test"}, headers=admin
    )
    assert revoked.status_code == 200
    assert revoked.json()["credential"]["status"] == "revoked"
    after = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/use",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert after.status_code == 410
    assert after.json()["error"]["code"] == "credential_revoked"
    actions = await audit_actions(auth, cid)
    assert ("credential.create", "success") in actions
    assert ("credential.use", "success") in actions
    assert ("credential.use", "denied") in actions
    assert ("credential.revoke", "success") in actions
    # soft-deleted in Vault: unreadable, but the version and its deletion stay on record
    assert await vault.kv_get(f"exchange-credentials/{account_id}/{cid}") is None
    metadata = await vault.kv_metadata(f"exchange-credentials/{account_id}/{cid}")
    assert metadata is not None
    assert metadata["versions"]["1"]["deletion_time"] != ""
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_withdrawal_key_refused_unless_overridden_and_audited(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    creds = await new_key(simulator, account_id, "trading+withdrawal")
    admin = await auth.admin_headers()
    refused = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=key_body(account_id, creds), headers=admin
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "withdrawal_permission_refused"
    assert "withdraw" in refused.json()["error"]["details"]["permissions"]
    listed = await auth.http.get(
        f"{auth.base_url}/v1/credentials", params={"account_id": account_id}, headers=admin
    )
    assert listed.json()["credentials"] == []  # nothing stored
    assert ("credential.create", "denied") in await audit_actions(auth, f"account:{account_id}")

    accepted = await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json=key_body(account_id, creds, allow_withdrawal=True),
        headers=admin,
    )
    assert accepted.status_code == 201, accepted.text
    cred = accepted.json()["credential"]
    assert cred["withdrawal_override"] is True
    # no IP allow-list on this key: accepted with a warning
    assert accepted.json()["warnings"] == ["no_ip_allowlist", "withdrawal_enabled_by_override"]
    actions = await audit_actions(auth, cred["id"])
    assert ("credential.override", "success") in actions
    assert "no_ip_allowlist" in auth.logs()
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cred['id']}")


async def test_rotation_with_failing_new_key_keeps_the_old_one(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    old = await new_key(simulator, account_id, ip=["127.0.0.1"])
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=key_body(account_id, old), headers=admin
    )
    cid = created.json()["credential"]["id"]
    bad = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/rotate",
        json={"api_key": old.api_key, "secret": "f" * 64},  # wrong secret
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "key_rejected"
    meta = await auth.http.get(f"{auth.base_url}/v1/credentials/{cid}", headers=admin)
    assert meta.json()["credential"]["vault_version"] == 1
    assert meta.json()["credential"]["status"] == "active"
    path = f"exchange-credentials/{account_id}/{cid}"
    assert await vault.kv_get(path) == {"api_key": old.api_key, "secret": old.secret}
    # the old key still validates at the exchange
    ok = await auth.http.post(f"{auth.base_url}/v1/credentials/{cid}/validate", headers=admin)
    assert ok.status_code == 200, ok.text

    new = await new_key(simulator, account_id, ip=["127.0.0.1"])
    rotated = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/rotate",
        json={"api_key": new.api_key, "secret": new.secret},
        headers=admin,
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["credential"]["vault_version"] == 2
    assert rotated.json()["credential"]["last_rotated_at"] is not None
    # the new secret is version 2 of the same path; version 1 stays in the history
    assert await vault.kv_get(path) == {"api_key": new.api_key, "secret": new.secret}
    assert await vault.kv_get(path, version=1) == {"api_key": old.api_key, "secret": old.secret}
    actions = await audit_actions(auth, cid)
    assert ("credential.rotate", "denied") in actions
    assert ("credential.rotate", "success") in actions
    await vault.kv_destroy_all(path)


async def test_unknown_exchange_and_bad_input_get_the_error_body(
    auth: AuthService, account_id: str
) -> None:
    admin = await auth.admin_headers()
    for body, status, code in (
        ({"account_id": account_id}, 422, "invalid_request"),
        (
            {"account_id": "bad/../id", "exchange": "binance", "api_key": "k", "secret": "s"},
            422,
            "invalid_request",
        ),
        (
            {"account_id": account_id, "exchange": "ftx", "api_key": "k", "secret": "s"},
            422,
            "unsupported_exchange",
        ),
    ):
        response = await auth.http.post(f"{auth.base_url}/v1/credentials", json=body, headers=admin)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    missing = await auth.http.get(f"{auth.base_url}/v1/credentials/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404
    no_token = await auth.http.get(f"{auth.base_url}/v1/credentials")
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == "unauthorized"


async def test_old_keys_raise_an_expiring_alert(
    auth: AuthService,
    simulator: SimulatorClient,
    vault: VaultClient,
    account_id: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    kafka_bootstrap_servers: str,
) -> None:
    creds = await new_key(simulator, account_id, ip=["127.0.0.1"])
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=key_body(account_id, creds), headers=admin
    )
    cid = created.json()["credential"]["id"]
    async with db_pool.connection() as conn:  # age the key past the 90-day default
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET created_at = now() - interval '100 days',"
                " last_rotated_at = now() - interval '100 days' WHERE id = %s"
            ).format(sql.Identifier(auth.schema, "credentials")),
            (cid,),
        )
    # Checks that run at the same moment (instances started together) both find the key not yet
    # alerted; a row lock held here makes both reach the update before either commits.
    table = sql.Identifier(auth.schema, "credentials")
    async with db_pool.connection() as locker, locker.transaction():
        await locker.execute(
            sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(table), (cid,)
        )
        pending = [
            asyncio.create_task(
                auth.http.post(f"{auth.base_url}/v1/credentials/expiry-check", headers=admin)
            )
            for _ in range(2)
        ]
        for _ in range(200):
            # (activity is snapshotted once per transaction: clear it to see the waits)
            await locker.execute("SELECT pg_stat_clear_snapshot()")
            # (only this test's schema: another test of a parallel run may wait on its own)
            waiting = await locker.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE %s AND query LIKE '%%expiring_alerted_at%%'",
                (f'UPDATE "{auth.schema}".%',),
            )
            row = await waiting.fetchone()
            if row is not None and row[0] == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the two checks never reached the update together")
    checks = await asyncio.gather(*pending)
    assert [c for check in checks for c in check.json()["alerted"]] == [cid]
    again = await auth.http.post(f"{auth.base_url}/v1/credentials/expiry-check", headers=admin)
    assert again.json()["alerted"] == []  # alerted once, not on every check
    metrics = (await auth.http.get(f"{auth.base_url}/metrics")).text
    assert "eip_auth_credentials_expiring 1.0" in metrics
    assert ("credential.expiring", "alert") in await audit_actions(auth, cid)
    events = []
    for raw in await read_topic_values(kafka_bootstrap_servers, auth.credentials_topic):
        event = auth_pb2.CredentialEvent.FromString(raw)
        if event.credential_id == cid:
            events.append(event.action)
    assert events == [
        auth_pb2.CREDENTIAL_ACTION_CREATED,
        auth_pb2.CREDENTIAL_ACTION_EXPIRING,
    ]
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")
