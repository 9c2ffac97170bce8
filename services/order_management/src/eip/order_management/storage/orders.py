"""Orders, their events and fills, and the commands that made them, in PostgreSQL.

``write`` is the one way an order changes: in the caller's transaction it inserts or updates the
projection (``orders``, guarded by the version the change started from), appends the event
(``order_events``), queues its ``orders.events.v1`` record (``event_outbox``) and stages its
audit event (``audit_outbox``). All of it commits or none of it. ``chain_staged`` moves staged
audit events into the platform chain in batches (one acquisition of the chain's lock each), in
a transaction that deletes them: nothing staged is lost or chained twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from eip.audit import AuditDraft, AuditTrail
from eip.exchanges.contract.trading import VenueFill
from eip.order_management import wire
from eip.order_management.orders import (
    Order,
    OrderEventRecord,
    decode_fields,
    encode_fields,
)
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage.database import Database

_OUTCOMES = {
    Event.DENY: "denied",
    Event.V_REJECTED: "rejected",
    Event.DECLARE_LOST: "lost",
    Event.CANCEL_FAILED: "refused",
    Event.AMEND_FAILED: "refused",
}


# The unique keys a command that raced another with the same idempotency key breaks: the
# command's own, and its order's client order id (derived from the key).
KEY_TAKEN = frozenset({"commands_pkey", "orders_account_id_client_order_id_key"})


@dataclass(frozen=True, slots=True)
class Change:
    after: Order
    record: OrderEventRecord
    before: Order | None = None  # None: a new order
    fill: VenueFill | None = None  # the execution this change records, if any


@dataclass(frozen=True, slots=True)
class CommandRow:
    account_id: str
    idempotency_key: str
    kind: str
    request_hash: str
    order_id: str | None
    list_id: str | None
    result: Mapping[str, Any]
    requested_by: str
    created_at: datetime


def order_from_row(data: Mapping[str, Any], version: int) -> Order:
    fields = decode_fields(data)
    fields["version"] = version
    return Order(**fields)


class OrderRepository:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.t = db.t
        self.audit = audit
        self.expect_one = f'"{db.schema}".expect_one'

    # -- reading ------------------------------------------------------------------------------

    async def get(
        self, conn: AsyncConnection, order_id: str, *, lock: bool = False
    ) -> Order | None:
        return await (await self.reading(conn, order_id, lock=lock))()

    async def reading(
        self, conn: AsyncConnection, order_id: str, *, lock: bool = False
    ) -> Callable[[], Awaitable[Order | None]]:
        """``get`` in two halves: the statement is sent now, the returned function waits for
        its answer (in pipeline mode, reads sent together share one round trip)."""
        suffix = " FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE order_id = %s{suffix}", (order_id,)
        )

        async def answer() -> Order | None:
            row = await cursor.fetchone()
            return None if row is None else order_from_row(row[0], int(row[1]))

        return answer

    async def get_many(
        self, conn: AsyncConnection, order_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Order]:
        if not order_ids:
            return {}
        suffix = " ORDER BY order_id FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE order_id = ANY(%s::uuid[]){suffix}",
            (list(order_ids),),
        )
        orders = [order_from_row(data, int(version)) for data, version in await cursor.fetchall()]
        return {o.order_id: o for o in orders}

    async def by_client_id(
        self, conn: AsyncConnection, account_id: str, client_order_id: str, *, lock: bool = False
    ) -> Order | None:
        suffix = " FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders}"
            f" WHERE account_id = %s AND client_order_id = %s{suffix}",
            (account_id, client_order_id),
        )
        row = await cursor.fetchone()
        return None if row is None else order_from_row(row[0], int(row[1]))

    async def by_venue_id(
        self,
        conn: AsyncConnection,
        account_id: str,
        exchange: str,
        venue_order_id: str,
        *,
        lock: bool = False,
    ) -> Order | None:
        suffix = " FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE exchange = %s"
            f" AND venue_order_id = %s AND account_id = %s{suffix}",
            (exchange, venue_order_id, account_id),
        )
        row = await cursor.fetchone()
        return None if row is None else order_from_row(row[0], int(row[1]))

    async def open_orders(
        self,
        conn: AsyncConnection,
        *,
        partitions: Sequence[int] | None = None,
        account_id: str | None = None,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> list[Order]:
        clauses: list[str] = ["open"]
        params: list[Any] = []
        filters: list[tuple[str, Any]] = [
            ("partition", partitions),
            ("account_id", account_id),
            ("exchange", exchange),
            ("symbol", symbol),
        ]
        for column, value in filters:
            if value is None:
                continue
            if isinstance(value, list | tuple):
                clauses.append(f"{column} = ANY(%s)")
                params.append(list(value))
            else:
                clauses.append(f"{column} = %s")
                params.append(value)
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at, order_id",
            params,
        )
        return [order_from_row(data, int(version)) for data, version in await cursor.fetchall()]

    async def search(
        self,
        conn: AsyncConnection,
        *,
        account_ids: Sequence[str],
        exchange: str | None = None,
        symbol: str | None = None,
        states: Sequence[OrderState] | None = None,
        open_only: bool = False,
        list_id: str | None = None,
        idempotency_key: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[Order]:
        clauses = ["account_id = ANY(%s)"]
        params: list[Any] = [list(account_ids)]
        for column, value in (("exchange", exchange), ("symbol", symbol), ("list_id", list_id)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if idempotency_key is not None:
            clauses.append("data->>'idempotency_key' = %s")
            params.append(idempotency_key)
        if states:
            clauses.append("state = ANY(%s)")
            params.append([s.value for s in states])
        if open_only:
            clauses.append("open")
        if before is not None:
            clauses.append("(created_at, order_id) < (%s, %s::uuid)")
            params.extend(before)
        params.append(limit)
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at DESC, order_id DESC LIMIT %s",
            params,
        )
        return [order_from_row(data, int(version)) for data, version in await cursor.fetchall()]

    async def children(self, conn: AsyncConnection, *, list_id: str) -> list[Order]:
        cursor = await conn.execute(
            f"SELECT data, version FROM {self.t.orders} WHERE list_id = %s"
            " ORDER BY created_at, order_id",
            (list_id,),
        )
        return [order_from_row(data, int(version)) for data, version in await cursor.fetchall()]

    async def events(self, conn: AsyncConnection, order_id: str) -> list[OrderEventRecord]:
        cursor = await conn.execute(
            f"SELECT version, event, state, actor, time, changes FROM {self.t.order_events}"
            " WHERE order_id = %s ORDER BY version",
            (order_id,),
        )
        return [
            OrderEventRecord(order_id, int(v), Event(e), OrderState(s), a, t, c)
            for v, e, s, a, t, c in await cursor.fetchall()
        ]

    async def fills(self, conn: AsyncConnection, order_id: str) -> list[dict[str, Any]]:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            f"SELECT trade_id, venue_order_id, price, quantity, fee, fee_asset, liquidity, time"
            f" FROM {self.t.order_fills} WHERE order_id = %s ORDER BY time, trade_id",
            (order_id,),
        )
        return list(await cursor.fetchall())

    async def fill_totals(self, conn: AsyncConnection, order_id: str) -> tuple[Decimal, Decimal]:
        """(quantity, quantity x price) of the fills stored for an order."""
        return await (await self.reading_fill_totals(conn, order_id))()

    async def reading_fill_totals(
        self, conn: AsyncConnection, order_id: str
    ) -> Callable[[], Awaitable[tuple[Decimal, Decimal]]]:
        """``fill_totals`` in two halves, like ``reading``."""
        cursor = await conn.execute(
            f"SELECT coalesce(sum(quantity), 0), coalesce(sum(quantity * price), 0)"
            f" FROM {self.t.order_fills} WHERE order_id = %s",
            (order_id,),
        )

        async def answer() -> tuple[Decimal, Decimal]:
            row = await cursor.fetchone()
            assert row is not None
            return Decimal(row[0]), Decimal(row[1])

        return answer

    # -- writing ------------------------------------------------------------------------------

    async def add_fill(self, conn: AsyncConnection, order_id: str, fill: VenueFill) -> bool:
        """Store an execution once; False if it was stored before (a replay)."""
        cursor = await conn.execute(
            f"INSERT INTO {self.t.order_fills} (order_id, trade_id, venue_order_id, price,"
            " quantity, fee, fee_asset, liquidity, time)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (
                order_id,
                fill.trade_id,
                fill.venue_order_id,
                fill.price,
                fill.quantity,
                fill.fee,
                fill.fee_asset,
                fill.liquidity,
                fill.time,
            ),
        )
        return await cursor.fetchone() is not None  # fetched: in pipeline mode it syncs

    async def write(self, conn: AsyncConnection, changes: Iterable[Change]) -> int:
        """Store ``changes`` in the caller's transaction, as statements sent without waiting for
        their answers (in pipeline mode they leave together, with the COMMIT). An order that
        moved since it was read fails its update on the server (``expect_one``, migration 0003:
        serialization_failure, so the ledger runs the transaction again), which aborts the
        transaction. Returns how many audit events were staged (``chain_staged`` chains them
        after the commit)."""
        changes = list(changes)
        if not changes:
            return 0
        news = [c for c in changes if c.before is None]
        if news:
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    f"INSERT INTO {self.t.orders} (order_id, account_id, exchange, symbol,"
                    " partition, client_order_id, venue_order_id, state, version, open, list_id,"
                    " parent_id, data, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            o.order_id,
                            o.account_id,
                            o.exchange,
                            o.symbol,
                            o.partition,
                            o.client_order_id,
                            o.venue_order_id,
                            o.state.value,
                            o.version,
                            o.is_open,
                            o.list_id,
                            o.parent_id,
                            Jsonb(_data(o)),
                            o.created_at,
                            o.updated_at,
                        )
                        for o in (c.after for c in news)
                    ],
                )
        for change in changes:
            if change.before is None:
                continue
            order = change.after
            # guarded by the version the change started from, on the server
            await conn.execute(
                f"WITH changed AS (UPDATE {self.t.orders} SET venue_order_id = %s, state = %s,"
                " version = %s, open = %s, data = %s, updated_at = %s"
                " WHERE order_id = %s AND version = %s RETURNING 1)"
                f" SELECT {self.expect_one}((SELECT count(*) FROM changed), %s, %s)",
                (
                    order.venue_order_id,
                    order.state.value,
                    order.version,
                    order.is_open,
                    Jsonb(_data(order)),
                    order.updated_at,
                    order.order_id,
                    change.before.version,
                    order.order_id,
                    change.before.version,
                ),
            )
        async with conn.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO {self.t.order_events} (order_id, version, event, state, actor, time,"
                " changes) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        c.record.order_id,
                        c.record.version,
                        c.record.event.value,
                        c.record.state.value,
                        c.record.actor,
                        c.record.time,
                        Jsonb(dict(c.record.changes)),
                    )
                    for c in changes
                ],
            )
            await cursor.executemany(
                f"INSERT INTO {self.t.event_outbox} (partition, order_id, version, payload)"
                " VALUES (%s, %s, %s, %s)",
                [
                    (
                        c.after.partition,
                        c.after.order_id,
                        c.after.version,
                        wire.order_event(c.after, c.record, c.fill).SerializeToString(),
                    )
                    for c in changes
                ],
            )
            # the audit events are staged with the change, not chained here: chaining takes the
            # platform chain's lock until the commit, which serialized every order transaction
            # of every instance (and auth's) on it; ``chain_staged`` chains them in batches
            await cursor.executemany(
                f"INSERT INTO {self.t.audit_outbox} (actor, action, subject, outcome, details,"
                " time) VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        c.record.actor,
                        f"order.{c.record.event.value}",
                        c.after.order_id,
                        _OUTCOMES.get(c.record.event, "success"),
                        Jsonb(_audit_details(c)),
                        c.record.time,
                    )
                    for c in changes
                ],
            )
        return len(changes)

    async def chain_staged(self, limit: int = 500) -> int:
        """Chain up to ``limit`` staged audit events (oldest first) into the audit trail, in one
        transaction that deletes them: each is chained exactly once, whichever instance runs
        it, and one acquisition of the chain's lock covers the batch. Returns how many."""
        # pipeline mode: the BEGIN and the batch's read leave together, and the chain's
        # writes, the DELETE and the COMMIT in one go after the chain head is read
        async with self.db.connection() as conn, conn.pipeline(), conn.transaction():
            # SKIP LOCKED: two instances chaining at once take disjoint batches, neither waits
            cursor = await conn.execute(
                f"SELECT id, actor, action, subject, outcome, details, time"
                f" FROM {self.t.audit_outbox} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,),
            )
            rows = await cursor.fetchall()
            if not rows:
                return 0
            await self.audit.append_many(
                conn,
                [
                    AuditDraft(
                        str(actor),
                        str(action),
                        str(subject),
                        str(outcome),
                        {str(k): str(v) for k, v in details.items()},
                        time,
                    )
                    for _, actor, action, subject, outcome, details, time in rows
                ],
            )
            await conn.execute(
                f"DELETE FROM {self.t.audit_outbox} WHERE id = ANY(%s)", ([r[0] for r in rows],)
            )
        return len(rows)

    # -- commands -----------------------------------------------------------------------------

    async def command(
        self, conn: AsyncConnection, account_id: str, idempotency_key: str
    ) -> CommandRow | None:
        cursor = await conn.execute(
            f"SELECT kind, request_hash, order_id, list_id, result, requested_by, created_at"
            f" FROM {self.t.commands} WHERE account_id = %s AND idempotency_key = %s",
            (account_id, idempotency_key),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        kind, request_hash, order_id, list_id, result, requested_by, created_at = row
        return CommandRow(
            account_id,
            idempotency_key,
            kind,
            request_hash,
            None if order_id is None else str(order_id),
            None if list_id is None else str(list_id),
            result,
            requested_by,
            created_at,
        )

    async def record_command(self, conn: AsyncConnection, row: CommandRow) -> None:
        """Remember a command by its key. A key taken meanwhile (the same command on two paths
        at once) is the primary key's ``UniqueViolation`` (``KEY_TAKEN``), raised when the
        statement is answered — in pipeline mode at the transaction's next sync — and the
        transaction rolls back."""
        await conn.execute(
            f"INSERT INTO {self.t.commands} (account_id, idempotency_key, kind, request_hash,"
            " order_id, list_id, result, requested_by, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.account_id,
                row.idempotency_key,
                row.kind,
                row.request_hash,
                row.order_id,
                row.list_id,
                Jsonb(dict(row.result)),
                row.requested_by,
                row.created_at,
            ),
        )

    async def notify_command(self, conn: AsyncConnection, account_id: str, key: str) -> None:
        """Wake HTTP callers waiting on another instance for this command (sent at commit)."""
        await conn.execute(
            "SELECT pg_notify(%s, %s)",
            (f"{self.db.schema}_commands", json.dumps([account_id, key])),
        )


def _data(order: Order) -> dict[str, Any]:
    fields = {
        name: getattr(order, name) for name in order.__dataclass_fields__ if name != "version"
    }
    return encode_fields(fields)


def _audit_details(change: Change) -> dict[str, str]:
    order = change.after
    details = {
        "account_id": order.account_id,
        "exchange": order.exchange,
        "symbol": order.symbol,
        "state": order.state.value,
        "version": str(order.version),
        "client_order_id": order.client_order_id,
    }
    if order.denial is not None and change.record.event is Event.DENY:
        details["denial"] = order.denial.code
    if order.reason and order.reason != (change.before.reason if change.before else ""):
        details["reason"] = order.reason[:200]
    if change.fill is not None:
        details["trade_id"] = change.fill.trade_id
        details["fill_quantity"] = str(change.fill.quantity)
        details["fill_price"] = str(change.fill.price)
    if order.adopted and change.before is None:
        details["adopted"] = "true"
    return details
