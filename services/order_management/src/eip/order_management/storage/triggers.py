"""Emulated triggers in PostgreSQL, one row per order the platform holds.

A trigger fires once: ``fire`` sets ``fired_at`` only where it is still NULL, in the
transaction that also moves the order (EMULATED -> TRIGGERED) and queues its placement, so a
restart, a second instance or a repeated trade can never fire it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from psycopg import AsyncConnection

from eip.order_management.storage.database import Database

Kind = Literal["price", "trailing", "entry"]
Direction = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Trigger:
    order_id: str
    account_id: str
    exchange: str
    symbol: str
    partition: int
    kind: Kind
    direction: Direction  # up: fires at or above the level; down: at or below
    trigger_price: Decimal | None
    trailing_value: Decimal | None = None
    trailing_unit: str | None = None  # "price" or "bps"
    activation_price: Decimal | None = None
    active: bool = True
    watermark: Decimal | None = None
    fired_at: datetime | None = None

    def with_(self, **changes: Any) -> Trigger:
        return replace(self, **changes)


_COLUMNS = (
    "order_id, account_id, exchange, symbol, partition, kind, direction, trigger_price,"
    " trailing_value, trailing_unit, activation_price, active, watermark, fired_at"
)


def _trigger(row: Sequence[Any]) -> Trigger:
    values = list(row)
    values[0] = str(values[0])
    return Trigger(*values)


class TriggerStore:
    def __init__(self, db: Database) -> None:
        self.table = db.t.triggers

    async def insert(self, conn: AsyncConnection, t: Trigger) -> None:
        await conn.execute(
            f"INSERT INTO {self.table} ({_COLUMNS}) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                t.order_id,
                t.account_id,
                t.exchange,
                t.symbol,
                t.partition,
                t.kind,
                t.direction,
                t.trigger_price,
                t.trailing_value,
                t.trailing_unit,
                t.activation_price,
                t.active,
                t.watermark,
                t.fired_at,
            ),
        )

    async def get(
        self, conn: AsyncConnection, order_id: str, *, lock: bool = False
    ) -> Trigger | None:
        suffix = " FOR UPDATE" if lock else ""
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE order_id = %s{suffix}", (order_id,)
        )
        row = await cursor.fetchone()
        return None if row is None else _trigger(row)

    async def armed(self, conn: AsyncConnection, partitions: Sequence[int]) -> list[Trigger]:
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE partition = ANY(%s) AND fired_at IS NULL",
            (list(partitions),),
        )
        return [_trigger(r) for r in await cursor.fetchall()]

    async def fire(self, conn: AsyncConnection, order_id: str) -> bool:
        """Mark the trigger fired; False if it already was (or is gone)."""
        cursor = await conn.execute(
            f"UPDATE {self.table} SET fired_at = now() WHERE order_id = %s AND fired_at IS NULL"
            " RETURNING 1",
            (order_id,),
        )
        return await cursor.fetchone() is not None  # fetched: in pipeline mode it syncs

    async def update(self, conn: AsyncConnection, t: Trigger) -> None:
        await conn.execute(
            f"UPDATE {self.table} SET kind = %s, direction = %s, trigger_price = %s,"
            " trailing_value = %s, trailing_unit = %s, activation_price = %s, active = %s,"
            " watermark = %s WHERE order_id = %s AND fired_at IS NULL",
            (
                t.kind,
                t.direction,
                t.trigger_price,
                t.trailing_value,
                t.trailing_unit,
                t.activation_price,
                t.active,
                t.watermark,
                t.order_id,
            ),
        )

    async def save_watermarks(
        self, conn: AsyncConnection, marks: Sequence[tuple[str, Decimal | None, bool]]
    ) -> None:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                f"UPDATE {self.table} SET watermark = %s, active = %s"
                " WHERE order_id = %s AND fired_at IS NULL",
                [(w, a, o) for o, w, a in marks],
            )

    async def delete(self, conn: AsyncConnection, order_id: str) -> None:
        await conn.execute(f"DELETE FROM {self.table} WHERE order_id = %s", (order_id,))
