"""A verifier that fetches the auth service's JWKS and keeps it cached.

The key set is refetched when its TTL runs out, and at once when a token names a key id the
cache does not know (the signing key was rotated) — at most once per ``min_refresh_s``, so a
flood of tokens with made-up key ids cannot turn into a flood of JWKS requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from eip.tokens.jwt import Claims, TokenError, parse, public_key_from_jwk, verify_token

log = logging.getLogger(__name__)


class JwksUnavailable(Exception):
    """The JWKS could not be fetched and no cached copy is there."""


class TokenVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        ttl_s: float = 300.0,
        min_refresh_s: float = 5.0,
        timeout_s: float = 5.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._http = http or httpx.AsyncClient(timeout=timeout_s)
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    def set_keys(self, jwks: dict[str, Any]) -> None:
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for jwk in jwks.get("keys", []):
            try:
                keys[str(jwk["kid"])] = public_key_from_jwk(jwk)
            except (KeyError, ValueError):
                log.warning("ignoring an unusable key in the JWKS", extra={"kid": jwk.get("kid")})
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def refresh(self, force: bool = False) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < (self.min_refresh_s if force else self.ttl_s):
                return
            try:
                response = await self._http.get(self.jwks_url)
                response.raise_for_status()
                self.set_keys(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise JwksUnavailable(
                        f"JWKS at {self.jwks_url} unavailable ({type(exc).__name__})"
                    ) from None
                log.warning("JWKS refresh failed, keeping the cached keys")

    async def verify(self, token: str) -> Claims:
        await self.refresh()
        header, _, _, _ = parse(token)
        kid = header.get("kid")
        if isinstance(kid, str) and kid not in self._keys:
            await self.refresh(force=True)
        return verify_token(token, self._keys.get, issuer=self.issuer, audience=self.audience)


__all__ = ["JwksUnavailable", "TokenError", "TokenVerifier"]
