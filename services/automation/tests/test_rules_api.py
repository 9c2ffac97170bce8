"""Rules over HTTP on real PostgreSQL and Kafka: created, versioned, paused, resumed and deleted
by a token of their account only, every change audited and announced on automation.rules.v1."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.audit import AuditQuery, AuditTrail
from eip.events.v1 import automation_pb2
from eip.testing.tokens import TokenIssuer

from .conftest import ACCOUNT, Starter, read_all

pytestmark = pytest.mark.integration

RULE: dict[str, Any] = {
    "account_id": ACCOUNT,
    "name": "buy the dip",
    "condition": {
        "type": "price_cross",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "direction": "below",
        "level": "60000",
    },
    "action": {
        "type": "place_order",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": "0.01",
        "price": "59900",
    },
    "limits": {"max_notional_per_firing": "1000", "max_firings": 3},
}


async def test_a_rule_lives_through_create_update_pause_resume_delete_and_each_step_is_audited(
    start_service: Starter,
    db_pool: AsyncConnectionPool[AsyncConnection],
    kafka_bootstrap_servers: str,
) -> None:
    service = await start_service()
    http = service.http
    created = await http.post("/v1/rules", json=RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    rule_id = rule["rule_id"]
    assert (rule["version"], rule["status"], rule["account_id"]) == (1, "active", ACCOUNT)
    assert rule["action"]["price"] == "59900"

    changed = {**RULE, "name": "buy the deeper dip"}
    changed["condition"] = {**RULE["condition"], "level": "55000"}
    del changed["account_id"]
    updated = await http.put(f"/v1/rules/{rule_id}", json=changed)
    assert updated.status_code == 200, updated.text
    assert (updated.json()["version"], updated.json()["condition"]["level"]) == (2, "55000")

    paused = await http.post(f"/v1/rules/{rule_id}/pause")
    assert paused.json()["status"] == "paused"
    assert (await http.post(f"/v1/rules/{rule_id}/pause")).json()["status"] == "paused"
    assert (await http.post(f"/v1/rules/{rule_id}/resume")).json()["status"] == "active"
    listed = (await http.get("/v1/rules")).json()["rules"]
    assert [r["rule_id"] for r in listed] == [rule_id]
    assert (await http.delete(f"/v1/rules/{rule_id}")).status_code == 204
    assert (await http.get(f"/v1/rules/{rule_id}")).status_code == 404
    assert (await http.get("/v1/rules")).json()["rules"] == []

    trail = AuditTrail(service.settings.audit_schema)
    async with db_pool.connection() as conn:
        events = await trail.query(conn, AuditQuery(subject=rule_id))
        versions = await conn.execute(
            sql.SQL("SELECT version FROM {} WHERE rule_id = %s ORDER BY version").format(
                sql.Identifier(service.settings.db_schema, "rule_versions")
            ),
            (rule_id,),
        )
        assert [v for (v,) in await versions.fetchall()] == [1, 2]
    assert [e.action for e in events] == [
        "rule.create",
        "rule.update",
        "rule.pause",
        "rule.resume",
        "rule.delete",
    ]
    assert {e.actor for e in events} == {"test-client"}
    assert all(e.details["account"] == ACCOUNT for e in events)

    changes = await read_all(kafka_bootstrap_servers, service.topics.rules)
    mine = [c for c in changes if isinstance(c, automation_pb2.RuleChange)]
    assert [c.action for c in mine] == [
        automation_pb2.RULE_CHANGE_ACTION_CREATED,
        automation_pb2.RULE_CHANGE_ACTION_UPDATED,
        automation_pb2.RULE_CHANGE_ACTION_PAUSED,
        automation_pb2.RULE_CHANGE_ACTION_RESUMED,
        automation_pb2.RULE_CHANGE_ACTION_DELETED,
    ]
    assert {c.account_id for c in mine} == {ACCOUNT}


async def test_a_token_sees_and_changes_only_the_rules_of_its_accounts(
    start_service: Starter, token_issuer: TokenIssuer
) -> None:
    service = await start_service()
    rule_id = (await service.http.post("/v1/rules", json=RULE)).json()["rule_id"]
    other = token_issuer.headers(accounts=["someone-else"])
    assert (await service.http.get(f"/v1/rules/{rule_id}", headers=other)).status_code == 404
    assert (await service.http.get("/v1/rules", headers=other)).json()["rules"] == []
    refused = await service.http.post(f"/v1/rules/{rule_id}/pause", headers=other)
    assert refused.status_code == 404
    elsewhere = await service.http.post("/v1/rules", json=RULE, headers=other)
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"] == "forbidden"
    read_only = token_issuer.headers(["rules:read"], accounts=[ACCOUNT])
    denied = await service.http.delete(f"/v1/rules/{rule_id}", headers=read_only)
    assert denied.status_code == 403
    assert (await service.http.get(f"/v1/rules/{rule_id}")).json()["status"] == "active"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition": {"type": "price_cross", "exchange": "binance"}}, "condition"),
        ({"action": {**RULE["action"], "price": "-1"}}, "price"),
        ({"limits": {"max_firings": 0}}, "max_firings"),
        ({"condition": {"type": "cron", "expression": "every day"}}, "condition"),
    ],
)
async def test_a_bad_rule_is_a_422_that_names_the_field_and_stores_nothing(
    start_service: Starter, change: dict[str, Any], field: str
) -> None:
    service = await start_service()
    answer = await service.http.post("/v1/rules", json={**RULE, **change})
    assert answer.status_code == 422, answer.text
    body = answer.json()["error"]
    assert body["code"] in ("invalid_request", "invalid_rule")
    assert field in answer.text
    assert (await service.http.get("/v1/rules")).json()["rules"] == []
