"""The signing fast path keeps signing's security properties: a revocation ends signing at once
on the instance that revoked, on another instance as soon as the event reaches it, and within
``AUTH_CACHE_TTL_S`` on one that hears no event (Kafka down); a rotation signs with the new
secret at once; every signature is counted in an aggregated ``credential.sign`` audit event,
flushed every interval and at shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.testing.auth import AuthFactory, stop_process
from eip.testing.proxy import TcpProxy
from eip.testing.simulator import free_port
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration

PAYLOAD = "symbol=BTCUSDT&side=BUY&timestamp=1"


def hmac_hex(secret: str, payload: str = PAYLOAD) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def sign(auth: AuthService, cid: str, token: str, **body: Any) -> httpx.Response:
    return await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/sign",
        json=body or {"scheme": "binance-rest", "fields": {"payload": PAYLOAD}},
        headers={"Authorization": f"Bearer {token}"},
    )


async def within(deadline_s: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``check`` holds; fails after ``deadline_s``."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < deadline_s, f"not within {deadline_s}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def stored_credential(
    auth: AuthService, simulator: SimulatorClient, account_id: str
) -> tuple[str, ApiCredentials]:
    key = await simulator.create_account_with_key(account_id, {"USDT": "100"})
    return await auth.create_credential(account_id, "binance", key.api_key, key.secret), key


async def trader_token(auth: AuthService, accounts: list[str]) -> str:
    client_id = f"trader-{uuid.uuid4().hex[:8]}"
    return await auth.token(
        client_id, await auth.create_client(client_id, ["credentials:use"], accounts)
    )


async def listener_live(changer: AuthService, listener: AuthService) -> None:
    """Wait until ``listener`` hears ``changer``'s changes over Kafka: a probe client is cached
    by the listener, disabled by the changer, and must be refused by the listener long before
    its cache TTL (a listener not yet placed on the topic misses the event: try a new probe)."""
    for _ in range(20):
        client_id = f"probe-{uuid.uuid4().hex[:8]}"
        token = await changer.token(
            client_id, await changer.create_client(client_id, ["credentials:use"], ["x"])
        )
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{listener.base_url}/v1/credentials"
        assert (await listener.http.get(url, headers=headers)).status_code == 200
        disabled = await changer.http.post(
            f"{changer.base_url}/v1/clients/{client_id}/disable",
            headers=await changer.admin_headers(),
        )
        assert disabled.status_code == 200
        for _ in range(30):
            if (await listener.http.get(url, headers=headers)).status_code == 401:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the second instance never heard the first one's changes")


async def test_a_revocation_ends_signing_at_once_here_on_the_event_elsewhere_and_within_the_ttl_without_kafka(  # noqa: E501
    auth_factory: AuthFactory, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    here = await auth_factory(AUTH_CACHE_TTL_S="300")
    # Another instance that hears the change only through Kafka (its TTL is far away) ...
    there = await auth_factory(AUTH_CACHE_TTL_S="300")
    # ... and one whose Kafka is down: only its TTL ends what it read.
    ttl_s = 2.0
    deaf = await auth_factory(
        ready_without={"kafka"},
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
        AUTH_CACHE_TTL_S=str(ttl_s),
    )
    cid, key = await stored_credential(here, simulator, account_id)
    token = await trader_token(here, [account_id])
    for instance in (here, there, deaf):
        signed = await sign(instance, cid, token)
        assert signed.status_code == 200, signed.text
        assert signed.json()["signature"] == hmac_hex(key.secret)
    await listener_live(here, there)
    assert (await sign(deaf, cid, token)).status_code == 200  # read again just now

    await here.revoke_credential(cid)
    revoked_at = time.monotonic()
    at_once = await sign(here, cid, token)
    assert at_once.status_code == 410
    assert at_once.json()["error"]["code"] == "credential_revoked"

    async def refused(instance: AuthService) -> bool:
        response = await sign(instance, cid, token)
        assert response.status_code in (200, 410), response.text
        return response.status_code == 410

    # the event: well before the 300 s TTL
    await within(15, lambda: refused(there))
    # no event: the TTL, counted from the revocation (plus a request's time on a busy machine)
    await within(ttl_s + 3 - (time.monotonic() - revoked_at), lambda: refused(deaf))

    # a client disabled at one instance: the same story for the token check
    client_id = f"svc-{uuid.uuid4().hex[:8]}"
    client_token = await here.token(
        client_id, await here.create_client(client_id, ["credentials:use"], [account_id])
    )
    user = {"Authorization": f"Bearer {client_token}"}
    for instance in (there, deaf):
        listed = await instance.http.get(f"{instance.base_url}/v1/credentials", headers=user)
        assert listed.status_code == 200
    disabled = await here.http.post(
        f"{here.base_url}/v1/clients/{client_id}/disable", headers=await here.admin_headers()
    )
    assert disabled.status_code == 200
    disabled_at = time.monotonic()

    async def token_refused(instance: AuthService) -> bool:
        listed = await instance.http.get(f"{instance.base_url}/v1/credentials", headers=user)
        return listed.status_code == 401

    assert await token_refused(here)
    await within(15, lambda: token_refused(there))
    await within(ttl_s + 3 - (time.monotonic() - disabled_at), lambda: token_refused(deaf))
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_a_rotated_key_signs_with_the_new_secret_at_once(
    auth_factory: AuthFactory, simulator: SimulatorClient, vault: VaultClient, account_id: str
) -> None:
    here = await auth_factory(AUTH_CACHE_TTL_S="300")
    there = await auth_factory(AUTH_CACHE_TTL_S="300")
    cid, old = await stored_credential(here, simulator, account_id)
    new = await simulator.create_key(account_id, "trading")
    token = await trader_token(here, [account_id])
    for instance in (here, there):
        before = (await sign(instance, cid, token)).json()
        assert (before["signature"], before["api_key"], before["version"]) == (
            hmac_hex(old.secret),
            old.api_key,
            1,
        )
    await listener_live(here, there)

    rotated = await here.http.post(
        f"{here.base_url}/v1/credentials/{cid}/rotate",
        json={"api_key": new.api_key, "secret": new.secret},
        headers=await here.admin_headers(),
    )
    assert rotated.status_code == 200, rotated.text
    after = (await sign(here, cid, token)).json()
    assert (after["signature"], after["api_key"], after["version"]) == (
        hmac_hex(new.secret),
        new.api_key,
        2,
    )
    # the venue takes it: the new key signed by auth reads the account
    query = f"recvWindow=5000&timestamp={int(time.time() * 1000)}"
    signed = (await sign(here, cid, token, fields={"payload": query})).json()
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        account = await http.get(
            f"/api/v3/account?{query}&signature={signed['signature']}", headers=signed["headers"]
        )
    assert account.status_code == 200, account.text

    async def new_there() -> bool:
        return bool((await sign(there, cid, token)).json()["signature"] == hmac_hex(new.secret))

    await within(15, new_there)
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def audit_events(auth: AuthService, **params: str) -> list[dict[str, Any]]:
    response = await auth.http.get(
        f"{auth.base_url}/v1/audit",
        params={"limit": "1000", **params},
        headers=await auth.admin_headers(),
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def signatures_counted(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("eip_auth_signatures_total{")
    )


async def test_signatures_are_audited_in_aggregate_per_credential_and_caller_after_the_interval(
    auth_factory: AuthFactory,
    simulator: SimulatorClient,
    vault: VaultClient,
    vault_proxy: TcpProxy,
    account_id: str,
) -> None:
    auth = await auth_factory(
        vault_addr=f"http://127.0.0.1:{vault_proxy.port}", AUTH_SIGN_AUDIT_INTERVAL_S="1"
    )
    cid, key = await stored_credential(auth, simulator, account_id)
    first, second = await trader_token(auth, [account_id]), await trader_token(auth, [account_id])
    for n in range(5):
        rest = await sign(auth, cid, first, fields={"payload": PAYLOAD}, purpose=f"order {n % 2}")
        assert rest.status_code == 200
    ws = await sign(auth, cid, first, scheme="binance-ws-api", fields={"timestamp": "1"})
    assert ws.status_code == 200
    for _ in range(3):
        assert (await sign(auth, cid, second)).status_code == 200
    # another account's caller: refused, and that refusal is audited on its own
    stranger = await trader_token(auth, ["someone-else"])
    refused = await sign(auth, cid, stranger)
    assert refused.status_code == 403

    async def counted() -> bool:
        events = await audit_events(auth, subject=cid, action="credential.sign")
        return sum(int(e["details"].get("count", 0)) for e in events) == 9

    await within(15, counted)
    events = await audit_events(auth, subject=cid, action="credential.sign")
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_actor.setdefault(event["actor"], []).append(event)
    denied = [e for e in events if e["outcome"] == "denied"]
    assert [e["details"] for e in denied] == [{"reason": "account not in token"}]
    granted = [e for e in events if e["outcome"] == "success"]
    totals: dict[str, int] = {}
    for event in granted:
        details = event["details"]
        totals[event["actor"]] = totals.get(event["actor"], 0) + int(details["count"])
        assert details["first"] <= details["last"]
        assert details["vault_versions"] == "1"
        assert details["interval_s"] == "1"
    assert sorted(totals.values()) == [3, 6]
    (first_actor,) = [a for a, n in totals.items() if n == 6]
    schemes = {s for e in by_actor[first_actor] for s in e["details"]["schemes"].split(",")}
    assert schemes == {"binance-rest", "binance-ws-api"}
    purposes = {p for e in by_actor[first_actor] for p in json.loads(e["details"]["purposes"])}
    assert purposes == {"order 0", "order 1", "sign"}
    # signatures are no per-call credential.use any more, and the chain holds
    assert await audit_events(auth, subject=cid, action="credential.use") == []
    verified = await auth.http.get(
        f"{auth.base_url}/v1/audit/verify", headers=await auth.admin_headers()
    )
    assert verified.json()["ok"] is True
    metadata = await auth.http.get(
        f"{auth.base_url}/v1/credentials/{cid}", headers=await auth.admin_headers()
    )
    assert metadata.json()["credential"]["last_used_at"] is not None
    metrics = (await auth.http.get(f"{auth.base_url}/metrics")).text
    assert signatures_counted(metrics) == 9

    # the secret was read from Vault once: with Vault away signing goes on, /use does not (a
    # secret unused for an interval is dropped from memory: sign just before, to hold it)
    assert (await sign(auth, cid, second)).status_code == 200
    await vault_proxy.stop()
    assert (await sign(auth, cid, second)).status_code == 200
    use = await auth.http.post(
        f"{auth.base_url}/v1/credentials/{cid}/use",
        json={},
        headers={"Authorization": f"Bearer {second}"},
    )
    assert use.status_code == 503
    assert key.secret not in auth.logs()
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")


async def test_an_instance_that_stops_flushes_the_signatures_it_counted(
    auth_factory: AuthFactory,
    simulator: SimulatorClient,
    vault: VaultClient,
    db_pool: AsyncConnectionPool[AsyncConnection],
    account_id: str,
) -> None:
    auth = await auth_factory(AUTH_SIGN_AUDIT_INTERVAL_S="3600")
    cid, _ = await stored_credential(auth, simulator, account_id)
    token = await trader_token(auth, [account_id])
    for _ in range(4):
        assert (await sign(auth, cid, token)).status_code == 200
    assert auth.process is not None
    stop_process(auth.process)  # SIGTERM: the server drains, then the flush at shutdown
    assert "Application shutdown complete" in auth.logs()  # uvicorn re-raises the SIGTERM
    async with db_pool.connection() as conn:
        cursor = await conn.execute(
            sql.SQL(
                "SELECT details->>'count' FROM {} WHERE action = 'credential.sign'"
                " AND subject = %s AND outcome = 'success'"
            ).format(sql.Identifier(auth.audit_schema, "audit_events")),
            (cid,),
        )
        counts = [int(row[0]) for row in await cursor.fetchall()]
    assert counts == [4]
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")
