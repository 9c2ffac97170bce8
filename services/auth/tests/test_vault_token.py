"""The auth service keeps a periodic Vault token alive past its period by renewing it at half
the period (the token `make up` gives it is periodic, 24 h; here the period is seconds)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from eip.auth.runtime import AuthRuntime
from eip.auth.settings import AuthSettings
from eip.runtime import Dependencies, Needs
from eip.testing.endpoints import VaultEndpoint
from eip.vault import VaultClient

pytestmark = pytest.mark.integration

PERIOD_S = 12


async def test_the_service_renews_a_periodic_token_at_half_its_period(
    vault: VaultClient, vault_endpoint: VaultEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    token = await vault.create_token(["eip-auth-service"], period=f"{PERIOD_S}s")
    settings = AuthSettings(vault_addr=vault_endpoint.addr, vault_token=SecretStr(token))
    deps = Dependencies(settings, Needs(kafka=False, database=False, vault=True))
    rt = AuthRuntime(settings, deps, {})
    caplog.set_level(logging.INFO, logger="eip.auth.runtime")
    async with deps.lifespan(FastAPI()), VaultClient(vault.addr, token) as observer:
        created = int((await observer.lookup_self())["creation_time"])  # Unix seconds
        renewing = asyncio.create_task(rt.token_renewal_loop())
        try:
            # Outlive the period by half again: without renewals the token would be gone.
            deadline = time.monotonic() + 120
            while time.time() - created < PERIOD_S * 1.5 + 1:
                assert time.monotonic() < deadline, "the clock did not move"
                assert not renewing.done()
                await asyncio.sleep(0.5)
            alive = await observer.lookup_self()
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await observer._request("POST", "auth/token/revoke-self")
    assert 0 < int(alive["ttl"]) <= PERIOD_S
    # renewed again after the first, start-up renewal: every half period, not once
    assert int(alive["last_renewal_time"]) - created >= PERIOD_S / 2 - 1
    periodic = [r for r in caplog.records if r.getMessage() == "Vault token"]
    assert [getattr(r, "periodic", None) for r in periodic] == [True]
    assert "max TTL" not in caplog.text  # no warning for a token that has none
