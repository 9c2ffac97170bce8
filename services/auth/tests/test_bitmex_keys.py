"""BitMEX keys end to end: the real auth service validates them at a BitMEX stand-in that
answers ``GET /api/v1/apiKey`` with recorded rows and checks the signature as BitMEX does
(the exchange simulator speaks no BitMEX), refuses withdrawal keys, and signs ``bitmex-rest``
requests exactly as BitMEX's documented example — the secret never leaving it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eip.testing.auth import AuthFactory
from eip.testing.bitmex_venue import DOC_KEY, DOC_SECRET, BitmexVenue
from eip.vault import VaultClient

pytestmark = pytest.mark.integration

PAYLOADS = Path(__file__).parents[3] / "libs" / "exchanges" / "tests" / "payloads" / "bitmex"
WITHDRAW_KEY, WITHDRAW_SECRET = "wDrAw1ngKeyOfTheSameUser0", "w" * 48


@pytest_asyncio.fixture
async def bitmex() -> AsyncIterator[BitmexVenue]:
    double = BitmexVenue(
        PAYLOADS / "trading", secrets={DOC_KEY: DOC_SECRET, WITHDRAW_KEY: WITHDRAW_SECRET}
    )
    keys = double.payload("api_keys.json")
    double.routes[("GET", "/api/v1/apiKey")] = lambda _: (200, keys)
    await double.start()
    yield double
    await double.close()


def body(account: str, api_key: str, secret: str) -> dict[str, object]:
    return {"account_id": account, "exchange": "bitmex", "api_key": api_key, "secret": secret}


async def test_bitmex_keys_are_stored_with_their_permissions_and_withdrawal_keys_refused(
    auth_factory: AuthFactory, bitmex: BitmexVenue, vault: VaultClient
) -> None:
    auth = await auth_factory(AUTH_BITMEX_BASE_URL=bitmex.url)
    admin = await auth.admin_headers()
    url = f"{auth.base_url}/v1/credentials"
    account = f"acct-{uuid.uuid4().hex[:10]}"
    created = await auth.http.post(url, json=body(account, DOC_KEY, DOC_SECRET), headers=admin)
    assert created.status_code == 201, created.text
    cred = created.json()["credential"]
    assert sorted(cred["permissions"]) == ["read", "trade"]
    assert DOC_SECRET not in created.text

    refused = await auth.http.post(
        url, json=body(account, WITHDRAW_KEY, WITHDRAW_SECRET), headers=admin
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "withdrawal_permission_refused"

    rejected = await auth.http.post(url, json=body(account, DOC_KEY, "x" * 48), headers=admin)
    assert rejected.status_code == 422, rejected.text
    assert rejected.json()["error"]["code"] == "key_rejected"
    assert all(seen.signed for seen in bitmex.seen("GET", "/api/v1/apiKey")[:2])
    await vault.kv_destroy_all(f"exchange-credentials/{account}/{cred['id']}")


async def test_a_bitmex_signature_from_auth_is_bitmexs_documented_one(
    auth_factory: AuthFactory, bitmex: BitmexVenue, vault: VaultClient
) -> None:
    auth = await auth_factory(AUTH_BITMEX_BASE_URL=bitmex.url)
    account = f"acct-{uuid.uuid4().hex[:10]}"
    admin = await auth.admin_headers()
    created = await auth.http.post(
        f"{auth.base_url}/v1/credentials", json=body(account, DOC_KEY, DOC_SECRET), headers=admin
    )
    assert created.status_code == 201, created.text
    cid = created.json()["credential"]["id"]
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    token = await auth.token(
        trader, await auth.create_client(trader, ["credentials:use"], [account])
    )
    bearer = {"Authorization": f"Bearer {token}"}
    sign_url = f"{auth.base_url}/v1/credentials/{cid}/sign"

    # the POST example of BitMEX's "API Keys Usage" page; bitmex-rest is BitMEX's default
    order = (
        '{"symbol":"XBTM15","price":219.0,'
        '"clOrdID":"mm_bitmex_1a/oemUeQ4CAJZgP3fjHsA","orderQty":98}'
    )
    fields = {"verb": "POST", "path": "/api/v1/order", "expires": "1518064238", "body": order}
    signed = await auth.http.post(sign_url, json={"fields": fields}, headers=bearer)
    assert signed.status_code == 200, signed.text
    answer = signed.json()
    expected = "1749cd2ccae4aa49048ae09f0b95110cee706e0944e6a14ad0b3a8cb45bd336b"
    assert answer["scheme"] == "bitmex-rest"
    assert answer["signature"] == expected
    assert answer["headers"] == {
        "api-expires": "1518064238",
        "api-key": DOC_KEY,
        "api-signature": expected,
    }
    assert DOC_SECRET not in signed.text

    for misfit in (
        {"scheme": "bitmex-rest", "fields": {"payload": order}},
        {"scheme": "bitmex-rest", "fields": {**fields, "verb": "post"}},
        {"scheme": "binance-rest", "fields": {"payload": order}},
    ):
        refused = await auth.http.post(sign_url, json=misfit, headers=bearer)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_signing_request"
    await vault.kv_destroy_all(f"exchange-credentials/{account}/{cid}")
