"""The Vault client against a real Vault-API server: KV v2 versions and Transit."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
import uuid

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from eip.testing.endpoints import VaultEndpoint
from eip.vault import VaultClient, VaultError, VaultUnavailable

pytestmark = pytest.mark.integration


async def test_kv_v2_write_read_and_versions(vault: VaultClient) -> None:
    path = f"tests/{uuid.uuid4().hex}"
    try:
        assert await vault.kv_get(path) is None
        v1 = await vault.kv_put(path, {"api_key": "k1", "api_secret": "s1"})
        v2 = await vault.kv_put(path, {"api_key": "k2", "api_secret": "s2"}, cas=v1)
        assert (v1, v2) == (1, 2)
        assert await vault.kv_get(path) == {"api_key": "k2", "api_secret": "s2"}
        assert await vault.kv_get(path, version=1) == {"api_key": "k1", "api_secret": "s1"}
        metadata = await vault.kv_metadata(path)
        assert metadata is not None
        assert metadata["current_version"] == 2
        assert set(metadata["versions"]) == {"1", "2"}
        with pytest.raises(VaultError) as info:
            await vault.kv_put(path, {"api_key": "k3"}, cas=1)  # stale check-and-set
        assert info.value.status == 400
        assert "s1" not in str(info.value)
        assert "k3" not in str(info.value)
    finally:
        await vault.kv_destroy_all(path)
    assert await vault.kv_metadata(path) is None


async def test_transit_encrypt_decrypt_round_trip(vault: VaultClient) -> None:
    key = f"test-{uuid.uuid4().hex[:8]}"
    await vault.transit_create_key(key)
    plaintext = b"exchange secret \x00\xff bytes"
    ciphertext = await vault.transit_encrypt(key, plaintext)
    assert ciphertext.startswith("vault:v1:")
    assert plaintext.decode(errors="ignore") not in ciphertext
    assert await vault.transit_decrypt(key, ciphertext) == plaintext
    with pytest.raises(VaultError):
        await vault.transit_decrypt(key, "vault:v1:bm90IGEgY2lwaGVydGV4dA==")


async def test_unreachable_vault_fails_fast_with_a_clear_error() -> None:
    started = time.monotonic()
    client = VaultClient("http://127.0.0.1:1", "hvs.notarealtokenatall00000", timeout_s=2)
    with pytest.raises(VaultUnavailable, match="make up") as info:
        await client.health()
    await client.aclose()
    assert "notarealtoken" not in str(info.value)
    assert time.monotonic() - started < 8


async def test_policies_give_least_privilege(vault: VaultClient) -> None:
    """The auth service's token reaches credentials and its Transit keys, nothing else; the
    read-only token sees which credentials exist, never their values."""
    account_path = f"exchange-credentials/{uuid.uuid4().hex}"
    other_path = f"tests/{uuid.uuid4().hex}"
    auth_token = await vault.create_token(["eip-auth-service"], ttl="5m")
    reader_token = await vault.create_token(["eip-readonly"], ttl="5m")
    async with (
        VaultClient(vault.addr, auth_token) as auth,
        VaultClient(
            vault.addr,
            reader_token,
        ) as reader,
    ):
        assert await auth.kv_put(account_path, {"api_key": "k", "api_secret": "s"}) == 1
        assert await auth.kv_get(account_path) == {"api_key": "k", "api_secret": "s"}
        await auth.transit_create_key("eip-test-key")
        assert (
            await auth.transit_decrypt(
                "eip-test-key",
                await auth.transit_encrypt("eip-test-key", b"x"),
            )
            == b"x"
        )
        for denied in (
            auth.kv_put(other_path, {"x": "y"}),
            auth.transit_create_key("someone-elses-key"),
            auth.put_policy("eip-auth-service", 'path "*" { capabilities = ["sudo"] }'),
            reader.kv_get(account_path),
            reader.kv_put(account_path, {"api_key": "stolen"}),
        ):
            with pytest.raises(VaultError) as info:
                await denied
            assert info.value.status == 403
        metadata = await reader.kv_metadata(account_path)
        assert metadata is not None
        assert metadata["current_version"] == 1
    await vault.kv_destroy_all(account_path)


async def test_transit_signs_jws_with_every_valid_version_and_rotates(vault: VaultClient) -> None:
    """ES256 signatures made inside Vault verify with the public key Vault publishes for the
    version that signed; after a rotation both versions verify (tokens signed before the
    rotation stay valid until they expire) and the private key is never returned."""
    auth_token = await vault.create_token(["eip-auth-service"], ttl="5m")
    name = f"eip-test-sign-{uuid.uuid4().hex[:8]}"
    async with VaultClient(vault.addr, auth_token) as auth:  # the service's own policy
        await auth.transit_create_key(name, key_type="ecdsa-p256")
        v1, sig1 = await auth.transit_sign(name, b"header.payload")
        assert v1 == 1
        assert await auth.transit_rotate_key(name) == 2
        v2, sig2 = await auth.transit_sign(name, b"header.payload")
        assert v2 == 2
        pinned, _ = await auth.transit_sign(name, b"x", key_version=1)
        assert pinned == 1
        keys = await auth.transit_public_keys(name)
        described = await auth.transit_read_key(name)
    assert set(keys) == {1, 2}
    assert described is not None
    assert "private" not in str(described).lower()
    for version, signature in ((1, sig1), (2, sig2)):
        public = serialization.load_pem_public_key(keys[version].encode())
        assert isinstance(public, ec.EllipticCurvePublicKey)
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        assert len(raw) == 64  # JWS marshaling: r || s, not DER
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        public.verify(der, b"header.payload", ec.ECDSA(hashes.SHA256()))
        with pytest.raises(InvalidSignature):
            public.verify(der, b"header.tampered", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(VaultError) as info:
        await vault.transit_public_keys(f"eip-missing-{uuid.uuid4().hex[:8]}")
    assert info.value.status == 404


async def test_a_service_token_renews_itself(vault: VaultClient) -> None:
    token = await vault.create_token(["eip-auth-service"], ttl="2m")
    async with VaultClient(vault.addr, token) as service:
        ttl = await service.renew_self("10m")
    assert 120 < ttl <= 600


def run_token_command(
    vault_endpoint: VaultEndpoint, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m eip.vault.token`` as its own process with the operator's token, as
    ``deploy/local/services.sh`` runs it."""
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "eip.vault.token", *args],
        env={**os.environ, "VAULT_ADDR": vault_endpoint.addr, "VAULT_TOKEN": vault_endpoint.token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_periodic_service_token_renews_to_its_period_within_its_policy(
    vault: VaultClient, vault_endpoint: VaultEndpoint
) -> None:
    """The auth service's token as `make up` creates it: periodic (no max TTL to run into),
    renewed back to its full period, and still limited to the eip-auth-service policy."""
    made = run_token_command(vault_endpoint, "eip-auth-service", "--period", "24h")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token
    account_path = f"exchange-credentials/{uuid.uuid4().hex}"
    async with VaultClient(vault.addr, token) as service:
        try:
            described = await service.lookup_self()
            assert described["period"] == 24 * 3600
            assert described["explicit_max_ttl"] == 0  # nothing ends it while it is renewed
            assert described["renewable"] is True
            assert sorted(described["policies"]) == ["default", "eip-auth-service"]
            assert "id" not in described  # the token itself is never handed back

            async def ticked() -> bool:
                return int((await service.lookup_self())["ttl"]) < 24 * 3600 - 1

            deadline = time.monotonic() + 30
            while not await ticked():
                assert time.monotonic() < deadline, "the token's TTL never went down"
                await asyncio.sleep(0.5)
            before = int((await service.lookup_self())["ttl"])
            # whatever the increment, a renewal gives the full period back
            assert await service.renew_self("10s") == 24 * 3600
            after = await service.lookup_self()
            assert int(after["ttl"]) > before
            assert after["last_renewal_time"]

            assert await service.kv_put(account_path, {"api_key": "k"}) == 1  # its own tree
            for denied in (
                service.kv_get(f"tests/{uuid.uuid4().hex}"),
                service.kv_put(f"tests/{uuid.uuid4().hex}", {"x": "y"}),
                service.transit_create_key("someone-elses-key"),
                service.put_policy("eip-auth-service", 'path "*" { capabilities = ["sudo"] }'),
                service.create_token(["eip-auth-service"], period="24h"),
            ):
                with pytest.raises(VaultError) as info:
                    await denied
                assert info.value.status == 403
        finally:
            await vault.kv_destroy_all(account_path)
            await service._request("POST", "auth/token/revoke-self")
    with pytest.raises(VaultError) as gone:
        async with VaultClient(vault.addr, token) as revoked:
            await revoked.lookup_self()
    assert gone.value.status == 403


def test_token_command_takes_a_ttl_or_a_period_not_both(vault_endpoint: VaultEndpoint) -> None:
    both = run_token_command(vault_endpoint, "eip-readonly", "--ttl", "1h", "--period", "1h")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    assert both.stdout == ""  # no token made
