"""Coinbase CDP keys through the real auth service and the simulator's Coinbase dialect: a key
is validated by its permissions (a transfer key refused), a secret that is not an EC key is
refused, and the JWT auth signs is accepted by the venue — the private key never leaves auth."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

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


async def coinbase_key(sim: SimulatorClient, account: str, profile: str) -> ApiCredentials:
    with contextlib.suppress(httpx.HTTPStatusError):  # the account exists (a second key)
        await sim.create_account(account, {"USDT": "1000"})
    return await sim.create_key(account, profile, venue="coinbase")


async def store(auth: AuthService, account: str, creds: ApiCredentials, **extra: Any) -> Any:
    return await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json={
            "account_id": account,
            "exchange": "coinbase",
            "api_key": creds.api_key,
            "secret": creds.secret,
            **extra,
        },
        headers=await auth.admin_headers(),
    )


async def test_coinbase_keys_are_stored_with_their_permissions_and_transfer_keys_refused(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    stored = []
    for profile, permissions in (("read-only", ["read"]), ("trading", ["read", "trade"])):
        created = await store(auth, account_id, await coinbase_key(simulator, account_id, profile))
        assert created.status_code == 201, created.text
        credential = created.json()["credential"]
        assert credential["permissions"] == permissions
        assert created.json()["warnings"] == []  # no IP allow-list to check on Coinbase
        stored.append(credential["id"])
    transfer = await coinbase_key(simulator, account_id, "trading+withdrawal")
    refused = await store(auth, account_id, transfer)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "withdrawal_permission_refused"
    assert "transfer" in refused.json()["error"]["details"]["permissions"]
    for cid in stored:
        await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_a_secret_that_is_no_ec_key_or_another_venues_key_is_refused(
    auth: AuthService, simulator: SimulatorClient, account_id: str
) -> None:
    good = await coinbase_key(simulator, account_id, "trading")
    not_pem = ApiCredentials(good.api_key, "not-a-pem-" + uuid.uuid4().hex, account_id)
    refused = await store(auth, account_id, not_pem)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "key_rejected"
    assert not_pem.secret not in refused.text
    # a valid EC key the venue does not know under that name: the venue refuses the JWT
    other = await coinbase_key(simulator, account_id, "trading")
    swapped = ApiCredentials(good.api_key, other.secret, account_id)
    refused = await store(auth, account_id, swapped)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "key_rejected"


async def test_a_jwt_signed_by_auth_is_accepted_by_the_venue_once(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    creds = await coinbase_key(simulator, account_id, "trading")
    created = await store(auth, account_id, creds)
    assert created.status_code == 201, created.text
    cid = created.json()["credential"]["id"]
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    token = await auth.token(
        trader, await auth.create_client(trader, ["credentials:use"], [account_id])
    )
    host = httpx.URL(simulator.base_url).netloc.decode()
    path = "/api/v3/brokerage/accounts"
    signed = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/sign",
        json={"scheme": "coinbase-jwt", "fields": {"method": "GET", "host": host, "path": path}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert signed.status_code == 200, signed.text
    answer = signed.json()
    assert answer["api_key"] == creds.api_key
    assert creds.secret not in signed.text
    async with httpx.AsyncClient(base_url=simulator.base_url) as venue:
        accounts = await venue.get(path, headers=answer["headers"])
        assert accounts.status_code == 200, accounts.text
        assert "USDT" in {a["currency"] for a in accounts.json()["accounts"]}
        replayed = await venue.get(path, headers=answer["headers"])
        assert replayed.status_code == 401  # Coinbase wants a new token per request
    misfit = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/sign",
        json={"scheme": "coinbase-jwt", "fields": {"method": "GET", "host": host}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert misfit.status_code == 422
    assert misfit.json()["error"]["code"] == "invalid_signing_request"
    with_query = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/sign",
        json={"scheme": "coinbase-jwt", "fields": {"method": "GET", "host": host, "path": "/a?b"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert with_query.status_code == 422  # a uri Coinbase would never match: refused unread
    assert with_query.json()["error"]["code"] == "invalid_signing_request"
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")
