"""Kraken key validation and request signing for the auth service (``KeyValidator``, named by
the registry's Kraken entry): HMAC-SHA512 signed private REST, permissions read by probing.

Kraken has no call that lists a key's permissions, so validation asks three private methods
what the key may do, each answer in Kraken's ``{"error": [...], "result": ...}`` at HTTP 200:

- ``Balance`` (Funds: query) proves the key and the secret work; ``EAPI:Invalid key`` or
  ``EAPI:Invalid signature`` refuse the key, ``EGeneral:Permission denied`` too (a key that
  cannot read its balances is no use to the platform).
- ``AddOrder`` with ``validate=true`` places nothing; ``EGeneral:Permission denied`` says the
  key may not trade, any other answer (accepted, or refused for the order's size) that it may.
- ``WithdrawMethods`` needs the withdrawal permission: an answer says the key may withdraw (the
  auth service then refuses it), ``EGeneral:Permission denied`` that it may not.
  ``EGeneral:Unknown method`` (a venue without funding, e.g. an old simulator) proves nothing
  either way and is treated as no withdrawal.

Nonces are microseconds since the epoch, so they keep increasing across the validator and the
trading adapter that uses the same key later (Kraken refuses a nonce not above the key's last).

Signing scheme (``POST /v1/credentials/{id}/sign``):

- ``kraken-rest`` (the default): ``path`` (the URI path from ``/0/private/`` on), ``nonce`` and
  ``body`` (the POST body exactly as sent, which holds the same nonce) →
  ``API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))`` as the
  signature and the ``API-Key``/``API-Sign`` headers. The WebSocket v2 API is authenticated by a
  token from the REST ``GetWebSocketsToken``, signed the same way.
"""

from __future__ import annotations

import base64
import binascii
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

_KEY_ERRORS = {"EAPI:Invalid key", "EAPI:Invalid signature"}
PERMISSION_DENIED = "EGeneral:Permission denied"
UNKNOWN_METHOD = "EGeneral:Unknown method"
# A validation order: a limit buy far below any market, never placed (``validate``).
_PROBE_ORDER = {
    "pair": "XBTUSD",
    "type": "buy",
    "ordertype": "limit",
    "price": "1",
    "volume": "0.0001",
    "validate": "true",
}


def api_sign(secret: ExchangeSecret, path: str, nonce: str, body: str) -> str:
    """Kraken's ``API-Sign`` (docs.kraken.com, "Spot REST Authentication")."""
    try:
        key = base64.b64decode(secret.secret, validate=True)
    except (binascii.Error, ValueError):
        # the message must not carry the secret
        raise ValueError("the Kraken secret is not base64") from None
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(key, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def sign_rest(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    signature = api_sign(secret, fields["path"], fields["nonce"], fields["body"])
    return Signature(signature, {"API-Key": secret.api_key, "API-Sign": signature})


SIGNING_SCHEMES: Mapping[str, SigningScheme] = {
    "kraken-rest": SigningScheme(sign_rest, fields=frozenset({"path", "nonce", "body"})),
}


class KrakenValidator:
    exchange = "kraken"
    # the public API (auth calls it unless AUTH_KRAKEN_BASE_URL says otherwise)
    default_base_url = "https://api.kraken.com"
    needs_passphrase = False
    supports_ip_allowlist = True
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "kraken-rest"

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._last_nonce = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def _nonce(self) -> str:
        self._last_nonce = max(self._last_nonce + 1, time.time_ns() // 1000)
        return str(self._last_nonce)

    async def _private(
        self, method: str, secret: ExchangeSecret, params: Mapping[str, str] | None = None
    ) -> tuple[list[str], Any]:
        """(Kraken's error strings, result) of one signed call."""
        path = f"/0/private/{method}"
        nonce = self._nonce()
        body = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
        try:
            signature = api_sign(secret, path, nonce, body)
        except ValueError:
            raise KeyRejected("kraken: the secret is not base64") from None
        headers = {
            "API-Key": secret.api_key,
            "API-Sign": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            response = await self._http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(f"kraken did not answer ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ExchangeUnavailable(f"kraken answered HTTP {response.status_code}")
        errors = [str(e) for e in answer.get("error") or []]
        return errors, answer.get("result")

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        errors, _ = await self._private("Balance", secret)
        refused = [e for e in errors if e in _KEY_ERRORS or e == PERMISSION_DENIED]
        if refused:
            raise KeyRejected(f"kraken: key rejected ({refused[0]})")
        if errors:
            raise ExchangeUnavailable(f"kraken: {errors[0]}")
        permissions = {"read"}
        errors, _ = await self._private("AddOrder", secret, _PROBE_ORDER)
        if PERMISSION_DENIED not in errors:
            permissions.add("trade")
        errors, _ = await self._private("WithdrawMethods", secret, {"asset": "XBT"})
        if not errors:
            permissions.add("withdraw")
        elif errors[0] not in (PERMISSION_DENIED, UNKNOWN_METHOD):
            raise ExchangeUnavailable(f"kraken: {errors[0]}")
        # Kraken keys may be bound to IP addresses, which no call reveals
        return KeyPermissions(frozenset(permissions), ip_restricted=False)
