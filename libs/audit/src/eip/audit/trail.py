"""Appending to and reading the audit trail in PostgreSQL, and mirroring it to Kafka.

Appends are serialized by a transaction-scoped advisory lock per chain (schema), taken before
the chain head is read, so two writers — threads, processes or services — can never both
extend the same head and fork the chain. ``append`` runs inside the caller's transaction: the
audit row commits or rolls back with the change it describes. ``append_many`` chains a batch
under one acquisition of the lock — for writers that stage events in their own transactions and
chain them later (order management's ``audit_outbox``), so the lock is not taken per change.

The Kafka copy (``audit.events.v1``) is published after the commit, by a relay that reads the
chain from a cursor (``audit_publish_cursor``) and advances it only once the broker has
acknowledged: PostgreSQL is the record of truth, a Kafka outage delays the copy and never
loses it or fails the action. One relay at a time holds the cursor (``FOR UPDATE SKIP
LOCKED``); delivery is at-least-once, so consumers deduplicate by ``event_id``/``sequence``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from eip.audit.chain import GENESIS_HASH, AuditEntry, BrokenLink, compute_hash, verify_chain
from eip.bus import Producer
from eip.events.topics import AUDIT_EVENTS, TopicSpec
from eip.events.v1 import auth_pb2

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_NAMESPACE = 0x41554454  # "AUDT": keeps the chain lock apart from other advisory locks

AUDIT_APPENDED = Counter("eip_audit_events_total", "Audit events appended", ["action", "outcome"])
AUDIT_PUBLISH_FAILED = Counter(
    "eip_audit_publish_failures_total", "Audit events committed but not mirrored to Kafka"
)


def _lock_id(schema: str) -> int:
    return _LOCK_NAMESPACE ^ int(hashlib.sha256(schema.encode()).hexdigest()[:7], 16)


def _now() -> datetime:
    # Python's microseconds are what PostgreSQL keeps, so the hash survives the round trip.
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditDraft:
    """An event not chained yet: ``append_many`` gives it its sequence, hashes and id. ``time``
    is when it happened (an event staged earlier keeps its own time); None: now."""

    actor: str
    action: str
    subject: str
    outcome: str = "success"
    details: Mapping[str, str] = field(default_factory=dict)
    time: datetime | None = None


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_sequence: int = 0
    limit: int = 100


def to_proto(entry: AuditEntry) -> auth_pb2.AuditEvent:
    ts = Timestamp()
    ts.FromDatetime(entry.time)
    return auth_pb2.AuditEvent(
        event_id=entry.event_id,
        sequence=entry.sequence,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        time=ts,
        outcome=entry.outcome,
        details=dict(entry.details),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


class AuditTrail:
    def __init__(
        self,
        schema: str,
        producer: Producer | None = None,
        topic: TopicSpec = AUDIT_EVENTS,
        pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None,
    ) -> None:
        self.schema = schema
        self.producer = producer
        self.topic = topic
        # With a pool, publish() runs the relay (cursor-tracked, retried by relay loops);
        # without one it publishes the given entries directly, best effort.
        self.pool = pool
        self._table = sql.Identifier(schema, "audit_events")
        self._cursor = sql.Identifier(schema, "audit_publish_cursor")

    async def append(
        self,
        conn: AsyncConnection[Any],
        *,
        actor: str,
        action: str,
        subject: str,
        outcome: str = "success",
        details: Mapping[str, str] | None = None,
    ) -> AuditEntry:
        """Extend the chain inside the caller's open transaction."""
        draft = AuditDraft(actor, action, subject, outcome, details or {})
        return (await self.append_many(conn, [draft]))[0]

    async def append_many(
        self, conn: AsyncConnection[Any], drafts: Sequence[AuditDraft]
    ) -> list[AuditEntry]:
        """Extend the chain by ``drafts``, in their order, inside the caller's open transaction:
        one lock acquisition and one head read for the whole batch, so a writer that stages
        its events (an outbox) pays the chain's serialization once per batch, not per event."""
        if conn.info.transaction_status == TransactionStatus.IDLE:
            raise RuntimeError("AuditTrail.append must run inside a transaction")
        if not drafts:
            return []
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id(self.schema),))
        cursor = await conn.execute(
            sql.SQL("SELECT sequence, hash FROM {} ORDER BY sequence DESC LIMIT 1").format(
                self._table
            )
        )
        head = await cursor.fetchone()
        sequence, prev_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        entries: list[AuditEntry] = []
        for draft in drafts:
            sequence += 1
            entry = AuditEntry(
                event_id=str(uuid.uuid4()),
                sequence=sequence,
                actor=draft.actor,
                action=draft.action,
                subject=draft.subject,
                time=draft.time or _now(),
                outcome=draft.outcome,
                details={str(k): str(v) for k, v in draft.details.items()},
                prev_hash=prev_hash,
            )
            entry = replace(entry, hash=compute_hash(entry))
            entries.append(entry)
            prev_hash = entry.hash
        async with conn.cursor() as insert:
            await insert.executemany(
                sql.SQL(
                    "INSERT INTO {} (sequence, event_id, actor, action, subject, time, outcome,"
                    " details, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(self._table),
                [
                    (
                        e.sequence,
                        e.event_id,
                        e.actor,
                        e.action,
                        e.subject,
                        e.time,
                        e.outcome,
                        json.dumps(dict(e.details)),
                        e.prev_hash,
                        e.hash,
                    )
                    for e in entries
                ],
            )
        for e in entries:
            AUDIT_APPENDED.labels(e.action, e.outcome).inc()
        return entries

    async def publish(self, entries: Sequence[AuditEntry]) -> None:
        """Mirror committed entries to Kafka (key: actor); call after the commit."""
        if self.producer is None:
            return
        if self.pool is not None:
            try:
                await self.relay()
            except Exception as exc:  # the relay loop will catch up
                AUDIT_PUBLISH_FAILED.inc()
                log.error("audit events not published yet", extra={"error": type(exc).__name__})
            return
        for entry in entries:
            try:
                await self.producer.publish(self.topic, entry.actor.encode(), to_proto(entry))
            except Exception as exc:  # the PostgreSQL row is the record; say it loudly
                AUDIT_PUBLISH_FAILED.inc()
                log.error(
                    "audit event committed but not published",
                    extra={"sequence": entry.sequence, "error": type(exc).__name__},
                )

    async def relay(self, batch: int = 500) -> int:
        """Publish committed events past the cursor, then advance it; returns how many.

        Raises if Kafka fails: the transaction rolls back, the cursor stays, and the next call
        publishes the same events again (at-least-once).
        """
        if self.pool is None or self.producer is None:
            return 0
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                sql.SQL("SELECT last_sequence FROM {} WHERE id = 1 FOR UPDATE SKIP LOCKED").format(
                    self._cursor
                )
            )
            row = await cursor.fetchone()
            if row is None:
                return 0  # another relay holds the cursor and will publish these
            events = await self.query(conn, AuditQuery(after_sequence=int(row[0]), limit=batch))
            for entry in events:
                await self.producer.publish(self.topic, entry.actor.encode(), to_proto(entry))
            if events:
                await conn.execute(
                    sql.SQL("UPDATE {} SET last_sequence = %s WHERE id = 1").format(self._cursor),
                    (events[-1].sequence,),
                )
        return len(events)

    async def relay_forever(self, interval_s: float = 5.0) -> None:
        """Catch the Kafka copy up after outages; run as a background task."""
        while True:
            try:
                while await self.relay() > 0:
                    pass
            except Exception as exc:
                AUDIT_PUBLISH_FAILED.inc()
                log.warning("audit relay failed, will retry", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval_s)

    async def record(
        self,
        conn: AsyncConnection[Any],
        *,
        actor: str,
        action: str,
        subject: str,
        outcome: str = "success",
        details: Mapping[str, str] | None = None,
    ) -> AuditEntry:
        """Append in a transaction of its own, then publish: for actions with no other write."""
        if conn.info.transaction_status != TransactionStatus.IDLE:  # ours: only a savepoint
            raise RuntimeError("AuditTrail.record needs a connection outside a transaction")
        async with conn.transaction():
            entry = await self.append(
                conn,
                actor=actor,
                action=action,
                subject=subject,
                outcome=outcome,
                details=details,
            )
        await self.publish([entry])
        return entry

    async def batches(
        self, conn: AsyncConnection[Any], batch: int = 1000
    ) -> AsyncIterator[list[AuditEntry]]:
        after = 0
        while True:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL("SELECT * FROM {} WHERE sequence > %s ORDER BY sequence LIMIT %s").format(
                    self._table
                ),
                (after, batch),
            )
            rows = await cursor.fetchall()
            if not rows:
                return
            yield [_entry(row) for row in rows]
            after = int(rows[-1]["sequence"])

    async def verify(self, conn: AsyncConnection[Any]) -> tuple[int, BrokenLink | None]:
        """(events checked, first broken link or None), reading the chain in batches."""
        checked, prev_hash, next_seq = 0, GENESIS_HASH, 1
        async for entries in self.batches(conn):
            broken = verify_chain(entries, prev_hash, next_seq)
            if broken is not None:
                # sequences are contiguous from 1 up to the break, so all before it held
                return broken.sequence - 1, broken
            checked += len(entries)
            prev_hash, next_seq = entries[-1].hash, entries[-1].sequence + 1
        return checked, None

    async def by_sequence(
        self, conn: AsyncConnection[Any], sequences: Sequence[int]
    ) -> dict[int, AuditEntry]:
        """The events with these sequence numbers that exist, by sequence."""
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            sql.SQL("SELECT * FROM {} WHERE sequence = ANY(%s)").format(self._table),
            (list(sequences),),
        )
        return {int(row["sequence"]): _entry(row) for row in await cursor.fetchall()}

    async def count(
        self, conn: AsyncConnection[Any], after: int = 0, up_to: int | None = None
    ) -> int:
        """How many events have ``after < sequence <= up_to`` (no upper bound by default)."""
        cursor = await conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE sequence > %s"
                " AND (%s::bigint IS NULL OR sequence <= %s::bigint)"
            ).format(self._table),
            (after, up_to, up_to),
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def query(self, conn: AsyncConnection[Any], q: AuditQuery) -> list[AuditEntry]:
        clauses: list[sql.Composable] = [sql.SQL("sequence > %s")]
        params: list[Any] = [q.after_sequence]
        for column, value in (
            ("actor", q.actor),
            ("action", q.action),
            ("subject", q.subject),
            ("outcome", q.outcome),
        ):
            if value is not None:
                clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        if q.since is not None:
            clauses.append(sql.SQL("time >= %s"))
            params.append(q.since)
        if q.until is not None:
            clauses.append(sql.SQL("time < %s"))
            params.append(q.until)
        params.append(q.limit)
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            sql.SQL("SELECT * FROM {} WHERE {} ORDER BY sequence LIMIT %s").format(
                self._table, sql.SQL(" AND ").join(clauses)
            ),
            params,
        )
        return [_entry(row) for row in await cursor.fetchall()]


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    details = row["details"]
    if isinstance(details, str):
        details = json.loads(details)
    return AuditEntry(
        event_id=str(row["event_id"]),
        sequence=int(row["sequence"]),
        actor=str(row["actor"]),
        action=str(row["action"]),
        subject=str(row["subject"]),
        time=row["time"],
        outcome=str(row["outcome"]),
        details={str(k): str(v) for k, v in details.items()},
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
    )
