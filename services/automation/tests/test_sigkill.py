"""The service as a real process, SIGKILLed at the trigger instant: a price-cross rule and a cron
DCA rule each fire exactly once across the crash — one firing row, one command on
orders.commands.v1, one order in the real order-management service and one order at the
exchange simulator per firing id, each filled and its fill in the firing's record.

"At the trigger instant" is made exact with PostgreSQL: the test holds both rules' rows locked,
so the service's firing transactions wait inside ``RuleStore.apply`` (the crossing tick handled,
the cron minute come); the process is killed while one waits there, uncommitted. The restarted
process (same instance id, so its market consumer resumes from the last committed offset and
the crossing tick is delivered again) loads the stored state — still unfired — and fires each
trigger once. Order management runs in the test's process (its own test harness), on the
commands and events topics the service uses, and trades for a real account at the simulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from order_management.tests.harness import Desk, until
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.automation.topics import Topics
from eip.bus import Producer
from eip.events.v1 import orders_pb2
from eip.testing.tokens import TokenIssuer

from .conftest import BUY_25_USDT, Process, above, read_all, tick

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
def service_process(processes: Callable[[str], Process]) -> Process:
    return processes("crash-test")


async def waiting_on_lock(pool: AsyncConnectionPool[AsyncConnection], schema: str) -> bool:
    """A statement of the service on the rules table waits on a lock (whichever statement of
    the firing's transaction touches the locked rows first).

    Each look is a transaction of its own: PostgreSQL snapshots ``pg_stat_activity`` at its
    first read in a transaction and serves that snapshot until the transaction ends, so polls
    on one connection in one (implicit) transaction would never see a session that began to
    wait after the first poll — the flake of issue 16, where the firing waited all along."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid() AND query LIKE %s",
            (f'%"{schema}"."rules"%',),
        )
        row = await cur.fetchone()
    return bool(row and row[0])


async def sessions_of(pool: AsyncConnectionPool[AsyncConnection], schema: str) -> str:
    """What every other session on the schema is doing now (for a failure's message; a fresh
    transaction, so a fresh ``pg_stat_activity`` snapshot)."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT state, wait_event_type, wait_event, left(query, 200) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND query LIKE %s",
            (f'%"{schema}"%',),
        )
        rows = await cur.fetchall()
    return "\n".join(repr(row) for row in rows)


async def test_the_lock_watch_sees_a_session_that_begins_to_wait_after_its_first_look(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> None:
    # the crash test's race, made certain: the watch looks before the firing reaches the lock
    rules = sql.Identifier(db_schema, "rules")
    async with db_pool.connection() as conn, conn.transaction():
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(db_schema)))
        await conn.execute(sql.SQL("CREATE TABLE {} (rule_id int PRIMARY KEY)").format(rules))
        await conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(rules))
    select = sql.SQL("SELECT 1 FROM {} WHERE rule_id = 1 FOR UPDATE").format(rules)

    async def firing() -> None:
        async with db_pool.connection() as conn, conn.transaction():
            await conn.execute(select)

    async with db_pool.connection() as lock, lock.transaction():
        await lock.execute(select)
        assert not await waiting_on_lock(db_pool, db_schema)  # the first look: nobody waits
        waiter = asyncio.create_task(firing())
        deadline = time.monotonic() + 30
        while not await waiting_on_lock(db_pool, db_schema):
            assert time.monotonic() < deadline, await sessions_of(db_pool, db_schema)
            await asyncio.sleep(0.05)
        assert "'Lock', 'transactionid'" in await sessions_of(db_pool, db_schema)
    await waiter  # our lock released: the waiting transaction goes through


async def test_a_cross_and_a_cron_dca_fire_once_each_across_a_sigkill_at_the_trigger(
    desk: Desk,
    service_process: Process,
    producer: Producer,
    topics: Topics,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
    kafka_bootstrap_servers: str,
) -> None:
    await desk.instance()
    account = await desk.account()
    await desk.maker("sell", Decimal("1000"), Decimal("1"))  # 1,000 USDT to buy from
    service_process.start()
    await service_process.ready()
    headers = token_issuer.headers(accounts=[account])
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{service_process.port}", headers=headers
    ) as http:
        cross = await http.post(
            "/v1/rules",
            json={
                "account_id": account,
                "name": "above 1000",
                "condition": above("1000"),
                "action": BUY_25_USDT,
            },
        )
        dca = await http.post(
            "/v1/rules",
            json={
                "account_id": account,
                "name": "DCA 25 USDT a minute",
                "condition": {"type": "cron", "expression": "* * * * *", "timezone": "Asia/Tokyo"},
                "action": BUY_25_USDT,
            },
        )
    assert cross.status_code == dca.status_code == 201, (cross.text, dca.text)
    cross_id, dca_id = cross.json()["rule_id"], dca.json()["rule_id"]
    rules = sql.Identifier(db_schema, "rules")
    state = sql.Identifier(db_schema, "rule_state")

    # the service evaluates the account: a tick below the level is stored as its level
    deadline = time.monotonic() + 90
    while True:
        await tick(producer, topics, "990")
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT level FROM {} WHERE rule_id = %s").format(state), (cross_id,)
            )
            if (await cur.fetchone()) == (False,):
                break
        assert time.monotonic() < deadline, service_process.log.read_text()[-3000:]
        await asyncio.sleep(0.5)

    async with db_pool.connection() as lock, lock.transaction():
        await lock.execute(
            sql.SQL("SELECT 1 FROM {} WHERE rule_id = ANY(%s) FOR UPDATE").format(rules),
            ([cross_id, dca_id],),
        )
        await tick(producer, topics, "1001")  # the crossing: its firing waits on our lock
        deadline = time.monotonic() + 90  # ... and so will the next minute's DCA
        next_tick = time.monotonic() + 5
        while not await waiting_on_lock(db_pool, db_schema):
            if time.monotonic() > deadline:
                raise AssertionError(
                    "no firing transaction waited on the lock; sessions:\n"
                    + await sessions_of(db_pool, db_schema)
                    + "\nservice log:\n"
                    + service_process.log.read_text()[-5000:]
                )
            if time.monotonic() > next_tick:
                # The price stays above the level (a market does not tick once): a rule
                # crosses once however many ticks follow, and a loaded service that had
                # not yet looked at the first one fires on the next.
                await tick(producer, topics, "1001")
                next_tick = time.monotonic() + 5
            await asyncio.sleep(0.05)
        service_process.kill()
    async with db_pool.connection() as conn:
        cur = await conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(db_schema, "firings"))
        )
        assert await cur.fetchone() == (0,)  # killed before any firing committed

    service_process.start()
    await service_process.ready()

    async def firings() -> list[tuple[str, str]]:
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT rule_id::text, firing_id FROM {} ORDER BY fired_at").format(
                    sql.Identifier(db_schema, "firings")
                )
            )
            return [(r, f) for r, f in await cur.fetchall()]

    deadline = time.monotonic() + 120
    while {r for r, _ in await firings()} != {cross_id, dca_id}:
        assert time.monotonic() < deadline, service_process.log.read_text()[-3000:]
        await tick(producer, topics, "1001.5")  # further ticks above the level: no new edge
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # anything that would fire twice has had its chance
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{service_process.port}", headers=headers
    ) as http:  # no DCA minute after this: the set of firings is final
        assert (await http.post(f"/v1/rules/{dca_id}/pause")).status_code == 200

    async def executions() -> dict[str, list[tuple[str, Decimal]]]:
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT firing_id, state, filled_quantity FROM {}").format(
                    sql.Identifier(db_schema, "executions")
                )
            )
            out: dict[str, list[tuple[str, Decimal]]] = {}
            for firing_id, order_state, filled in await cur.fetchall():
                out.setdefault(firing_id, []).append((order_state, filled))
            return out

    async def all_filled() -> bool:
        done = await executions()
        return all([s for s, _ in done.get(f, [])] == ["filled"] for _, f in await firings())

    await until(all_filled, 90, "every firing's order filled and read back", every_s=0.5)
    service_process.stop()

    fired = await firings()
    assert [f for r, f in fired if r == cross_id] == [f"{cross_id}:1:e1"]
    dca_firings = [f for r, f in fired if r == dca_id]
    assert len(dca_firings) == len(set(dca_firings)) >= 1
    assert all(f.endswith(":00+09:00") for f in dca_firings)  # whole minutes, Tokyo time
    sent = [
        c
        for c in await read_all(kafka_bootstrap_servers, topics.commands)
        if isinstance(c, orders_pb2.OrderCommand)
    ]
    keys = [c.idempotency_key for c in sent]
    assert sorted(keys) == sorted(f for _, f in fired)  # one command per firing, none twice
    # each firing is one order of 25 USDT at 1000, filled, in the firing's record ...
    assert await executions() == {f: [("filled", Decimal("0.025"))] for _, f in fired}
    # ... one order in order management under the firing's id ...
    listed = await desk.instances[0].http.get(
        "/v1/orders", params={"account_id": account, "limit": 500}, headers=desk.headers()
    )
    assert sorted(o["idempotency_key"] for o in listed.json()["orders"]) == sorted(
        f for _, f in fired
    )
    # ... and one order at the venue: none doubled by the crash, none lost
    at_venue = await desk.venue_orders(account)
    assert len(at_venue) == len(fired)
    assert {o["status"] for o in at_venue} == {"closed"}
    assert sum(Decimal(str(o["filled"])) for o in at_venue) == Decimal("0.025") * len(fired)
