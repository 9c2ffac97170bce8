"""BitMEX key validation and request signing for the auth service (``KeyValidator``, named by
the registry's BitMEX entry).

Validation makes one signed read, ``GET /api/v1/apiKey``: it proves the key and the secret work
and lists the account's keys with their ``permissions`` (``order``, ``orderCancel``,
``withdraw``; none means read-only) and ``cidr`` (an IP allow-list). The key's own row says
what it may do: ``withdraw`` is reported, and the auth service refuses such a key. A key that
is not in the list it answered is refused too (BitMEX would never answer so for a working key).

Signing scheme (``POST /v1/credentials/{id}/sign``), from BitMEX's "API Keys Usage" page:

- ``bitmex-rest`` (the default): ``verb`` (upper case), ``path`` (from ``/api/v1`` on, with the
  query string exactly as sent), ``expires`` (unix seconds after which BitMEX refuses the
  request) and ``body`` (the raw body as sent, empty for a GET) →
  ``hex(HMAC_SHA256(secret, verb + path + expires + body))`` as the signature and the headers
  ``api-expires``, ``api-key``, ``api-signature``. The WebSocket's ``authKeyExpires`` signs the
  same way over ``GET`` ``/realtime`` with an empty body (its arguments are the key, the expiry
  and this signature), so it needs no scheme of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import httpx

from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    ExchangeUnavailable,
    KeyPermissions,
    KeyRejected,
    Signature,
    SigningInputError,
    SigningScheme,
)

API_KEY_PATH = "/api/v1/apiKey"
VERBS = frozenset({"GET", "POST", "PUT", "DELETE"})
# BitMEX's permission names → the platform's
_PERMISSIONS = {"order": "trade", "orderCancel": "cancel", "withdraw": "withdraw"}


def api_signature(secret: str, verb: str, path: str, expires: str, body: str) -> str:
    message = verb + path + expires + body
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(api_key: str, expires: str, signature: str) -> dict[str, str]:
    return {"api-expires": expires, "api-key": api_key, "api-signature": signature}


def sign_rest(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    signature = api_signature(
        secret.secret, fields["verb"], fields["path"], fields["expires"], fields["body"]
    )
    return Signature(signature, signed_headers(secret.api_key, fields["expires"], signature))


def _check_rest(fields: Mapping[str, str]) -> None:
    if fields["verb"] not in VERBS:
        raise SigningInputError("verb must be GET, POST, PUT or DELETE")
    if not fields["path"].startswith("/"):
        raise SigningInputError("path must start with /")
    if not fields["expires"].isdigit():
        raise SigningInputError("expires must be unix seconds")


SIGNING_SCHEMES: Mapping[str, SigningScheme] = {
    "bitmex-rest": SigningScheme(
        sign_rest, fields=frozenset({"verb", "path", "expires", "body"}), check=_check_rest
    ),
}


class BitmexValidator:
    exchange = "bitmex"
    # the public API (auth calls it unless AUTH_BITMEX_BASE_URL says otherwise)
    default_base_url = "https://www.bitmex.com"
    needs_passphrase = False
    supports_ip_allowlist = True
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "bitmex-rest"

    def __init__(self, base_url: str, timeout_s: float = 10.0, expires_after_s: int = 30):
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        # the path BitMEX signs is the URL's, after any prefix of the base (a proxy's)
        self._prefix = httpx.URL(base_url).path.rstrip("/")
        self.expires_after_s = expires_after_s

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _keys(self, secret: ExchangeSecret) -> list[dict[str, Any]]:
        expires = str(int(time.time()) + self.expires_after_s)
        signature = api_signature(secret.secret, "GET", self._prefix + API_KEY_PATH, expires, "")
        try:
            response = await self._http.get(
                API_KEY_PATH, headers=signed_headers(secret.api_key, expires, signature)
            )
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(f"bitmex did not answer ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, list):
            return [row for row in body if isinstance(row, dict)]
        error = body.get("error") if isinstance(body, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        if response.status_code in (401, 403):
            # "Invalid API Key.", "Signature not valid.", "This key is disabled."
            raise KeyRejected(f"bitmex: key rejected ({message or response.status_code})")
        raise ExchangeUnavailable(f"bitmex answered HTTP {response.status_code}")

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        own = [row for row in await self._keys(secret) if row.get("id") == secret.api_key]
        if not own:
            raise KeyRejected("bitmex: the key is not among the account's keys")
        row = own[0]
        if row.get("enabled") is False:
            raise KeyRejected("bitmex: the key is disabled")
        permissions = {"read"}  # every BitMEX key reads (its default, no-permission level)
        for name in row.get("permissions") or []:
            permissions.add(_PERMISSIONS.get(str(name), str(name)))
        cidrs = row.get("cidrs") or ([row["cidr"]] if row.get("cidr") else [])
        open_to_all = not cidrs or any(c in ("0.0.0.0/0", "::/0") for c in cidrs)
        return KeyPermissions(frozenset(permissions), ip_restricted=not open_to_all)
