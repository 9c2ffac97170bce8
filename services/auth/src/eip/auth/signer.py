"""Tokens signed inside Vault Transit (ecdsa-p256 → ES256): the private key never leaves Vault.

``kid`` is the Transit key version that signed. The JWKS lists every version Vault still
accepts (``>= min_decryption_version``), so after a rotation tokens signed by the previous
version keep verifying until they expire; raising min_decryption_version retires a version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from eip.tokens.jwt import ALGORITHM, jwk_from_pem, public_key_from_jwk, signing_input
from eip.vault import VaultClient

log = logging.getLogger(__name__)

JWKS_CACHE_S = 30.0


class TokenSigner:
    def __init__(self, vault: VaultClient, key_name: str, issuer: str, audience: str) -> None:
        self.vault = vault
        self.key_name = key_name
        self.issuer = issuer
        self.audience = audience
        self._latest: int | None = None
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = float("-inf")
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        # Bumped whenever the set of key versions changes, so a cache of checked tokens knows
        # to forget tokens of a retired version.
        self.key_set_generation = 0
        self._refreshing: asyncio.Task[None] | None = None

    async def ensure_key(self) -> None:
        if await self.vault.transit_read_key(self.key_name) is None:
            await self.vault.transit_create_key(self.key_name, key_type="ecdsa-p256")
        await self.refresh()

    async def refresh(self) -> None:
        data = await self.vault.transit_read_key(self.key_name)
        assert data is not None
        self._latest = int(data["latest_version"])
        keys = await self.vault.transit_public_keys(self.key_name)
        jwks = {"keys": [jwk_from_pem(pem, str(v)) for v, pem in sorted(keys.items())]}
        parsed = {jwk["kid"]: public_key_from_jwk(jwk) for jwk in jwks["keys"]}
        if parsed.keys() != self._keys.keys():
            self.key_set_generation += 1
        self._jwks, self._keys = jwks, parsed
        self._jwks_at = time.monotonic()

    @property
    def stale(self) -> bool:
        return self._jwks is None or time.monotonic() - self._jwks_at > JWKS_CACHE_S

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)

    def refresh_in_background(self) -> None:
        """Renew a stale copy of the keys without making a request wait for Vault (one refresh
        at a time; a failure keeps the copy, and the next stale check tries again)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # Vault away or the key gone: the copy stays in use
            log.warning("signing keys not refreshed", extra={"error": type(exc).__name__})

    async def aclose(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing

    async def jwks(self) -> dict[str, Any]:
        if self._jwks is None or time.monotonic() - self._jwks_at > JWKS_CACHE_S:
            await self.refresh()
        assert self._jwks is not None
        return self._jwks

    def cached_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self._keys.get(kid)

    async def rotate(self) -> int:
        version = await self.vault.transit_rotate_key(self.key_name)
        await self.refresh()
        return version

    async def issue(
        self,
        subject: str,
        scopes: list[str],
        accounts: list[str],
        ttl_s: int,
        generation: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A token for ``subject``; ``generation`` (claim ``gen``) ties it to one creation of
        its client, so the auth service refuses it once the client is reset or deleted."""
        if self._latest is None:
            await self.refresh()
        assert self._latest is not None
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "scope": " ".join(sorted(scopes)),
            "accounts": sorted(accounts),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": str(uuid.uuid4()),
        }
        if generation is not None:
            claims["gen"] = generation
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": str(self._latest)}
        signed = signing_input(header, claims)
        version, signature = await self.vault.transit_sign(
            self.key_name, signed, key_version=self._latest
        )
        assert str(version) == header["kid"]
        # Vault's jws marshaling is base64url already; normalize the padding away.
        return f"{signed.decode()}.{signature.rstrip('=')}", claims
