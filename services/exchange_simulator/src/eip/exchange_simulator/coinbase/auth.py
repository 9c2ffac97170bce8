"""Coinbase CDP API keys: the ES256 JWT every private REST request and every ``user`` channel
subscription carries, verified as Coinbase verifies it.

A key is a resource name (``organizations/{org}/apiKeys/{key}``) and an EC P-256 private key; the
client signs a fresh JWT with header ``{alg: ES256, kid: <name>, nonce}`` and claims ``{sub: <name>,
iss, nbf, exp, uri: "<METHOD> <host><path>"}`` (no ``uri`` on WebSocket tokens). Checked here, in
this order, so that nothing from an unsigned token is trusted: the form, ``alg`` pinned to ES256
(no ``none``/HMAC confusion), the key (``kid``; ``sub`` must name it too), the signature with the
key's public half, ``iss``, the validity window, then for REST the ``uri``.

What is subtle:

- ``iss``: Coinbase's current SDKs send ``cdp``, ccxt 4.5.90 (and older SDKs) ``coinbase-cloud``;
  both are accepted. ``aud`` is not checked (ccxt sends one, current SDKs none).
- Time: ``nbf``/``exp`` are whole seconds and clients reuse a WebSocket token up to and including
  its ``exp`` second (ccxt does), so a few seconds of leeway; a token may not live longer than the
  two minutes Coinbase allows. The exchange clock is used, so an injected clock skew shows here.
- ``uri``: ``METHOD host/path`` without the query. The host is whatever the client was pointed at
  (``api.coinbase.com``, or the simulator's ``127.0.0.1:8300``, which ccxt writes as
  ``http://127.0.0.1:8300`` because it strips only ``https://``), so the host part is not checked
  beyond being there; method and path must be this request's.
- Replays: Coinbase requires a new JWT per REST request, so a REST token is refused the second
  time it is seen (kept until it expires). WebSocket tokens may be reused while valid — ccxt.pro
  signs one and reuses it for two minutes of subscribe messages.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from eip.exchange_simulator.coinbase.wire import VENUE
from eip.exchange_simulator.core.accounts import ApiKey
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.key_formats import coinbase_public_key
from eip.tokens.jwt import TokenError, jws_to_der, parse

ISSUERS = frozenset({"cdp", "coinbase-cloud"})
MAX_LIFETIME_S = 120
LEEWAY_S = 5


class Unauthenticated(Exception):
    """The request is not authenticated; the text says why and never quotes the token."""


@dataclass
class JwtVerifier:
    exchange: Exchange
    _public_keys: dict[tuple[str, str], ec.EllipticCurvePublicKey] = field(default_factory=dict)
    _used: set[bytes] = field(default_factory=set)  # digests of REST tokens seen, until expiry
    _expiries: list[tuple[float, bytes]] = field(default_factory=list)  # a heap: (until, digest)

    def verify_rest(self, token: str, method: str, path: str, now_s: float) -> ApiKey:
        key, claims = self._verify(token, now_s)
        uri = claims.get("uri")
        if not isinstance(uri, str):
            raise Unauthenticated("the JWT has no uri claim (a REST request needs one)")
        verb, _, target = uri.partition(" ")
        target = target.removeprefix("https://").removeprefix("http://")
        host, slash, uri_path = target.partition("/")
        if verb != method or not host or not slash or "/" + uri_path != path:
            raise Unauthenticated(
                f"the JWT's uri is for {uri!r}, not this request ({method} <host>{path})"
            )
        digest = hashlib.sha256(token.encode()).digest()
        self._forget_expired(now_s)
        if digest in self._used:
            raise Unauthenticated("this JWT was already used: sign a new one for every request")
        self._used.add(digest)
        heapq.heappush(self._expiries, (float(claims["exp"]) + LEEWAY_S, digest))
        return key

    def verify_ws(self, token: str, now_s: float) -> ApiKey:
        key, _ = self._verify(token, now_s)
        return key

    def _verify(self, token: str, now_s: float) -> tuple[ApiKey, dict[str, Any]]:
        try:
            header, claims, signed, signature = parse(token)
        except TokenError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        if header.get("alg") != "ES256":
            raise Unauthenticated("the JWT must be signed with ES256")
        kid = header.get("kid")
        key = self.exchange.key_for(kid, VENUE) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise Unauthenticated("unknown API key (the JWT's kid names no Coinbase key)")
        if claims.get("sub") != kid:
            raise Unauthenticated("the JWT's sub must be the key name given in kid")
        try:
            self._public_key(key).verify(jws_to_der(signature), signed, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, TokenError):
            raise Unauthenticated("the JWT's signature does not verify with this key") from None
        if claims.get("iss") not in ISSUERS:
            raise Unauthenticated(f"the JWT's iss must be one of {sorted(ISSUERS)}")
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if not isinstance(nbf, int) or not isinstance(exp, int):
            raise Unauthenticated("the JWT's nbf and exp must be integers (unix seconds)")
        if exp - nbf > MAX_LIFETIME_S:
            raise Unauthenticated("the JWT lives longer than the 2 minutes allowed")
        if now_s < nbf - LEEWAY_S:
            raise Unauthenticated("the JWT is not valid yet (nbf is in the future)")
        if now_s >= exp + LEEWAY_S:
            raise Unauthenticated("the JWT has expired")
        return key, claims

    def _public_key(self, key: ApiKey) -> ec.EllipticCurvePublicKey:
        # Keyed by the secret too: a revoked name created again gets its new key's half.
        cached = self._public_keys.get((key.key, key.secret))
        if cached is None:
            cached = self._public_keys[(key.key, key.secret)] = coinbase_public_key(key.secret)
        return cached

    def _forget_expired(self, now_s: float) -> None:
        """An expired token is refused anyway, so it need not be remembered."""
        while self._expiries and self._expiries[0][0] <= now_s:
            _, digest = heapq.heappop(self._expiries)
            self._used.discard(digest)
