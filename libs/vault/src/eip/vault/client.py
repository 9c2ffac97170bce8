"""A small async client for Vault's HTTP API: health, KV v2 and Transit.

Written on httpx rather than hvac because every caller is async and the surface we need is a
dozen endpoints. Errors never carry the token or secret values: Vault's own error texts name
paths, not data.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx


class VaultError(Exception):
    """Vault answered with an error."""

    def __init__(self, status: int, errors: list[str], path: str) -> None:
        self.status, self.errors, self.path = status, errors, path
        super().__init__(f"vault {path}: HTTP {status}: {'; '.join(errors) or 'no detail'}")


class VaultUnavailable(Exception):
    """Vault did not answer, or is sealed / not initialized."""


class VaultClient:
    def __init__(
        self,
        addr: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        kv_mount: str = "secret",
        transit_mount: str = "transit",
    ) -> None:
        if not addr:
            raise VaultUnavailable("VAULT_ADDR is empty; `make up` prints the local one")
        self.addr = addr.rstrip("/")
        self.kv_mount = kv_mount
        self.transit_mount = transit_mount
        self._http = httpx.AsyncClient(
            base_url=self.addr,
            headers={"X-Vault-Token": token},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> VaultClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        ok_missing: bool = False,
    ) -> dict[str, Any] | None:
        try:
            response = await self._http.request(method, f"/v1/{path}", json=json, params=params)
        except httpx.HTTPError as exc:
            raise VaultUnavailable(
                f"Vault at {self.addr} did not answer ({type(exc).__name__}); is it running? "
                "`make up` starts a local server"
            ) from None
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code == 503:
            raise VaultUnavailable(f"Vault at {self.addr} is sealed or in standby (HTTP 503)")
        if response.status_code >= 400:
            try:
                errors = [str(e) for e in response.json().get("errors", [])]
            except ValueError:
                errors = []
            raise VaultError(response.status_code, errors, path)
        if response.status_code == 204 or not response.content:
            return {}
        body = response.json()
        assert isinstance(body, dict)
        return body

    # -- health -------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Raise VaultUnavailable unless Vault is initialized, unsealed and active."""
        try:
            response = await self._http.get("/v1/sys/health")
        except httpx.HTTPError as exc:
            raise VaultUnavailable(
                f"Vault at {self.addr} did not answer ({type(exc).__name__}); is it running? "
                "`make up` starts a local server"
            ) from None
        if response.status_code != 200:
            raise VaultUnavailable(
                f"Vault at {self.addr} is not active (HTTP {response.status_code})"
            )
        body = response.json()
        assert isinstance(body, dict)
        return body

    # -- administration ------------------------------------------------------------------------

    async def mounts(self) -> dict[str, Any]:
        body = await self._request("GET", "sys/mounts")
        assert body is not None
        data = body.get("data", body)
        assert isinstance(data, dict)
        return data

    async def enable_engine(
        self,
        path: str,
        engine: str,
        options: dict[str, str] | None = None,
    ) -> None:
        payload: dict[str, Any] = {"type": engine}
        if options:
            payload["options"] = options
        await self._request("POST", f"sys/mounts/{path}", json=payload)

    async def put_policy(self, name: str, hcl: str) -> None:
        await self._request("PUT", f"sys/policies/acl/{name}", json={"policy": hcl})

    async def create_token(
        self, policies: list[str], ttl: str = "1h", *, period: str | None = None
    ) -> str:
        """A child token limited to ``policies`` (no default policy beyond Vault's own).

        With ``period`` the token is periodic: no maximum TTL, each renewal resets its TTL to
        the period, so it lives as long as it is renewed within every period (``ttl`` is then
        not sent). Creating one needs a root or ``sudo`` token on ``auth/token/create``.
        """
        payload: dict[str, Any] = {"policies": policies}
        if period is not None:
            payload["period"] = period
        else:
            payload["ttl"] = ttl
        body = await self._request("POST", "auth/token/create", json=payload)
        assert body is not None
        return str(body["auth"]["client_token"])

    async def lookup_self(self) -> dict[str, Any]:
        """This client's own token: ``policies``, ``ttl``, ``period`` (0 unless periodic),
        ``explicit_max_ttl``, ``renewable``... (never the token itself: ``id`` is dropped)."""
        body = await self._request("GET", "auth/token/lookup-self")
        assert body is not None
        data = dict(body["data"])
        data.pop("id", None)
        return data

    async def renew_self(self, increment: str = "768h") -> int:
        """Extend this client's own token; returns the new TTL in seconds. A periodic token's
        TTL goes back to its period (the increment does not matter); any other token's grows
        by the increment up to its max TTL. Needs only Vault's ``default`` policy, which every
        child token has."""
        body = await self._request("POST", "auth/token/renew-self", json={"increment": increment})
        assert body is not None
        return int(body["auth"]["lease_duration"])

    # -- KV v2 --------------------------------------------------------------------------------

    async def kv_put(self, path: str, data: dict[str, str], cas: int | None = None) -> int:
        """Write a new version of the secret at ``path``; returns the version number."""
        payload: dict[str, Any] = {"data": data}
        if cas is not None:
            payload["options"] = {"cas": cas}
        body = await self._request("POST", f"{self.kv_mount}/data/{path}", json=payload)
        assert body is not None
        return int(body["data"]["version"])

    async def kv_get(self, path: str, version: int | None = None) -> dict[str, str] | None:
        """The secret's data (latest or a given version); None when absent or deleted."""
        params = {"version": version} if version is not None else None
        body = await self._request(
            "GET",
            f"{self.kv_mount}/data/{path}",
            params=params,
            ok_missing=True,
        )
        if body is None or body.get("data", {}).get("data") is None:
            return None
        data = body["data"]["data"]
        assert isinstance(data, dict)
        return {str(k): str(v) for k, v in data.items()}

    async def kv_metadata(self, path: str) -> dict[str, Any] | None:
        body = await self._request("GET", f"{self.kv_mount}/metadata/{path}", ok_missing=True)
        if body is None:
            return None
        data = body["data"]
        assert isinstance(data, dict)
        return data

    async def kv_delete_latest(self, path: str) -> None:
        """Soft-delete the current version: unreadable, but kept in the version history (and
        recoverable with undelete) for the record."""
        await self._request("DELETE", f"{self.kv_mount}/data/{path}")

    async def kv_destroy_all(self, path: str) -> None:
        """Delete the secret and every version of it (metadata included)."""
        await self._request("DELETE", f"{self.kv_mount}/metadata/{path}")

    # -- Transit ------------------------------------------------------------------------------

    async def transit_create_key(self, name: str, key_type: str = "aes256-gcm96") -> None:
        await self._request("POST", f"{self.transit_mount}/keys/{name}", json={"type": key_type})

    async def transit_encrypt(self, key: str, plaintext: bytes) -> str:
        body = await self._request(
            "POST",
            f"{self.transit_mount}/encrypt/{key}",
            json={"plaintext": base64.b64encode(plaintext).decode()},
        )
        assert body is not None
        return str(body["data"]["ciphertext"])

    async def transit_decrypt(self, key: str, ciphertext: str) -> bytes:
        body = await self._request(
            "POST",
            f"{self.transit_mount}/decrypt/{key}",
            json={"ciphertext": ciphertext},
        )
        assert body is not None
        return base64.b64decode(body["data"]["plaintext"])

    async def transit_read_key(self, name: str) -> dict[str, Any] | None:
        """The key's description: type, ``latest_version``, ``min_decryption_version`` and,
        for asymmetric keys, ``keys`` = {version: {"public_key": PEM, ...}}. None if absent."""
        body = await self._request("GET", f"{self.transit_mount}/keys/{name}", ok_missing=True)
        if body is None:
            return None
        data = body["data"]
        assert isinstance(data, dict)
        return data

    async def transit_public_keys(self, name: str) -> dict[int, str]:
        """PEM public keys of an asymmetric key by version, only the versions Vault still
        accepts (``>= min_decryption_version``): a retired version must not verify."""
        data = await self.transit_read_key(name)
        if data is None:
            raise VaultError(404, [f"transit key {name} not found"], f"keys/{name}")
        floor = int(data.get("min_decryption_version", 1))
        return {
            int(version): str(entry["public_key"])
            for version, entry in data.get("keys", {}).items()
            if int(version) >= floor and isinstance(entry, dict) and entry.get("public_key")
        }

    async def transit_rotate_key(self, name: str) -> int:
        """Add a new version of the key; returns the new latest version."""
        await self._request("POST", f"{self.transit_mount}/keys/{name}/rotate")
        data = await self.transit_read_key(name)
        assert data is not None
        return int(data["latest_version"])

    async def transit_sign(
        self,
        name: str,
        message: bytes,
        *,
        key_version: int | None = None,
        hash_algorithm: str = "sha2-256",
        marshaling_algorithm: str = "jws",
    ) -> tuple[int, str]:
        """Sign ``message`` with the key (Vault hashes it); returns (key version used,
        signature). With ``marshaling_algorithm="jws"`` an ECDSA signature is the base64url
        ``r || s`` a JWS (ES256) carries, so the private key never leaves Vault."""
        payload: dict[str, Any] = {
            "input": base64.b64encode(message).decode(),
            "marshaling_algorithm": marshaling_algorithm,
        }
        if key_version is not None:
            payload["key_version"] = key_version
        body = await self._request(
            "POST",
            f"{self.transit_mount}/sign/{name}/{hash_algorithm}",
            json=payload,
        )
        assert body is not None
        # "vault:v<version>:<signature>"
        _, version, signature = str(body["data"]["signature"]).split(":", 2)
        return int(version.removeprefix("v")), signature
