"""Partition leases: the fencing tokens of ownership.

An instance given a partition of ``orders.commands.v1`` takes its lease (``acquire``: the epoch
goes up by one). Every transaction that changes an order, claims an outbox row or fires a
trigger of that partition first reads the lease ``FOR SHARE`` and goes on only if the epoch is
still its own (``check``). The next owner's ``acquire`` is an UPDATE of the same row: it waits
for every such transaction in flight to end, and after it commits every later check of the old
owner fails with ``Fenced``. So once a new owner has taken a partition, the old one can no
longer change its orders or claim a placement; what it claimed before is in doubt for the new
owner, who resolves it by asking the venue (docs/ORDER_MANAGEMENT.md, "Exactly once").
"""

from __future__ import annotations

from psycopg import AsyncConnection

from eip.order_management.storage.database import Database


class Fenced(Exception):
    """Another instance took the partition: this one may no longer act for its accounts."""

    def __init__(self, partition: int, epoch: int, current: int | None) -> None:
        super().__init__(
            f"partition {partition}: lease epoch {epoch} was superseded (now {current})"
        )
        self.partition = partition


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = db.t.partition_leases

    async def acquire(self, partition: int, owner: str) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"INSERT INTO {self.table} (partition, epoch, owner) VALUES (%s, 1, %s)"
                " ON CONFLICT (partition) DO UPDATE SET epoch = {t}.epoch + 1,"
                " owner = excluded.owner, acquired_at = now() RETURNING epoch".replace(
                    "{t}", self.table
                ),
                (partition, owner),
            )
            row = await cursor.fetchone()
            assert row is not None
            return int(row[0])

    async def check(self, conn: AsyncConnection, partition: int, epoch: int) -> None:
        cursor = await conn.execute(
            f"SELECT epoch FROM {self.table} WHERE partition = %s FOR SHARE", (partition,)
        )
        row = await cursor.fetchone()
        current = None if row is None else int(row[0])
        if current != epoch:
            raise Fenced(partition, epoch, current)

    async def current(self, conn: AsyncConnection, partition: int) -> tuple[int, str] | None:
        cursor = await conn.execute(
            f"SELECT epoch, owner FROM {self.table} WHERE partition = %s", (partition,)
        )
        row = await cursor.fetchone()
        return None if row is None else (int(row[0]), str(row[1]))
