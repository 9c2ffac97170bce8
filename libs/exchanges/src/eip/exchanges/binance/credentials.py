"""Binance: HMAC-SHA256 signed REST, permissions from ``/sapi/v1/account/apiRestrictions``.

Validation makes two signed USER_DATA calls: ``GET /api/v3/account`` proves the key and the
secret work for reading, and ``apiRestrictions`` says what else the key may do. Binance keys
have no passphrase and do support IP allow-lists.

Signing schemes (``POST /v1/credentials/{id}/sign``):

- ``binance-rest`` (the default): ``payload`` is the query string followed directly by the form
  body, exactly as sent; the answer is the hex HMAC-SHA256 and the ``X-MBX-APIKEY`` header.
- ``binance-ws-api``: the WebSocket API request's parameters other than ``apiKey`` and
  ``signature``; the key is added, the parameters sorted by name and joined ``k=v`` with ``&``
  (Binance's documented WebSocket API payload), and the hex HMAC-SHA256 of that returned.
  A signature over the key itself is why the caller cannot build this payload alone.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    ExchangeUnavailable,
    KeyPermissions,
    KeyRejected,
    Signature,
    SigningScheme,
)

# Binance error codes meaning "this key/secret is not good", as opposed to an outage.
_KEY_ERRORS = {-2014, -2015, -1022, -2008}


def hmac_sha256(secret: ExchangeSecret, payload: str) -> str:
    return hmac.new(secret.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_rest(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    return Signature(hmac_sha256(secret, fields["payload"]), {"X-MBX-APIKEY": secret.api_key})


def ws_api_payload(api_key: str, params: Mapping[str, str]) -> str:
    """Binance's WebSocket API signature payload: every parameter but the signature, the API
    key included, sorted by name."""
    every = {**params, "apiKey": api_key}
    return "&".join(f"{name}={every[name]}" for name in sorted(every))


def sign_ws_api(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    return Signature(hmac_sha256(secret, ws_api_payload(secret.api_key, fields)))


SIGNING_SCHEMES: Mapping[str, SigningScheme] = {
    "binance-rest": SigningScheme(sign_rest, fields=frozenset({"payload"})),
    "binance-ws-api": SigningScheme(
        sign_ws_api, open_fields=True, reserved=frozenset({"apiKey", "signature"})
    ),
}


class BinanceValidator:
    exchange = "binance"
    # the public API (auth calls it unless AUTH_BINANCE_BASE_URL says otherwise)
    default_base_url = "https://api.binance.com"
    needs_passphrase = False
    supports_ip_allowlist = True
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "binance-rest"

    def __init__(self, base_url: str, timeout_s: float = 10.0, recv_window_ms: int = 10_000):
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.recv_window_ms = recv_window_ms

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _signed_get(self, path: str, secret: ExchangeSecret) -> dict[str, Any]:
        query = urllib.parse.urlencode(
            {"recvWindow": self.recv_window_ms, "timestamp": int(time.time() * 1000)}
        )
        url = f"{path}?{query}&signature={hmac_sha256(secret, query)}"
        try:
            response = await self._http.get(url, headers={"X-MBX-APIKEY": secret.api_key})
        except httpx.HTTPError as exc:
            # The exception text would carry the URL; the type is enough to act on.
            raise ExchangeUnavailable(f"binance did not answer ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        code = body.get("code") if isinstance(body, dict) else None
        if response.status_code in (400, 401, 403) and code in _KEY_ERRORS:
            reason = "signature rejected" if code == -1022 else "key rejected"
            raise KeyRejected(f"binance: {reason} (code {code})")
        raise ExchangeUnavailable(f"binance answered HTTP {response.status_code} (code {code})")

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        account = await self._signed_get("/api/v3/account", secret)
        restrictions = await self._signed_get("/sapi/v1/account/apiRestrictions", secret)
        permissions = set()
        if restrictions.get("enableReading"):
            permissions.add("read")
        if restrictions.get("enableSpotAndMarginTrading") or account.get("canTrade"):
            permissions.add("trade")
        if restrictions.get("enableWithdrawals") or account.get("canWithdraw"):
            permissions.add("withdraw")
        if restrictions.get("enableInternalTransfer") or restrictions.get(
            "permitsUniversalTransfer"
        ):
            permissions.add("transfer")
        if restrictions.get("enableMargin"):
            permissions.add("margin")
        if restrictions.get("enableFutures"):
            permissions.add("futures")
        return KeyPermissions(frozenset(permissions), bool(restrictions.get("ipRestrict")))
