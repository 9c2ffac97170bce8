"""Coinbase Advanced Trade: CDP API keys, an ES256 JWT per request, permissions from
``/api/v3/brokerage/key_permissions``.

A CDP key is a resource name (``organizations/{org}/apiKeys/{key}``, the credential's
``api_key``) and an EC P-256 private key in PEM (its ``secret``; a PEM fits the credential's
secret field as it is, so no other kind of secret is needed). The private key never leaves
this service: callers get a signed token.

Signing schemes (``POST /v1/credentials/{id}/sign``), as Coinbase documents the token:

- ``coinbase-jwt`` (the default): ``method``, ``host``, ``path`` of one REST request → a JWT
  with header ``{alg: ES256, typ: JWT, kid: <key name>, nonce: <random hex>}`` and claims
  ``{iss: "cdp", sub: <key name>, nbf: now, exp: now + 120, uri: "<METHOD> <host><path>"}``
  (the path without its query), answered as the ``signature`` and an ``Authorization: Bearer``
  header. Coinbase refuses a token seen before, so every request needs its own.
- ``coinbase-ws-jwt``: no fields → the same token without ``uri``, for the WebSocket ``user``
  channel's subscribe message (``jwt``), usable until it expires.

What is subtle: ``exp`` is at most two minutes after ``nbf`` (Coinbase refuses longer-lived
tokens), and ``nbf`` is this service's clock — a venue whose clock is ahead by more than its
leeway would see a token that is not valid yet. The JWS signature is ``r || s`` (64 bytes),
not DER.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    ExchangeUnavailable,
    KeyPermissions,
    KeyRejected,
    Signature,
    SigningInputError,
    SigningScheme,
)
from eip.tokens.jwt import b64url_encode, der_to_jws, signing_input

ISSUER = "cdp"
LIFETIME_S = 120  # Coinbase's maximum
KEY_PERMISSIONS = "/api/v3/brokerage/key_permissions"


def private_key(secret: ExchangeSecret) -> ec.EllipticCurvePrivateKey:
    """The key's EC P-256 private half; ``KeyRejected`` (naming no part of it) otherwise.
    Parsing a PEM costs more than the signature, so parsed keys are kept, found only by a
    digest of the PEM: whoever asks must hold the secret already (auth's secret cache)."""
    digest = hashlib.sha256(secret.secret.encode()).digest()
    key = _PARSED.get(digest)
    if key is None:
        key = _parse(secret.secret)
        _PARSED[digest] = key
        while len(_PARSED) > MAX_PARSED:
            _PARSED.popitem(last=False)
    return key


def _parse(pem: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise KeyRejected("coinbase: the secret is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyRejected("coinbase: the secret is not an EC P-256 private key")
    return key


MAX_PARSED = 1024
_PARSED: OrderedDict[bytes, ec.EllipticCurvePrivateKey] = OrderedDict()


def jwt(secret: ExchangeSecret, uri: str | None, now_s: int | None = None) -> str:
    """A CDP token for the key; ``uri`` ("METHOD host/path") for REST, None for WebSocket."""
    now = int(time.time()) if now_s is None else now_s
    header = {"alg": "ES256", "typ": "JWT", "kid": secret.api_key, "nonce": secrets.token_hex(16)}
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": secret.api_key,
        "nbf": now,
        "exp": now + LIFETIME_S,
    }
    if uri is not None:
        claims["uri"] = uri
    message = signing_input(header, claims)
    der = private_key(secret).sign(message, ec.ECDSA(hashes.SHA256()))
    return f"{message.decode()}.{b64url_encode(der_to_jws(der))}"


def rest_uri(method: str, host: str, path: str) -> str:
    """``uri`` as Coinbase documents it: the method, a space, host and path (no scheme, no
    query). The fields are checked here so a malformed one is refused before signing."""
    verb = method.upper()
    if verb not in {"GET", "POST", "PUT", "DELETE", "PATCH"}:
        raise SigningInputError("scheme coinbase-jwt: method must be an HTTP method")
    bare = host.removeprefix("https://").removeprefix("http://")
    if not bare or "/" in bare or " " in bare:
        raise SigningInputError("scheme coinbase-jwt: host must be a host name (and port)")
    if not path.startswith("/") or "?" in path or " " in path:
        raise SigningInputError("scheme coinbase-jwt: path must be absolute, without a query")
    return f"{verb} {bare}{path}"


def check_rest(fields: Mapping[str, str]) -> None:
    rest_uri(fields["method"], fields["host"], fields["path"])


def sign_rest(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    token = jwt(secret, rest_uri(fields["method"], fields["host"], fields["path"]))
    return Signature(token, {"Authorization": f"Bearer {token}"})


def sign_ws(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    return Signature(jwt(secret, None))


SIGNING_SCHEMES: Mapping[str, SigningScheme] = {
    "coinbase-jwt": SigningScheme(
        sign_rest,
        fields=frozenset({"method", "host", "path"}),
        check=check_rest,
    ),
    "coinbase-ws-jwt": SigningScheme(sign_ws),
}


class CoinbaseValidator:
    exchange = "coinbase"
    # the public API (auth calls it unless AUTH_COINBASE_BASE_URL says otherwise)
    default_base_url = "https://api.coinbase.com"
    needs_passphrase = False
    # CDP keys may have an IP allow-list, but no endpoint says whether one is set: auth cannot
    # check it (nor warn that it is missing).
    supports_ip_allowlist = False
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "coinbase-jwt"

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        """One signed read, ``key_permissions``: it proves the key (a refused token is 401)
        and says what the key may do (``can_view``, ``can_trade``, ``can_transfer``)."""
        host = self._http.base_url.netloc.decode()
        token = jwt(secret, rest_uri("GET", host, KEY_PERMISSIONS))  # KeyRejected: not a key
        try:
            response = await self._http.get(
                KEY_PERMISSIONS, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(f"coinbase did not answer ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise KeyRejected(f"coinbase: key rejected (HTTP {response.status_code})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise ExchangeUnavailable(f"coinbase answered HTTP {response.status_code}")
        permissions = set()
        if body.get("can_view"):
            permissions.add("read")
        if body.get("can_trade"):
            permissions.add("trade")
        if body.get("can_transfer"):
            # Coinbase's transfer permission moves funds out of the portfolio: a withdrawal.
            permissions.update({"transfer", "withdraw"})
        # key_permissions does not say whether the key has an IP allow-list
        return KeyPermissions(frozenset(permissions), ip_restricted=False)
