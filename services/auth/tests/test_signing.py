"""Signing through the auth service by scheme: what it signs is what the exchange accepts, the
scheme is checked before the secret is read, and a revoked credential signs nothing more."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import httpx
import pytest

from eip.credentials_client import AuthRequestSigner, ClientCredentials, CredentialsClient
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.contract.signing import SigningRequest
from eip.testing.simulator import free_port
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration


@pytest.fixture
def auth(module_auth: AuthService) -> AuthService:
    """The module's one auth process (conftest): these tests use ids of their own."""
    return module_auth


async def audit_uses(auth: AuthService, cid: str) -> int:
    response = await auth.http.get(
        f"{auth.base_url}/v1/audit",
        params={"subject": cid, "action": "credential.use"},
        headers=await auth.admin_headers(),
    )
    assert response.status_code == 200, response.text
    return len(response.json()["events"])


async def test_a_signature_from_auth_is_accepted_by_the_exchange_and_a_misfit_is_refused_unread(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    await simulator.create_account(account_id, {"USDT": "100"})
    key = await simulator.create_key(account_id, "trading")
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json={
            "account_id": account_id,
            "exchange": "binance",
            "api_key": key.api_key,
            "secret": key.secret,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["credential"]["id"]
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    token = await auth.token(
        trader, await auth.create_client(trader, ["credentials:use"], [account_id])
    )
    bearer = {"Authorization": f"Bearer {token}"}
    sign_url = f"{auth.base_url}/v1/credentials/{cid}/sign"

    query = urllib.parse.urlencode({"recvWindow": 5000, "timestamp": int(time.time() * 1000)})
    signed = await auth.http.post(
        sign_url, json={"scheme": "binance-rest", "fields": {"payload": query}}, headers=bearer
    )
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["scheme"] == "binance-rest"
    assert body["api_key"] == key.api_key
    assert key.secret not in signed.text
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        account = await http.get(
            f"/api/v3/account?{query}&signature={body['signature']}", headers=body["headers"]
        )
    assert account.status_code == 200, account.text
    assert account.json()["balances"][0]["asset"] == "USDT"

    uses = await audit_uses(auth, cid)
    for misfit in (
        {"scheme": "kraken-rest", "fields": {"payload": query}},
        {"scheme": "binance-ws-api", "fields": {"apiKey": "x", "timestamp": "1"}},
        {"scheme": "binance-rest", "fields": {"path": "/api/v3/account"}},
        {"payload": query, "fields": {"payload": query}},
    ):
        refused = await auth.http.post(sign_url, json=misfit, headers=bearer)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_signing_request"
    assert await audit_uses(auth, cid) == uses  # refused before the secret was read

    revoked = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/revoke", json={}, headers=admin
    )
    assert revoked.status_code == 200
    after = await auth.http.post(sign_url, json={"payload": query}, headers=bearer)
    assert after.status_code == 410
    assert after.json()["error"]["code"] == "credential_revoked"
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_the_adapter_side_signer_says_rejected_for_no_and_transient_for_not_now(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    await simulator.create_account(account_id, {"USDT": "100"})
    key = await simulator.create_key(account_id, "trading")
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials",
        json={
            "account_id": account_id,
            "exchange": "binance",
            "api_key": key.api_key,
            "secret": key.secret,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["credential"]["id"]

    async def signer_for(accounts: list[str], auth_url: str = auth.base_url) -> AuthRequestSigner:
        client_id = f"trader-{uuid.uuid4().hex[:6]}"
        secret = await auth.create_client(client_id, ["credentials:use"], accounts)
        tokens = ClientCredentials(
            auth_url, client_id, secret, scope="credentials:use", accounts=accounts
        )
        return AuthRequestSigner(CredentialsClient(auth_url, tokens.token), cid, "binance")

    request = SigningRequest("binance-ws-api", {"timestamp": "1", "recvWindow": "5000"})
    mine = await signer_for([account_id])
    signed = await mine.sign(request)
    assert signed.api_key == key.api_key
    assert signed.signature is not None
    assert len(signed.signature) == 64
    assert signed.key_version == 1

    with pytest.raises(CredentialRejected, match="signing refused"):
        await (await signer_for(["someone-else"])).sign(request)
    with pytest.raises(CredentialRejected, match="invalid_signing_request"):
        await mine.sign(SigningRequest("binance-rest", {"nonce": "1"}))
    closed_port = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransientExchangeError) as unreachable:
        await (await signer_for([account_id], closed_port)).sign(request)
    assert not isinstance(unreachable.value, CredentialRejected)

    revoked = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/revoke", json={}, headers=admin
    )
    assert revoked.status_code == 200
    with pytest.raises(CredentialRejected, match="credential_revoked"):
        await mine.sign(request)
    await mine.credentials.aclose()
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_a_venue_that_signs_in_process_gets_the_secret_per_use_audited_and_none_once_revoked(
    auth: AuthService, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    """``AuthRequestSigner.secret()``, the ``SecretSource`` the ccxt trading adapter asks before
    every call: the stored key and secret through ``/use`` (each hand-out audited when nothing
    is cached), then ``CredentialRejected`` from the moment of the revocation."""
    key = await simulator.create_account_with_key(account_id, {"USDT": "100"})
    cid = await auth.create_credential(account_id, "binance", key.api_key, key.secret)
    client_id = f"ccxt-{uuid.uuid4().hex[:6]}"
    client_secret = await auth.create_client(client_id, ["credentials:use"], [account_id])
    tokens = ClientCredentials(
        auth.base_url, client_id, client_secret, scope="credentials:use", accounts=[account_id]
    )
    # ttl 0: nothing cached, every hand-out goes to auth (the adapter's worst case)
    credentials = CredentialsClient(auth.base_url, tokens.token, ttl_s=0)
    source = AuthRequestSigner(credentials, cid, "binance", purpose="ccxt trading")

    first = await source.secret()
    second = await source.secret()
    assert (first.api_key, first.secret, first.passphrase) == (key.api_key, key.secret, None)
    assert second == first
    assert key.secret not in repr(first)
    assert await audit_uses(auth, cid) == 2

    await auth.revoke_credential(cid)
    with pytest.raises(CredentialRejected, match="secret refused") as refused:
        await source.secret()
    assert key.secret not in str(refused.value)
    await credentials.aclose()
    await tokens.aclose()
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")
