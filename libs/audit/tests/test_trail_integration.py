"""The audit trail on real PostgreSQL: concurrent writers cannot fork the chain, and the verify
command (run as its own process) finds an edited or deleted row and exits non-zero."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.audit import MIGRATIONS, AuditDraft, AuditQuery, AuditTrail
from eip.bus import Producer, ProducerConfig
from eip.events.topics import AUDIT_EVENTS, TopicSpec
from eip.events.v1 import auth_pb2
from eip.storage import apply_migrations

pytestmark = pytest.mark.integration


Verify = Callable[[str], subprocess.CompletedProcess[str]]


@pytest.fixture
def run_verify(database_url: str) -> Verify:
    """``python -m eip.audit verify`` on a schema; the URL (with its password) stays out of the
    test's arguments, so a failing assertion never prints it."""

    def run(schema: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "eip.audit", "verify", "--schema", schema],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


async def test_concurrent_appends_keep_one_chain(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> None:
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
    trail = AuditTrail(db_schema)

    async def writer(n: int) -> None:
        for i in range(10):
            async with db_pool.connection() as conn:
                await trail.record(conn, actor=f"w{n}", action="order.place", subject=f"o{n}-{i}")

    await asyncio.gather(*(writer(n) for n in range(5)))  # 5 writers on 5 connections
    async with db_pool.connection() as conn:
        checked, broken = await trail.verify(conn)
        page = await trail.query(conn, AuditQuery(actor="w3", limit=4))
        rest = await trail.query(
            conn, AuditQuery(actor="w3", after_sequence=page[-1].sequence, limit=100)
        )
    assert (checked, broken) == (50, None)
    assert len(page) == 4
    assert len(rest) == 6
    assert all(e.actor == "w3" for e in page + rest)


async def test_batches_and_single_appends_from_concurrent_writers_keep_one_chain(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> None:
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
    trail = AuditTrail(db_schema)
    happened = datetime(2026, 12, 7, 15, 0, 0, 123456, tzinfo=UTC)

    async def batcher(n: int) -> None:
        for i in range(5):
            drafts = [
                AuditDraft(f"b{n}", "order.place", f"o{n}-{i}-{j}", time=happened) for j in range(7)
            ]
            async with db_pool.connection() as conn, conn.transaction():
                chained = await trail.append_many(conn, drafts)
            assert [e.subject for e in chained] == [d.subject for d in drafts]
            assert [e.sequence for e in chained] == list(
                range(chained[0].sequence, chained[0].sequence + 7)
            )

    async def single(n: int) -> None:
        for i in range(10):
            async with db_pool.connection() as conn:
                await trail.record(conn, actor=f"s{n}", action="credential.use", subject=f"c{i}")

    await asyncio.gather(batcher(0), batcher(1), single(0), single(1))
    async with db_pool.connection() as conn:
        checked, broken = await trail.verify(conn)
        batched = await trail.query(conn, AuditQuery(actor="b1", limit=100))
        async with conn.transaction():
            assert await trail.append_many(conn, []) == []
    assert (checked, broken) == (2 * 5 * 7 + 2 * 10, None)
    assert len(batched) == 35
    assert {e.time for e in batched} == {happened}  # a staged event keeps when it happened


async def test_verify_command_finds_an_edited_row(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str, run_verify: Verify
) -> None:
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
        trail = AuditTrail(db_schema)
        for i in range(6):
            await trail.record(conn, actor="svc", action="credential.use", subject=f"c{i}")
    ok = run_verify(db_schema)
    assert ok.returncode == 0, ok.stderr
    assert "OK: 6 events" in ok.stdout

    table = sql.Identifier(db_schema, "audit_events")
    async with db_pool.connection() as conn:
        await conn.execute(
            sql.SQL("UPDATE {} SET outcome = 'denied' WHERE sequence = 4").format(table)
        )
    broken = run_verify(db_schema)
    assert broken.returncode == 1
    assert "BROKEN at sequence 4" in broken.stdout
    assert "3 events before it verified" in broken.stdout

    async with db_pool.connection() as conn:  # undo the edit, delete a row instead
        await conn.execute(
            sql.SQL("UPDATE {} SET outcome = 'success' WHERE sequence = 4").format(table)
        )
    assert run_verify(db_schema).returncode == 0
    async with db_pool.connection() as conn:
        await conn.execute(sql.SQL("DELETE FROM {} WHERE sequence = 2").format(table))
    deleted = run_verify(db_schema)
    assert deleted.returncode == 1
    assert "BROKEN at sequence 2" in deleted.stdout

    missing = run_verify(f"{db_schema}_nope")
    assert missing.returncode == 2


async def test_relay_publishes_each_committed_event_once_and_catches_up(
    db_pool: AsyncConnectionPool[AsyncConnection],
    db_schema: str,
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    kafka_bootstrap_servers: str,
) -> None:
    topic = await make_topic(AUDIT_EVENTS)
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
    # First, no Kafka at all: the events commit, the copy waits.
    offline = AuditTrail(db_schema, None, topic, pool=db_pool)
    async with db_pool.connection() as conn:
        for i in range(3):
            await offline.record(conn, actor="svc", action="order.place", subject=f"o{i}")
    producer = Producer(ProducerConfig(kafka_bootstrap_servers, client_id="audit-relay-test"))
    await producer.start()
    try:
        trail = AuditTrail(db_schema, producer, topic, pool=db_pool)
        assert await trail.relay() == 3  # caught up
        assert await trail.relay() == 0  # and not again
        async with db_pool.connection() as conn:
            await trail.record(conn, actor="svc", action="order.cancel", subject="o0")
        assert await trail.relay() == 0  # record() already relayed it
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen: list[auth_pb2.AuditEvent] = []
        deadline = asyncio.get_running_loop().time() + 20
        while len(seen) < 4 and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    event = auth_pb2.AuditEvent()
                    event.ParseFromString(r.value)
                    seen.append(event)
    finally:
        await consumer.stop()
    assert [e.sequence for e in seen] == [1, 2, 3, 4]
    assert [e.action for e in seen] == ["order.place"] * 3 + ["order.cancel"]
    assert all(e.hash and e.prev_hash for e in seen)
    assert seen[1].prev_hash == seen[0].hash
