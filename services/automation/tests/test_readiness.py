"""What /readyz says about rule evaluation, on real Kafka and PostgreSQL: an instance is ready
only once it holds its share of the accounts (issue 16: it answered ready before its first
assignment, so a rolling deploy could count an instance that evaluated nothing as up), and a
firing that waits on a locked rule row — holding every rule of the instance — is a stall that
is logged, measured and reported (issue 16: found silent while fixing test_sigkill.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.automation.topics import Topics
from eip.bus import Producer
from eip.events.v1 import orders_pb2

from .conftest import ACCOUNT, BUY_25_USDT, Service, Starter, above, read_all, tick, until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class HoldsTheRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """A group member that does not rejoin until told: the rebalance a new member starts
    cannot finish meanwhile, so the new member is assigned nothing."""

    def __init__(self) -> None:
        self.assigned = asyncio.Event()
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.assigned.is_set():
            self.asked.set()
            await self.release.wait()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.set()


async def readyz(service: Service) -> tuple[int, dict[str, Any]]:
    response = await service.http.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_readyz_is_503_awaiting_assignment_until_the_instance_holds_its_partitions(
    start_service: Starter, kafka_bootstrap_servers: str, db_schema: str, topics: Topics
) -> None:
    # a member of the service's group (as a replica still running would be) that holds the
    # rebalance the service's join starts until the test lets it go
    listener = HoldsTheRebalance()
    member = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=f"automation-{db_schema}",  # the group start_service gives the service
        enable_auto_commit=False,
    )
    member.subscribe([topics.rules.name], listener=listener)
    await member.start()
    polling = asyncio.create_task(member.getmany(timeout_ms=120_000))
    try:
        await asyncio.wait_for(listener.assigned.wait(), 30)
        service = await start_service()
        await asyncio.wait_for(listener.asked.wait(), 30)

        # several rounds of checks (one a second): Kafka and PostgreSQL answer, the service
        # holds nothing, and says so with a code
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            status, body = await readyz(service)
            assert status == 503, body
            evaluation = body["checks"]["evaluation"]
            assert evaluation["ok"] is False
            assert evaluation["reason"] == "awaiting_assignment", evaluation
            assert evaluation["details"]["topic"] == topics.rules.name
            await asyncio.sleep(0.3)
        assert body["checks"]["kafka"]["ok"] is True, body
        assert body["checks"]["postgres"]["ok"] is True, body
        assert not service.automation.ready.is_set()

        listener.release.set()
        deadline = time.monotonic() + 30
        while (status := (await readyz(service))[0]) != 200:
            assert time.monotonic() < deadline, "not ready 30 s after the rebalance finished"
            await asyncio.sleep(0.2)
        status, body = await readyz(service)
        assert body["checks"]["evaluation"]["ok"] is True
        assert service.automation.ready.is_set()
    finally:
        listener.release.set()
        polling.cancel()
        with contextlib.suppress(BaseException):
            await polling
        await member.stop()


async def test_an_instance_that_joined_and_was_given_no_partition_is_ready(
    start_service: Starter, kafka_bootstrap_servers: str, db_schema: str, topics: Topics
) -> None:
    """More instances than partitions: one holds nothing, legitimately, and is ready."""
    members = []
    polls = []
    try:
        for _ in range(topics.rules.partitions):  # one member per partition, there first
            member = AIOKafkaConsumer(
                topics.rules.name,
                bootstrap_servers=kafka_bootstrap_servers,
                group_id=f"automation-{db_schema}",
                client_id="aaa-member",  # sorts before the service: the assignor serves them first
                enable_auto_commit=False,
            )
            await member.start()
            members.append(member)
            polls.append(asyncio.create_task(member.getmany(timeout_ms=120_000)))
        service = await start_service()
        deadline = time.monotonic() + 60
        while (status := (await readyz(service))[0]) != 200:
            assert time.monotonic() < deadline, (await readyz(service))[1]
            await asyncio.sleep(0.2)
        assert service.automation.ready.is_set()
        assert service.automation.owned == frozenset()  # joined, and given nothing
        assert status == 200
    finally:
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for member in members:
            await member.stop()


def oldest_firing_age(metrics: str) -> float:
    found = re.search(r"^eip_automation_oldest_firing_age_seconds ([0-9.e+-]+)$", metrics, re.M)
    assert found is not None, "the gauge is not on /metrics"
    return float(found.group(1))


async def test_a_firing_waiting_on_a_locked_rule_row_is_warned_measured_and_not_ready(
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="eip.automation.runtime")
    # the row lock's wait unbounded here: the stall itself is under test
    service = await start_service(
        firing_stall_after_s=1.0, firing_stall_log_interval_s=1.0, firing_lock_timeout_s=0
    )
    created = await service.http.post(
        "/v1/rules",
        json={"account_id": ACCOUNT, "name": "above 100", "condition": above("100"),
              "action": BUY_25_USDT},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    rule_id = created.json()["rule_id"]
    state = sql.Identifier(db_schema, "rule_state")

    async def level() -> object:
        async with db_pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT level FROM {} WHERE rule_id = %s").format(state), (rule_id,)
            )
            row = await cur.fetchone()
        return None if row is None else row[0]

    deadline = time.monotonic() + 60
    while await level() is not False:  # the service evaluates it: below the level, stored
        assert time.monotonic() < deadline, "the rule's level was never stored"
        await tick(producer, topics, "99")
        await asyncio.sleep(0.5)

    def stall_warnings() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.getMessage().startswith("firing stalled")
            and getattr(r, "rule_id", None) == rule_id
        ]

    rules = sql.Identifier(db_schema, "rules")
    async with db_pool.connection() as lock, lock.transaction():
        await lock.execute(
            sql.SQL("SELECT 1 FROM {} WHERE rule_id = %s FOR UPDATE").format(rules), (rule_id,)
        )
        await tick(producer, topics, "101")  # the crossing: its firing waits on our lock
        deadline = time.monotonic() + 30
        while True:
            status, body = await readyz(service)
            evaluation = body["checks"]["evaluation"]
            if status == 503 and evaluation.get("reason") == "evaluation_stalled":
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.2)
        assert evaluation["details"]["rule_id"] == rule_id
        assert evaluation["details"]["account_id"] == ACCOUNT
        assert evaluation["details"]["elapsed_s"] > 1.0
        # the warning says which rule and for how long, and is repeated while it lasts
        await until(lambda: len(stall_warnings()) >= 2, 10, "the stall warned twice")
        first, second = stall_warnings()[:2]
        assert first.elapsed_s > 1.0  # type: ignore[attr-defined]
        assert second.elapsed_s > first.elapsed_s  # type: ignore[attr-defined]
        assert oldest_firing_age((await service.http.get("/metrics")).text) > 1.0
        assert service.automation.fired == 0
    # the lock released: the firing goes through, evaluation is ready again
    await until(lambda: service.automation.fired == 1, 30, "the held firing stored")
    deadline = time.monotonic() + 30
    while (await readyz(service))[0] != 200:
        assert time.monotonic() < deadline, "still not ready after the stall ended"
        await asyncio.sleep(0.2)
    await until(
        lambda: any(r.getMessage() == "stalled firing done" for r in caplog.records),
        5,
        "the stall's end logged",
    )
    deadline = time.monotonic() + 5
    while oldest_firing_age((await service.http.get("/metrics")).text) != 0:
        assert time.monotonic() < deadline, "the gauge did not return to 0"
        await asyncio.sleep(0.2)


async def test_a_rule_whose_row_stays_locked_holds_no_other_rule_back_and_fires_once_after(
    start_service: Starter,
    producer: Producer,
    topics: Topics,
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="eip.automation.runtime")
    service = await start_service(firing_lock_timeout_s=1.0, firing_lock_retry_s=0.5)
    ids = []
    for name in ("locked", "free"):
        created = await service.http.post(
            "/v1/rules",
            json={"account_id": ACCOUNT, "name": name, "condition": above("100"),
                  "action": BUY_25_USDT},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        ids.append(created.json()["rule_id"])
    locked, free = ids

    async def query(text: str, *args: object) -> list[tuple[object, ...]]:
        async with db_pool.connection() as conn:
            cur = await conn.execute(sql.SQL(text).format(schema=sql.Identifier(db_schema)), args)
            return list(await cur.fetchall())

    async def firings() -> list[str]:
        rows = await query("SELECT firing_id FROM {schema}.firings ORDER BY firing_id")
        return [str(r[0]) for r in rows]

    deadline = time.monotonic() + 60
    while len(await query("SELECT 1 FROM {schema}.rule_state WHERE level = false")) < 2:
        assert time.monotonic() < deadline, "the rules' levels were never stored"
        await tick(producer, topics, "99")
        await asyncio.sleep(0.5)

    async with db_pool.connection() as lock, lock.transaction():
        await lock.execute(
            sql.SQL("SELECT 1 FROM {} WHERE rule_id = %s FOR UPDATE").format(
                sql.Identifier(db_schema, "rules")
            ),
            (locked,),
        )
        await tick(producer, topics, "101")  # one crossing for both; the market then quiet
        deadline = time.monotonic() + 15
        while await firings() != [f"{free}:1:e1"]:  # not held behind the locked one
            assert time.monotonic() < deadline, await firings()
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # several retries, each turned away again
        assert await firings() == [f"{free}:1:e1"]
        turned = [
            r for r in caplog.records
            if r.getMessage().startswith("firing turned away")
            and getattr(r, "rule_id", None) == locked
        ]  # fmt: skip
        assert len(turned) >= 2
    # the lock released, no further tick: the rule is taken back and fires, once
    deadline = time.monotonic() + 30
    while len(await firings()) < 2:
        assert time.monotonic() < deadline, "the locked rule never fired after the release"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # anything that would fire twice has had its chance
    assert await firings() == sorted([f"{free}:1:e1", f"{locked}:1:e1"])
    sent = [
        c.idempotency_key
        for c in await read_all(service.settings.kafka_bootstrap_servers, topics.commands)
        if isinstance(c, orders_pb2.OrderCommand)
    ]
    assert sorted(sent) == sorted([f"{free}:1:e1", f"{locked}:1:e1"])  # one command each
