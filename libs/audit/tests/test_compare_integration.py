"""``python -m eip.audit compare`` (run as its own process) against real PostgreSQL and Kafka:
a truncated tail that ``verify`` cannot see, a rewritten chain, relay lag, and what it cannot
check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.audit import MIGRATIONS, AuditTrail, compute_hash
from eip.bus import Producer
from eip.events.topics import AUDIT_EVENTS, TopicSpec
from eip.storage import apply_migrations

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]
Pool = AsyncConnectionPool[AsyncConnection]


@pytest.fixture
def run_audit(database_url: str, kafka_bootstrap_servers: str) -> Run:
    """``python -m eip.audit <args>``; a closure, so the database URL (with its password) is
    never a test argument a failure would print."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "eip.audit", *args],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                **env,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


async def relayed_trail(
    db_pool: Pool, db_schema: str, producer: Producer, topic: TopicSpec, events: int
) -> AuditTrail:
    async with db_pool.connection() as conn:
        await apply_migrations(conn, MIGRATIONS, db_schema)
    trail = AuditTrail(db_schema, producer, topic, pool=db_pool)
    async with db_pool.connection() as conn:
        for i in range(events):
            await trail.record(conn, actor="svc", action="credential.use", subject=f"c{i}")
    while await trail.relay() > 0:  # record() relays; make sure nothing is left behind
        pass
    return trail


async def test_compare_finds_the_truncated_tail_that_verify_cannot(
    db_pool: Pool,
    db_schema: str,
    producer: Producer,
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    run_audit: Run,
) -> None:
    topic = await make_topic(AUDIT_EVENTS)
    await relayed_trail(db_pool, db_schema, producer, topic, 6)
    ok = run_audit("compare", "--schema", db_schema, "--topic", topic.name)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: 6 events on Kafka match PostgreSQL" in ok.stdout
    assert "lag: 0 events" in ok.stdout

    async with db_pool.connection() as conn:  # the newest two rows go
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE sequence > 4").format(
                sql.Identifier(db_schema, "audit_events")
            )
        )
    verify = run_audit("verify", "--schema", db_schema)
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the chain alone still holds
    assert "OK: 4 events, chain intact" in verify.stdout

    truncated = run_audit("compare", "--schema", db_schema, "--topic", topic.name)
    assert truncated.returncode == 1, truncated.stdout + truncated.stderr
    assert "DISCREPANCY at sequence 5: missing from PostgreSQL" in truncated.stdout
    assert "DELETED: 2 events on Kafka are missing from PostgreSQL (sequences 5-6)" in (
        truncated.stdout
    )


async def test_compare_finds_a_rewritten_chain_and_reports_lag_without_failing(
    db_pool: Pool,
    db_schema: str,
    producer: Producer,
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    run_audit: Run,
) -> None:
    topic = await make_topic(AUDIT_EVENTS)
    trail = await relayed_trail(db_pool, db_schema, producer, topic, 5)
    # Two more events committed while Kafka is away: not relayed yet, which is no discrepancy.
    offline = AuditTrail(db_schema, None, topic, pool=db_pool)
    async with db_pool.connection() as conn:
        for i in range(2):
            await offline.record(conn, actor="svc", action="order.place", subject=f"o{i}")
    lagging = run_audit("compare", "--schema", db_schema, "--topic", topic.name)
    assert lagging.returncode == 0, lagging.stdout + lagging.stderr
    assert "lag: 2 events in PostgreSQL after sequence 5 not relayed yet" in lagging.stdout

    # Rewrite the chain from sequence 3 on with fresh, consistent hashes: verify is fooled.
    async with db_pool.connection() as conn:
        entries = await trail.by_sequence(conn, range(1, 8))
        prev = entries[2].hash  # sequence 2 stays
        table = sql.Identifier(db_schema, "audit_events")
        for sequence in range(3, 8):
            edited = replace(
                entries[sequence],
                subject="nothing-to-see" if sequence == 3 else entries[sequence].subject,
                prev_hash=prev,
            )
            edited = replace(edited, hash=compute_hash(edited))
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET subject = %s, prev_hash = %s, hash = %s WHERE sequence = %s"
                ).format(table),
                (edited.subject, edited.prev_hash, edited.hash, sequence),
            )
            prev = edited.hash
    assert run_audit("verify", "--schema", db_schema).returncode == 0
    rewritten = run_audit("compare", "--schema", db_schema, "--topic", topic.name)
    assert rewritten.returncode == 1, rewritten.stdout + rewritten.stderr
    assert "EDITED: 3 events differ between Kafka and PostgreSQL (sequences 3-5)" in (
        rewritten.stdout
    )
    assert "DISCREPANCY at sequence 3: edited" in rewritten.stdout


async def test_compare_exits_2_when_it_cannot_check(
    db_pool: Pool,
    db_schema: str,
    producer: Producer,
    make_topic: Callable[[TopicSpec], Awaitable[TopicSpec]],
    run_audit: Run,
) -> None:
    topic = await make_topic(AUDIT_EVENTS)
    await relayed_trail(db_pool, db_schema, producer, topic, 1)
    no_schema = run_audit("compare", "--schema", f"{db_schema}_nope", "--topic", topic.name)
    assert no_schema.returncode == 2
    assert "no audit trail in schema" in no_schema.stderr
    no_topic = run_audit("compare", "--schema", db_schema, "--topic", f"{topic.name}.nope")
    assert no_topic.returncode == 2
    assert "no topic" in no_topic.stderr
    no_kafka = run_audit(
        "compare",
        "--schema",
        db_schema,
        "--topic",
        topic.name,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
    )
    assert no_kafka.returncode == 2
    assert "did not answer" in no_kafka.stderr
    no_database = run_audit("compare", "--schema", db_schema, DATABASE_URL="")
    assert no_database.returncode == 2
    assert "DATABASE_URL is empty" in no_database.stderr
