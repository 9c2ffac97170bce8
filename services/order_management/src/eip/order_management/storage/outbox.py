"""The outbox of venue calls (placements, cancels, amends) and of ``orders.events.v1`` records.

Venue calls: a row is queued in the transaction that decides the call (the order's PENDING_NEW,
PENDING_CANCEL, PENDING_AMEND), claimed in the transaction that checks the partition's lease and
marks the order sent (``state = 'sending'``, the claimer's epoch and the database's time), and
deleted in the transaction that records the venue's answer. A row left ``sending`` by an
instance that died, or marked ``in_doubt`` after a lost answer, is never claimed again as it is:
the venue is asked what happened first (``eip.order_management.sender``). One row per order is
worked at a time, oldest first, so a cancel queued behind a placement waits for it.

Event records: serialized ``OrderEvent`` bytes queued with each change, published per partition
by its owner in id order (one order's events commit in version order, so they leave in it) and
deleted once Kafka acknowledged them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from eip.order_management.orders import Order
from eip.order_management.storage.database import Database
from eip.order_management.storage.orders import order_from_row

Action = Literal["place", "place_oco", "cancel", "amend"]
RowState = Literal["ready", "sending", "in_doubt"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    order_id: str
    partition: int
    action: Action
    payload: Mapping[str, Any]
    state: RowState
    claimed_epoch: int | None
    claimed_at: datetime | None
    attempts: int


_COLUMNS = "id, order_id, partition, action, payload, state, claimed_epoch, claimed_at, attempts"
_X_COLUMNS = ", ".join(f"x.{c}" for c in _COLUMNS.split(", "))


def _row(values: Sequence[Any]) -> OutboxRow:
    id_, order_id, partition, action, payload, state, epoch, claimed_at, attempts = values
    return OutboxRow(
        int(id_),
        str(order_id),
        int(partition),
        action,
        payload,
        state,
        None if epoch is None else int(epoch),
        claimed_at,
        int(attempts),
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = db.t.outbox
        self.events = db.t.event_outbox

    async def enqueue(
        self,
        conn: AsyncConnection,
        order_id: str,
        partition: int,
        action: Action,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        # nothing fetched: in the ledger's pipeline it leaves with the transaction's writes
        await conn.execute(
            f"INSERT INTO {self.table} (order_id, partition, action, payload)"
            " VALUES (%s, %s, %s, %s)",
            (order_id, partition, action, Jsonb(dict(payload or {}))),
        )

    async def claimable(
        self, conn: AsyncConnection, partitions: Sequence[int], limit: int
    ) -> list[OutboxRow]:
        """Ready rows of ``partitions``, each the oldest unfinished row of its order (a look,
        not a claim: ``lock_claimable`` claims)."""
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} o WHERE o.partition = ANY(%s)"
            " AND o.state = 'ready' AND o.not_before <= now()"
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.order_id = o.order_id"
            " AND e.id < o.id)"
            " ORDER BY o.not_before, o.id LIMIT %s",
            (list(partitions), limit),
        )
        return [_row(r) for r in await cursor.fetchall()]

    async def lock_claimable(
        self, conn: AsyncConnection, partition: int, limit: int
    ) -> tuple[list[tuple[OutboxRow, Order]], datetime | None]:
        """The partition's ready calls, each the oldest unfinished one of its order, with their
        orders, both locked for this transaction — rows another transaction holds (the call or
        its order) skipped, never waited for — and the transaction's time (``now()``, what
        ``mark_sending`` stamps). One statement: it replaced a read, a lock of the orders and a
        lock of the calls (three round trips)."""
        cursor = await conn.execute(
            f"SELECT {_X_COLUMNS}, o.data, o.version, now() FROM {self.table} x"
            f" JOIN {self.db.t.orders} o ON o.order_id = x.order_id"
            " WHERE x.partition = %s AND x.state = 'ready' AND x.not_before <= now()"
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.order_id = x.order_id"
            " AND e.id < x.id)"
            " ORDER BY x.not_before, x.id LIMIT %s FOR UPDATE OF o, x SKIP LOCKED",
            (partition, limit),
        )
        rows = await cursor.fetchall()
        picked = [(_row(r[:9]), order_from_row(r[9], int(r[10]))) for r in rows]
        return picked, (rows[0][11] if rows else None)

    async def mark_sending(self, conn: AsyncConnection, ids: Sequence[int], epoch: int) -> None:
        """Claim these calls with their partition's epoch at the transaction's time (the
        database's clock, which every instance shares; ``lock_claimable`` returned it)."""
        if ids:
            await conn.execute(
                f"UPDATE {self.table} SET state = 'sending', claimed_epoch = %s,"
                " claimed_at = now(), attempts = attempts + 1 WHERE id = ANY(%s)",
                (epoch, list(ids)),
            )

    async def for_order(self, conn: AsyncConnection, order_id: str) -> list[OutboxRow]:
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE order_id = %s ORDER BY id", (order_id,)
        )
        return [_row(r) for r in await cursor.fetchall()]

    async def placing(self, conn: AsyncConnection, order_ids: Sequence[str]) -> set[str]:
        """Those of ``order_ids`` whose placement is still in the outbox (queued, on its way or
        in doubt): the venue's answer to it is not known yet. A native OCO's stop leg is placed
        by its limit leg's row (``stop_order_id``)."""
        if not order_ids:
            return set()
        cursor = await conn.execute(
            f"SELECT order_id::text, payload->>'stop_order_id' FROM {self.table}"
            " WHERE action IN ('place', 'place_oco')"
            " AND (order_id = ANY(%s::uuid[]) OR payload->>'stop_order_id' = ANY(%s))",
            (list(order_ids), list(order_ids)),
        )
        found: set[str] = set()
        for order_id, stop_order_id in await cursor.fetchall():
            found.add(str(order_id))
            if stop_order_id:
                found.add(str(stop_order_id))
        return found & set(order_ids)

    async def unsettled(self, conn: AsyncConnection, partitions: Sequence[int]) -> list[OutboxRow]:
        """Rows claimed and not answered (``sending`` of a claimer that is gone, or
        ``in_doubt``): what a new owner must resolve before anything else."""
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE partition = ANY(%s)"
            " AND state <> 'ready' ORDER BY id",
            (list(partitions),),
        )
        return [_row(r) for r in await cursor.fetchall()]

    async def get(
        self, conn: AsyncConnection, row_id: int, *, lock: bool = False
    ) -> OutboxRow | None:
        return await (await self.reading(conn, row_id, lock=lock))()

    async def reading(
        self, conn: AsyncConnection, row_id: int, *, lock: bool = False
    ) -> Callable[[], Awaitable[OutboxRow | None]]:
        """``get`` in two halves: the statement is sent now, the returned function waits for
        its answer (in pipeline mode, reads sent together share one round trip)."""
        suffix = " FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE id = %s{suffix}", (row_id,)
        )

        async def answer() -> OutboxRow | None:
            found = await cursor.fetchone()
            return None if found is None else _row(found)

        return answer

    async def done(self, conn: AsyncConnection, row_id: int) -> None:
        await conn.execute(f"DELETE FROM {self.table} WHERE id = %s", (row_id,))

    async def delete_for_order(
        self, conn: AsyncConnection, order_id: str, action: Action | None = None
    ) -> None:
        if action is None:
            await conn.execute(f"DELETE FROM {self.table} WHERE order_id = %s", (order_id,))
        else:
            await conn.execute(
                f"DELETE FROM {self.table} WHERE order_id = %s AND action = %s", (order_id, action)
            )

    async def in_doubt(self, conn: AsyncConnection, row_id: int) -> None:
        await conn.execute(f"UPDATE {self.table} SET state = 'in_doubt' WHERE id = %s", (row_id,))

    async def retry(
        self,
        conn: AsyncConnection,
        row_id: int,
        delay_s: float,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Back to ``ready`` after ``delay_s`` (a call that surely did not take effect)."""
        if payload is None:
            await conn.execute(
                f"UPDATE {self.table} SET state = 'ready', claimed_epoch = NULL, claimed_at = NULL,"
                " not_before = now() + make_interval(secs => %s) WHERE id = %s",
                (delay_s, row_id),
            )
        else:
            await conn.execute(
                f"UPDATE {self.table} SET state = 'ready', claimed_epoch = NULL, claimed_at = NULL,"
                " payload = %s, not_before = now() + make_interval(secs => %s) WHERE id = %s",
                (Jsonb(dict(payload)), delay_s, row_id),
            )

    async def now(self, conn: AsyncConnection) -> datetime:
        cursor = await conn.execute("SELECT now()")
        row = await cursor.fetchone()
        assert row is not None
        value: datetime = row[0]
        return value

    # -- orders.events.v1 records -------------------------------------------------------------

    async def pending_events(
        self, conn: AsyncConnection, partitions: Sequence[int], limit: int
    ) -> list[tuple[int, str, bytes]]:
        cursor = await conn.execute(
            f"SELECT id, order_id, payload FROM {self.events} WHERE partition = ANY(%s)"
            " ORDER BY id LIMIT %s",
            (list(partitions), limit),
        )
        return [(int(i), str(o), bytes(p)) for i, o, p in await cursor.fetchall()]

    async def published(self, conn: AsyncConnection, ids: Sequence[int]) -> None:
        await conn.execute(f"DELETE FROM {self.events} WHERE id = ANY(%s)", (list(ids),))
