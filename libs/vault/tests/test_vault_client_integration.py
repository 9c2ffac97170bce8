"""The hvac-backed facade against the real Vault: what tests/integration/test_vault.py does not
cover — connection reuse under concurrency, reconnecting after an outage, the calls hvac 2.4.0
cannot send itself (through its adapter), errors and logs that never carry the token, and
mounting an engine as provisioning does."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from requests.adapters import HTTPAdapter

from eip.testing.endpoints import VaultEndpoint
from eip.testing.proxy import TcpProxy
from eip.vault import VaultClient, VaultError, VaultUnavailable

pytestmark = pytest.mark.integration


async def test_concurrent_calls_reuse_at_most_one_connection_per_thread(vault: VaultClient) -> None:
    path = f"tests/{uuid.uuid4().hex}"
    await vault.kv_put(path, {"api_key": "k"})
    client = VaultClient(vault.addr, vault_token(vault), max_threads=3)
    try:
        results = await asyncio.gather(*(client.kv_get(path) for _ in range(60)))
        assert results == [{"api_key": "k"}] * 60
        connections = client._adapter.session.get_adapter(vault.addr)
        assert isinstance(connections, HTTPAdapter)
        pools = connections.poolmanager.pools  # urllib3's: not iterable, only its keys()
        opened = sum(pools[key].num_connections for key in pools.keys())  # noqa: SIM118
        assert 1 <= opened <= 3  # 60 round trips, at most one connection per thread
        assert client.threads_busy == 0
    finally:
        await client.aclose()
        await vault.kv_destroy_all(path)


async def test_the_client_replaces_cut_connections_and_reconnects_once_vault_is_back(
    vault_endpoint: VaultEndpoint,
) -> None:
    url = httpx.URL(vault_endpoint.addr)
    proxy = TcpProxy(url.host, url.port or 8200)
    await proxy.start()
    async with VaultClient(
        f"http://127.0.0.1:{proxy.port}", vault_endpoint.token, timeout_s=2
    ) as client:
        assert (await client.health())["sealed"] is False  # a pooled keep-alive connection
        await proxy.stop()  # cuts it...
        await proxy.start()  # ...and Vault is back at once
        await asyncio.sleep(0.1)  # the cut reaches the client's socket
        assert (await client.health())["sealed"] is False  # a fresh connection, no error
        await proxy.stop()  # cuts it, and refuses new ones
        with pytest.raises(VaultUnavailable, match="did not answer"):
            await client.health()
        await proxy.start()  # the same port again
        try:
            assert (await client.health())["sealed"] is False
            assert (await client.lookup_self())["policies"] == ["root"]
        finally:
            await proxy.stop()


async def test_key_types_and_hash_algorithms_hvac_lacks_still_reach_vault(
    vault: VaultClient,
) -> None:
    """hvac 2.4.0 refuses aes128-gcm96 keys and sha3 signatures before sending; Vault 1.13
    serves both, so the facade sends them through hvac's adapter."""
    aes128 = f"test-aes128-{uuid.uuid4().hex[:8]}"
    await vault.transit_create_key(aes128, key_type="aes128-gcm96")
    described = await vault.transit_read_key(aes128)
    assert described is not None
    assert described["type"] == "aes128-gcm96"
    ciphertext = await vault.transit_encrypt(aes128, b"secret bytes")
    assert await vault.transit_decrypt(aes128, ciphertext) == b"secret bytes"

    signer = f"test-sha3-{uuid.uuid4().hex[:8]}"
    await vault.transit_create_key(signer, key_type="ecdsa-p256")
    version, signature = await vault.transit_sign(signer, b"msg", hash_algorithm="sha3-256")
    assert version == 1
    public = serialization.load_pem_public_key(
        (await vault.transit_public_keys(signer))[1].encode()
    )
    assert isinstance(public, ec.EllipticCurvePublicKey)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public.verify(der, b"msg", ec.ECDSA(hashes.SHA3_256()))  # raises if not sha3-256


async def test_arguments_hvac_refuses_are_a_400_vault_error_and_nothing_is_sent(
    vault: VaultClient,
) -> None:
    signer = f"test-marshal-{uuid.uuid4().hex[:8]}"
    await vault.transit_create_key(signer, key_type="ecdsa-p256")
    with pytest.raises(VaultError) as info:
        await vault.transit_sign(signer, b"msg", marshaling_algorithm="der")
    assert info.value.status == 400
    assert info.value.path == "(not sent)"
    assert "marshaling_algorithm" in str(info.value)
    assert info.value.__context__ is None


async def test_errors_and_logs_never_carry_the_token(
    vault: VaultClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = f"hvs.{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"  # well-formed, unknown to Vault
    caplog.set_level(logging.DEBUG)  # urllib3, requests and hvac included
    async with VaultClient(vault.addr, token) as stranger:
        with pytest.raises(VaultError) as refused:
            await stranger.lookup_self()
        assert refused.value.status == 403
        with pytest.raises(VaultError) as denied:
            await stranger.kv_put(f"tests/{uuid.uuid4().hex}", {"api_key": "k"})
        assert denied.value.status == 403
        assert token not in repr(stranger)
    async with VaultClient("http://127.0.0.1:1", token, timeout_s=1) as unreachable:
        with pytest.raises(VaultUnavailable) as away:
            await unreachable.transit_encrypt("eip-key", b"x")
    for error in (refused.value, denied.value, away.value):
        assert token not in f"{error} {error!r} {error.args}"
        assert error.__cause__ is None
        assert error.__context__ is None
    assert caplog.records  # the libraries did log the requests...
    for record in caplog.records:
        assert token not in record.getMessage()  # ...never the token


async def test_enabling_an_engine_mounts_it_as_provisioning_expects(vault: VaultClient) -> None:
    path = f"test-kv-{uuid.uuid4().hex[:8]}"
    await vault.enable_engine(path, "kv", {"version": "2"})
    try:
        mounts = await vault.mounts()
        assert mounts[f"{path}/"]["type"] == "kv"
        assert mounts[f"{path}/"]["options"]["version"] == "2"
        with pytest.raises(VaultError) as twice:
            await vault.enable_engine(path, "kv", {"version": "2"})
        assert twice.value.status == 400
        assert twice.value.path == f"sys/mounts/{path}"
    finally:
        await vault._request("DELETE", f"sys/mounts/{path}")
    assert f"{path}/" not in await vault.mounts()


def vault_token(client: VaultClient) -> str:
    token = client._adapter.token
    assert token
    return token
