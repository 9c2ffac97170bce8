"""No secret reaches PostgreSQL, Kafka, the logs, /metrics or an HTTP response.

A canary key (its secret and API key are random and unique) goes through every endpoint and
error path; then every table of the service's schemas, every record on its topics, its whole
log, /metrics and every response body are searched for it. The one designed exit — the
``/use`` response to an authorized trading service — is the only response allowed to carry
the secret, and it is checked separately to carry it only there.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.events.topics import TopicSpec
from eip.exchange_simulator.client import SimulatorClient
from eip.testing.proxy import TcpProxy
from eip.vault import VaultClient

from .conftest import AuthService

pytestmark = pytest.mark.integration


async def read_topic(bootstrap: str, spec: TopicSpec) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        seen: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for r in records:
                    seen.append((r.key or b"") + (r.value or b""))
                    seen.extend(v for _, v in r.headers or [])
        return seen
    finally:
        await consumer.stop()


async def dump_schema(pool: AsyncConnectionPool[AsyncConnection], schema: str) -> str:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        tables = [r[0] for r in await cursor.fetchall()]
        assert tables, f"no tables in {schema}"
        dump: list[str] = []
        for table in tables:
            rows = await conn.execute(
                sql.SQL("SELECT row_to_json(t)::text FROM {} t").format(
                    sql.Identifier(schema, table)
                )
            )
            dump.extend(r[0] for r in await rows.fetchall())
    return "\n".join(dump)


async def test_canary_secret_never_leaks(
    auth_factory: Any,
    simulator: SimulatorClient,
    vault: VaultClient,
    vault_proxy: TcpProxy,
    kafka_bootstrap_servers: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    account_id: str,
) -> None:
    proxy = vault_proxy
    # signatures audited in aggregate every half second: their events are searched too
    auth: AuthService = await auth_factory(
        vault_addr=f"http://127.0.0.1:{proxy.port}", AUTH_SIGN_AUDIT_INTERVAL_S="0.5"
    )
    await simulator.create_account(account_id, {"USDT": "100"})
    canary = await simulator.create_key(account_id, "trading", ip_allowlist=["127.0.0.1"])
    rotated = await simulator.create_key(account_id, "trading", ip_allowlist=["127.0.0.1"])
    withdrawer = await simulator.create_key(account_id, "trading+withdrawal")
    secrets_ = {
        "canary secret": canary.secret,
        "rotated secret": rotated.secret,
        "withdrawal key secret": withdrawer.secret,
        "bad secret": f"badsecret{uuid.uuid4().hex}",
        "passphrase": f"passphrase{uuid.uuid4().hex}",
    }
    api_keys = {"canary api key": canary.api_key, "rotated api key": rotated.api_key}
    responses: list[str] = []
    designed_exits: list[str] = []  # /use and /sign bodies, checked on their own
    admin = await auth.admin_headers()
    base = auth.base_url

    async def call(method: str, path: str, **kw: Any) -> httpx.Response:
        response = await auth.http.request(method, f"{base}{path}", **kw)
        responses.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    def body(secret: str, api_key: str = canary.api_key, **extra: Any) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "exchange": "binance",
            "api_key": api_key,
            "secret": secret,
            "passphrase": secrets_["passphrase"],
            **extra,
        }

    # create: wrong secret (exchange refuses), malformed input, withdrawal refused, success
    r = await call("POST", "/v1/credentials", json=body(secrets_["bad secret"]), headers=admin)
    assert r.status_code == 422
    r = await call(
        "POST", "/v1/credentials", json={**body(canary.secret), "account_id": "x/y"}, headers=admin
    )
    assert r.status_code == 422
    r = await call(
        "POST", "/v1/credentials", json={**body(canary.secret), "label": ["not str"]}, headers=admin
    )
    assert r.status_code == 422
    r = await call("POST", "/v1/credentials", json=body(canary.secret))  # no token
    assert r.status_code == 401
    r = await call(
        "POST",
        "/v1/credentials",
        json=body(withdrawer.secret, withdrawer.api_key),
        headers=admin,
    )
    assert r.status_code == 422
    r = await call("POST", "/v1/credentials", json=body(canary.secret), headers=admin)
    assert r.status_code == 201, r.text
    cid = r.json()["credential"]["id"]
    # read paths
    assert (await call("GET", f"/v1/credentials/{cid}", headers=admin)).status_code == 200
    assert (await call("GET", "/v1/credentials", headers=admin)).status_code == 200
    assert (await call("POST", f"/v1/credentials/{cid}/validate", headers=admin)).status_code == 200
    # rotation: refused new key, then a good one
    r = await call(
        "POST",
        f"/v1/credentials/{cid}/rotate",
        json={"api_key": rotated.api_key, "secret": secrets_["bad secret"]},
        headers=admin,
    )
    assert r.status_code == 422
    r = await call(
        "POST",
        f"/v1/credentials/{cid}/rotate",
        json={"api_key": rotated.api_key, "secret": rotated.secret},
        headers=admin,
    )
    assert r.status_code == 200
    # use and sign by a trading service
    trader = f"trader-{uuid.uuid4().hex[:6]}"
    trader_secret = await auth.create_client(trader, ["credentials:use"], [account_id])
    trader_auth = {"Authorization": f"Bearer {await auth.token(trader, trader_secret)}"}
    use = await auth.http.post(f"{base}/v1/credentials/{cid}/use", json={}, headers=trader_auth)
    assert use.status_code == 200
    assert use.json()["secret"] == rotated.secret
    designed_exits.append(use.text)
    sign = await auth.http.post(
        f"{base}/v1/credentials/{cid}/sign", json={"payload": "a=1"}, headers=trader_auth
    )
    assert sign.status_code == 200
    responses.append(sign.text.replace(rotated.api_key, "<api key: public identifier>"))
    r = await call("POST", f"/v1/credentials/{cid}/use", json={}, headers=admin)  # no scope
    assert r.status_code == 403
    # tokens: a secret used as a client secret, and as a token at introspection
    r = await call("POST", "/v1/tokens", json={"client_id": trader, "client_secret": canary.secret})
    assert r.status_code == 401
    r = await call("POST", "/v1/tokens/introspect", json={"token": canary.secret}, headers=admin)
    assert r.json() == {"active": False, "reason": "malformed_token"}
    r = await call("GET", "/v1/credentials", headers={"Authorization": f"Bearer {canary.secret}"})
    assert r.status_code == 401
    # audit and JWKS
    assert (
        await call("GET", "/v1/audit", params={"limit": 1000}, headers=admin)
    ).status_code == 200
    assert (await call("GET", "/v1/audit/verify", headers=admin)).json()["ok"] is True
    assert (await call("GET", "/v1/.well-known/jwks.json")).status_code == 200
    # Vault outage on rotation: 503, and nothing of the secret in the error
    await proxy.stop()
    r = await call(
        "POST",
        f"/v1/credentials/{cid}/rotate",
        json={"api_key": canary.api_key, "secret": canary.secret},
        headers=admin,
    )
    assert r.status_code == 503
    r = await call("POST", f"/v1/credentials/{cid}/use", json={}, headers=trader_auth)
    assert r.status_code == 503
    # revoke (Vault still away: access ends anyway)
    r = await call("POST", f"/v1/credentials/{cid}/revoke", json={"reason": "x"}, headers=admin)
    assert r.status_code == 200
    await asyncio.sleep(0.5)  # let the last log lines and publishes land

    metrics = (await auth.http.get(f"{base}/metrics")).text
    pg = await dump_schema(db_pool, auth.schema) + await dump_schema(db_pool, auth.audit_schema)
    kafka = b"".join(
        await read_topic(kafka_bootstrap_servers, auth.credentials_topic)
        + await read_topic(kafka_bootstrap_servers, auth.audit_topic)
    )
    logs = auth.logs()
    assert "credential.create" in pg  # the places searched really hold the service's output
    assert "credential.sign" in pg
    assert b"credential.create" in kafka
    assert "credential" in logs
    assert "eip_auth_credential_actions_total" in metrics
    everything = {
        "postgres": pg,
        "kafka": kafka.decode("utf-8", errors="replace"),
        "logs": logs,
        "metrics": metrics,
        "http responses": "\n".join(responses),
    }
    for where, text in everything.items():
        for name, value in {**secrets_, **api_keys}.items():
            assert value not in text, f"{name} found in {where}"
    # the designed exit carries the current secret, and no other secret
    for name, value in secrets_.items():
        if value != rotated.secret:
            assert value not in "".join(designed_exits), f"{name} in a /use response"
    await vault.kv_destroy_all(f"exchange-credentials/{account_id}/{cid}")
