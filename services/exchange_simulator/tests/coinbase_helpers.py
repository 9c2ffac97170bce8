"""Clients of the simulator's Coinbase dialect for tests: JWTs signed as Coinbase's SDKs and
ccxt sign them, an HTTP client that signs each request, and unmodified ccxt coinbase."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.tokens.jwt import b64url_encode, der_to_jws, signing_input

API = "/api/v3/brokerage"


def coinbase_jwt(
    credentials: ApiCredentials,
    uri: str | None,
    *,
    now: float | None = None,
    lifetime_s: int = 120,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    signing_pem: str | None = None,
) -> str:
    """An ES256 JWT as Coinbase's SDK builds it (``iss: cdp``); ``uri`` ``"GET host/path"``, or
    None for a WebSocket token. The keyword arguments break it in one place for a test."""
    issued = int(time.time() if now is None else now)
    head = {"alg": "ES256", "kid": credentials.api_key, "nonce": secrets.token_hex(16)}
    body: dict[str, Any] = {
        "sub": credentials.api_key,
        "iss": "cdp",
        "nbf": issued,
        "exp": issued + lifetime_s,
    }
    if uri is not None:
        body["uri"] = uri
    head.update(header or {})
    body.update(claims or {})
    key = serialization.load_pem_private_key(
        (signing_pem or credentials.secret).encode(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signed = signing_input(head, body)
    signature = der_to_jws(key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return f"{signed.decode()}.{b64url_encode(signature)}"


class CoinbaseHttp:
    """httpx with a fresh JWT on every request (or the one a test passes)."""

    def __init__(self, sim: SimulatorClient, credentials: ApiCredentials) -> None:
        self.credentials = credentials
        self.host = urlsplit(sim.base_url).netloc
        self.http = httpx.AsyncClient(base_url=sim.base_url, timeout=10)

    def uri(self, method: str, path: str) -> str:
        return f"{method} {self.host}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Any = None,
        json: Any = None,
        content: str | None = None,
    ) -> httpx.Response:
        if token is None:
            token = coinbase_jwt(self.credentials, self.uri(method, path))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return await self.http.request(
            method, path, params=params, json=json, content=content, headers=headers
        )

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.request("GET", path, params=params or None)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any) -> Any:
        response = await self.request("POST", path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def limit_order(
        self,
        side: str,
        size: str,
        price: str,
        product: str = "BTC-USDT",
        client_order_id: str | None = None,
        **config: Any,
    ) -> Any:
        body = {
            "client_order_id": client_order_id or str(uuid.uuid4()),
            "product_id": product,
            "side": side,
            "order_configuration": {
                "limit_limit_gtc": {"base_size": size, "limit_price": price, **config}
            },
        }
        return await self.post(f"{API}/orders", body)

    async def aclose(self) -> None:
        await self.http.aclose()


async def new_coinbase_trader(
    sim: SimulatorClient,
    balances: dict[str, str] | None = None,
    profile: str = "trading",
) -> ApiCredentials:
    account = f"cb-{uuid.uuid4().hex[:10]}"
    await sim.create_account(
        account, dict(balances or {"USDT": "100000", "BTC": "2", "ETH": "10", "USD": "5000"})
    )
    return await sim.create_key(account, profile, venue="coinbase")


@asynccontextmanager
async def coinbase_http(
    sim: SimulatorClient, credentials: ApiCredentials
) -> AsyncIterator[CoinbaseHttp]:
    client = CoinbaseHttp(sim, credentials)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def coinbase(
    sim: SimulatorClient, credentials: ApiCredentials | None = None, pro: bool = False
) -> AsyncIterator[Any]:
    """Unmodified ccxt (or ccxt.pro) coinbase, markets loaded."""
    exchange = sim.ccxt_coinbase(credentials, pro=pro)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()
