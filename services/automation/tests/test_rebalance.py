"""Two service processes share the rules through the consumer group of automation.rules.v1; one
is SIGKILLed and the other takes its accounts over (their rules and stored state loaded on
assignment): every rule fires once on the crossing — none lost with the dead instance, none
doubled by the hand-over."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.automation.topics import Topics
from eip.bus import Producer, partition_for_key
from eip.events.topics import record_key
from eip.events.v1 import orders_pb2
from eip.testing.tokens import TokenIssuer

from .conftest import BUY_25_USDT, Process, above, read_all, tick

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def assigned(process: Process) -> set[int]:
    """The partitions of the rules topic the process said it holds last."""
    held: set[int] = set()
    for line in process.log.read_text().splitlines():
        if line.startswith("{") and '"automation accounts assigned"' in line:
            held = set(json.loads(line)["partitions"])
    return held


async def test_a_killed_instances_rules_fire_once_on_the_instance_that_takes_them_over(
    processes: Callable[[str], Process],
    producer: Producer,
    topics: Topics,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
    kafka_bootstrap_servers: str,
) -> None:
    partitions = list(range(topics.rules.partitions))
    accounts: list[str] = []
    while len(accounts) < 2 * len(partitions):  # two accounts on every partition
        account = f"acct-{uuid.uuid4().hex[:8]}"
        p = partition_for_key(record_key(account), partitions)
        if sum(partition_for_key(record_key(a), partitions) == p for a in accounts) < 2:
            accounts.append(account)
    a, b = processes("a"), processes("b")
    a.start()
    await a.ready()
    b.start()
    await b.ready()
    headers = token_issuer.headers(accounts=accounts)
    rule_ids: list[str] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{a.port}", headers=headers) as http:
        for account in accounts:
            created = await http.post(
                "/v1/rules",
                json={
                    "account_id": account,
                    "name": "above 1000",
                    "condition": above("1000"),
                    "action": BUY_25_USDT,
                },
            )
            assert created.status_code == 201, created.text
            rule_ids.append(created.json()["rule_id"])

    async def levels() -> list[bool | None]:
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT level FROM {} WHERE rule_id = ANY(%s)").format(
                    sql.Identifier(db_schema, "rule_state")
                ),
                (rule_ids,),
            )
            return [level for (level,) in await cur.fetchall()]

    # both instances hold their share and every rule has seen the market below its level
    deadline = time.monotonic() + 120
    while not (assigned(a) and assigned(b) and await levels() == [False] * len(rule_ids)):
        assert time.monotonic() < deadline, (assigned(a), assigned(b), await levels())
        await tick(producer, topics, "990")
        await asyncio.sleep(0.5)
    held_by_a = assigned(a)
    assert held_by_a.isdisjoint(assigned(b))
    assert held_by_a | assigned(b) == set(partitions)
    a.kill()
    await tick(producer, topics, "1001")  # the crossing, while nobody holds a's accounts

    async def firings() -> list[tuple[str, str]]:
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT rule_id::text, firing_id FROM {}").format(
                    sql.Identifier(db_schema, "firings")
                )
            )
            return [(r, f) for r, f in await cur.fetchall()]

    deadline = time.monotonic() + 180
    while {r for r, _ in await firings()} != set(rule_ids):
        assert time.monotonic() < deadline, b.log.read_text()[-3000:]
        await tick(producer, topics, "1001.5")  # above the level: an edge only once per rule
        await asyncio.sleep(0.5)
    assert assigned(b) == set(partitions)  # b took a's partitions over
    await asyncio.sleep(2)  # a second firing would have had its chance
    b.stop()

    fired = await firings()
    assert sorted(fired) == sorted((r, f"{r}:1:e1") for r in rule_ids)
    sent = [
        c.idempotency_key
        for c in await read_all(kafka_bootstrap_servers, topics.commands)
        if isinstance(c, orders_pb2.OrderCommand)
    ]
    assert sorted(sent) == sorted(f for _, f in fired)  # one command per firing
