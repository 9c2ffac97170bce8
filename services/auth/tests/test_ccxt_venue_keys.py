"""Keys of the venues ccxt trades, end to end: the real auth service, told where OKX and Gate.io
are by ``AUTH_OKX_BASE_URL`` and ``AUTH_GATEIO_BASE_URL`` (a stand-in answering their
documented key-information bodies, as the exchange simulator speaks neither), validates them
through its validators — ccxt signing the venues' calls — stores a trading key with the
permissions the venue listed and refuses a key that can move funds."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from eip.testing.auth import AuthFactory
from eip.vault import VaultClient

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[3] / "libs" / "exchanges" / "tests" / "ccxt" / "trading_fixtures"
# Gate.io lists keys masked as their first 12 characters (its documented "c5dcfbf1f3a7*****")
GATE_KEY = "c5dcfbf1f3a79d3e0b1f2a4c6e8f0a1b"
SECRET = "venue-secret-of-the-test"


def fixture(venue: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{venue}.json").read_text())
    return data


class Venues:
    """Answers OKX's ``account/config`` and Gate.io's ``account/main_keys`` as documented and
    records the API-key header of each call (which proves ccxt signed it for that key)."""

    def __init__(self) -> None:
        self.url = ""
        self.gate_keys: Any = fixture("gateio")["main_keys"]
        self.seen: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None

    async def _okx(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("OK-ACCESS-KEY", "")))
        return web.json_response(fixture("okx")["key_config"])

    async def _gate(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("KEY", "")))
        return web.json_response(self.gate_keys)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v5/account/config", self._okx)
        app.router.add_get("/api/v4/account/main_keys", self._gate)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest_asyncio.fixture
async def venues() -> AsyncIterator[Venues]:
    stand_in = Venues()
    await stand_in.start()
    yield stand_in
    await stand_in.close()


async def test_okx_and_gateio_keys_are_validated_by_their_venues_and_stored_or_refused(
    auth_factory: AuthFactory, venues: Venues, vault: VaultClient
) -> None:
    auth = await auth_factory(AUTH_OKX_BASE_URL=venues.url, AUTH_GATEIO_BASE_URL=venues.url)
    admin = await auth.admin_headers()
    url = f"{auth.base_url}/v1/credentials"
    account = f"acct-{uuid.uuid4().hex[:10]}"
    okx = {"account_id": account, "exchange": "okx", "api_key": "okx-key-1", "secret": SECRET}

    no_passphrase = await auth.http.post(url, json=okx, headers=admin)
    assert no_passphrase.status_code == 422, no_passphrase.text
    assert no_passphrase.json()["error"]["code"] == "invalid_request"

    created = await auth.http.post(url, json={**okx, "passphrase": "okx-pass"}, headers=admin)
    assert created.status_code == 201, created.text
    stored = created.json()["credential"]
    assert (stored["exchange"], sorted(stored["permissions"])) == ("okx", ["read", "trade"])
    assert SECRET not in created.text

    gate = {"account_id": account, "exchange": "gateio", "api_key": GATE_KEY, "secret": SECRET}
    gate_created = await auth.http.post(url, json=gate, headers=admin)
    assert gate_created.status_code == 201, gate_created.text
    assert sorted(gate_created.json()["credential"]["permissions"]) == ["read", "trade"]

    venues.gate_keys = fixture("gateio")["main_keys_wallet"]  # the key may move funds now
    refused = await auth.http.post(url, json=gate, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "withdrawal_permission_refused"
    assert SECRET not in refused.text

    assert ("/api/v5/account/config", "okx-key-1") in venues.seen
    assert ("/api/v4/account/main_keys", GATE_KEY) in venues.seen
    for cred in (stored, gate_created.json()["credential"]):
        await vault.kv_destroy_all(f"exchange-credentials/{account}/{cred['id']}")
