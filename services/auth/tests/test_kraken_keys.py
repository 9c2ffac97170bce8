"""Kraken keys end to end: the real auth service validates them at the simulator's Kraken
dialect (permissions probed, withdrawal keys refused) and signs Kraken requests the venue
accepts, the secret never leaving it."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import httpx
import pytest

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration


@pytest.fixture
def auth(module_auth: AuthService) -> AuthService:
    """The module's one auth process (conftest): these tests use ids of their own."""
    return module_auth


async def kraken_key(sim: SimulatorClient, account: str, profile: str) -> ApiCredentials:
    await sim.create_account(account, {"USD": "1000", "BTC": "1"})
    return await sim.create_key(account, profile, venue="kraken")


def body(account: str, creds: ApiCredentials, **extra: object) -> dict[str, object]:
    return {
        "account_id": account,
        "exchange": "kraken",
        "api_key": creds.api_key,
        "secret": creds.secret,
        **extra,
    }


async def test_kraken_keys_are_stored_with_their_permissions_and_withdrawal_keys_refused(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient
) -> None:
    admin = await auth.admin_headers()
    url = f"{auth.base_url}/v1/credentials"
    stored: list[str] = []
    for profile, permissions in (("trading", ["read", "trade"]), ("read-only", ["read"])):
        account = f"acct-{uuid.uuid4().hex[:10]}"
        created = await auth.http.post(
            url, json=body(account, await kraken_key(simulator, account, profile)), headers=admin
        )
        assert created.status_code == 201, created.text
        cred = created.json()["credential"]
        assert cred["permissions"] == permissions
        # Kraken says nothing of a key's IP binding: the platform warns
        assert created.json()["warnings"] == ["no_ip_allowlist"]
        stored.append(f"exchange-credentials/{account}/{cred['id']}")

    account = f"acct-{uuid.uuid4().hex[:10]}"
    withdrawing = await kraken_key(simulator, account, "trading+withdrawal")
    refused = await auth.http.post(url, json=body(account, withdrawing), headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "withdrawal_permission_refused"
    assert "withdraw" in refused.json()["error"]["details"]["permissions"]

    wrong_secret = ApiCredentials(
        account_id=account, api_key=withdrawing.api_key, secret="A" * 86 + "=="
    )
    rejected = await auth.http.post(url, json=body(account, wrong_secret), headers=admin)
    assert rejected.status_code == 422, rejected.text
    assert rejected.json()["error"]["code"] == "key_rejected"
    assert "Invalid signature" in rejected.json()["error"]["details"]["reason"]
    assert wrong_secret.secret not in rejected.text
    for path in stored:
        await vault.kv_destroy_all(path)


async def test_a_kraken_signature_from_auth_is_accepted_by_the_venue(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient
) -> None:
    account = f"acct-{uuid.uuid4().hex[:10]}"
    key = await kraken_key(simulator, account, "trading")
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=body(account, key), headers=admin
    )
    assert created.status_code == 201, created.text
    cid = created.json()["credential"]["id"]
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    token = await auth.token(
        trader, await auth.create_client(trader, ["credentials:use"], [account])
    )
    bearer = {"Authorization": f"Bearer {token}"}
    sign_url = f"{auth.base_url}/v1/credentials/{cid}/sign"

    nonce = str(time.time_ns() // 1000)
    form = urllib.parse.urlencode({"nonce": nonce})
    path = "/0/private/BalanceEx"
    # kraken-rest is Kraken's default scheme
    signed = await auth.http.post(
        sign_url, json={"fields": {"path": path, "nonce": nonce, "body": form}}, headers=bearer
    )
    assert signed.status_code == 200, signed.text
    answer = signed.json()
    assert answer["scheme"] == "kraken-rest"
    assert answer["headers"] == {"API-Key": key.api_key, "API-Sign": answer["signature"]}
    assert key.secret not in signed.text
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        balances = await http.post(
            path,
            content=form,
            headers={**answer["headers"], "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert balances.json()["error"] == []
    assert balances.json()["result"]["ZUSD"]["balance"] == "1000.0000"

    for misfit in (
        {"scheme": "kraken-rest", "fields": {"payload": form}},
        {"scheme": "kraken-rest", "fields": {"path": path, "nonce": nonce}},
        {"scheme": "binance-rest", "fields": {"payload": form}},
    ):
        refused = await auth.http.post(sign_url, json=misfit, headers=bearer)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_signing_request"
    await vault.kv_destroy_all(f"exchange-credentials/{account}/{cid}")
