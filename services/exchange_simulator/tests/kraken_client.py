"""A small Kraken REST client for wire-level tests: requests signed as Kraken documents it (its
own code, not the simulator's signing module), every field under the test's control."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

_nonces = itertools.count(time.time_ns() // 1000)


def api_sign(secret: str, path: str, nonce: str, body: str) -> str:
    message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
    return base64.b64encode(
        hmac.new(base64.b64decode(secret), message, hashlib.sha512).digest()
    ).decode()


class KrakenRest:
    def __init__(self, http: httpx.AsyncClient, creds: ApiCredentials | None = None) -> None:
        self.http = http
        self.creds = creds

    async def private(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        as_json: bool = False,
        nonce: int | None = None,
        secret: str | None = None,
        api_key: str | None = None,
    ) -> httpx.Response:
        assert self.creds is not None
        nonce_text = str(nonce if nonce is not None else next(_nonces))
        fields = {"nonce": nonce_text, **(params or {})}
        body = json.dumps(fields) if as_json else urllib.parse.urlencode(fields)
        path = f"/0/private/{method}"
        headers = {
            "API-Key": api_key if api_key is not None else self.creds.api_key,
            "API-Sign": api_sign(secret or self.creds.secret, path, nonce_text, body),
            "Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded",
        }
        return await self.http.post(path, content=body, headers=headers)

    async def result(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The ``result`` of a call that must succeed."""
        response = await self.private(method, params, **kw)
        body = response.json()
        assert response.status_code == 200, body
        assert body["error"] == [], body
        return body["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> str:
        """The one error of a call that must fail, answered with HTTP 200 as Kraken does."""
        response = await self.private(method, params, **kw)
        body = response.json()
        assert response.status_code == 200, body
        assert len(body["error"]) == 1, body
        assert "result" not in body, body
        error: str = body["error"][0]
        return error

    async def public(self, method: str, **params: Any) -> Any:
        response = await self.http.get(f"/0/public/{method}", params=params)
        assert response.status_code == 200
        return response.json()


async def kraken_trader(
    sim: SimulatorClient,
    balances: dict[str, str | Decimal] | None = None,
    profile: str = "trading",
) -> ApiCredentials:
    account = f"kraken-{uuid.uuid4().hex[:10]}"
    await sim.create_account(
        account, balances or {"USD": "100000", "USDT": "100000", "BTC": "2", "ETH": "10"}
    )
    return await sim.create_key(account, profile, venue="kraken")


@asynccontextmanager
async def kraken_rest(
    sim: SimulatorClient, creds: ApiCredentials | None = None
) -> AsyncIterator[KrakenRest]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http:
        yield KrakenRest(http, creds)


async def set_kraken_limits(sim: SimulatorClient, **limits: Any) -> dict[str, Any]:
    """Kraken's rate limits (tier or single numbers): the dialect's own admin route."""
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        response = await http.post("/admin/v1/kraken/rate-limits", json=limits)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def reset_kraken_limits(sim: SimulatorClient) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        (await http.post("/admin/v1/kraken/rate-limits/reset")).raise_for_status()


def private_ws_url(sim: SimulatorClient) -> str:
    return f"{sim.ws_base_url}/kraken/v2-auth"
