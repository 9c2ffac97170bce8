"""The account service's PostgreSQL: connections, balances and their history, fills and the
cursors that resume their sync.

Two writes carry the service's guarantees and are each one transaction:

- ``apply_balances``: the current rows, the history rows of what changed, and nothing when
  nothing changed (a REST reconcile that agrees with the stream writes no history);
- ``store_fill_page``: a page of fills and the cursor after it. A crash before the commit
  leaves both as they were, so the next run fetches the same page again (no hole), and the
  primary key makes a fill stored twice impossible (no duplicate), whether it came from the
  cursor sync or from the private stream first.
- ``store_transfer_page``: the same for deposits and withdrawals, except that a transfer read
  again is *updated* (its status moves on: pending → completed), never added twice.

Every failure to reach PostgreSQL is raised as ``DatabaseUnavailable`` (no host, user or
password in the message); the HTTP layer answers it with 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection, OperationalError, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from eip.account.connections import ConnectionState
from eip.exchanges.contract.trading import AssetBalance, FillCursor, VenueFill
from eip.exchanges.contract.transfers import TransferCursor, TransferKind, VenueTransfer
from eip.storage import DatabaseUnavailable, apply_migrations, ensure_time_partitions
from eip.storage.partitions import drop_partitions_before

MIGRATIONS = Path(__file__).parent / "migrations"
PoolGetter = Callable[[], "AsyncConnectionPool[AsyncConnection] | None"]
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    credential_id: str
    account_id: str
    exchange: str
    state: ConnectionState
    reason: str | None = None
    permissions: tuple[str, ...] = ()
    ip_restricted: bool | None = None
    credential_version: int | None = None
    label: str | None = None
    last_balance_at: datetime | None = None
    last_trade_sync_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Deposits and withdrawals refused while the rest works: why (a code), and the venue's words.
    transfers_unavailable: str | None = None
    transfers_detail: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "account_id": self.account_id,
            "exchange": self.exchange,
            "status": self.state.value,
            "reason": self.reason,
            "permissions": list(self.permissions),
            "ip_restricted": self.ip_restricted,
            "credential_version": self.credential_version,
            "label": self.label,
            "last_balance_update": _iso(self.last_balance_at),
            "last_trade_sync": _iso(self.last_trade_sync_at),
            "transfers": {
                "available": self.transfers_unavailable is None,
                "reason": self.transfers_unavailable,
                "detail": self.transfers_detail,
            },
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class BalanceRow:
    credential_id: str
    account_id: str
    exchange: str
    asset: str
    wallet: str
    free: Decimal
    locked: Decimal
    updated_at: datetime

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class BalanceChange:
    asset: str
    wallet: str
    free: Decimal
    locked: Decimal


@dataclass(frozen=True, slots=True)
class StoredFill:
    credential_id: str
    account_id: str
    exchange: str
    symbol: str
    trade_id: str
    venue_order_id: str
    client_order_id: str | None
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str | None
    liquidity: str | None
    time: datetime
    source: str
    seq: int

    def public(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "account_id": self.account_id,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "trade_id": self.trade_id,
            "order_id": self.venue_order_id,
            "client_order_id": self.client_order_id,
            "side": self.side,
            "price": str(self.price),
            "quantity": str(self.quantity),
            "fee": str(self.fee),
            "fee_asset": self.fee_asset,
            "liquidity": self.liquidity,
            "time": self.time.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    credential_id: str
    account_id: str
    exchange: str
    kind: str
    transfer_id: str
    asset: str
    amount: Decimal
    fee: Decimal | None
    status: str
    venue_status: str
    network: str | None
    tx_id: str | None
    address: str | None
    time: datetime
    completed_time: datetime | None
    seq: int

    def public(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "account_id": self.account_id,
            "exchange": self.exchange,
            "kind": self.kind,
            "id": self.transfer_id,
            "asset": self.asset,
            "amount": str(self.amount),
            "fee": None if self.fee is None else str(self.fee),
            "status": self.status,
            "venue_status": self.venue_status,
            "network": self.network,
            "tx_id": self.tx_id,
            "address": self.address,
            "time": self.time.isoformat(),
            "completed_time": _iso(self.completed_time),
        }


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    ts: datetime
    credential_id: str
    asset: str
    wallet: str
    total: Decimal


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class AccountStore:
    def __init__(self, pool: PoolGetter, schema: str, timeout_s: float = 5.0) -> None:
        self._pool = pool
        self.schema = schema
        self._timeout_s = timeout_s
        self._partition_days: set[datetime] = set()
        self.migrated = False  # every other call waits for the schema (503 until then)

    def _t(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    @asynccontextmanager
    async def _conn(self, *, migrating: bool = False) -> AsyncIterator[AsyncConnection]:
        if not (self.migrated or migrating):
            raise DatabaseUnavailable("the account schema is not migrated yet")
        pool = self._pool()
        if pool is None:
            raise DatabaseUnavailable("not connected to PostgreSQL yet")
        try:
            async with pool.connection(timeout=self._timeout_s) as conn:
                yield conn
        except (OperationalError, PoolTimeout, PoolClosed, OSError) as exc:
            # psycopg turns a task's cancellation inside a query into QueryCanceled (an
            # OperationalError): give the task its cancellation back, or a stopped sync would
            # take it for an outage and run on for ever
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None
            raise DatabaseUnavailable(f"PostgreSQL unavailable ({type(exc).__name__})") from None

    async def migrate(self) -> None:
        async with self._conn(migrating=True) as conn:
            await apply_migrations(conn, MIGRATIONS, self.schema)
            now = datetime.now(UTC)
            await self._ensure_partitions(conn, now - timedelta(days=1), now + timedelta(days=3))
            await conn.commit()
        self.migrated = True

    async def _ensure_partitions(
        self, conn: AsyncConnection, start: datetime, end: datetime
    ) -> None:
        await ensure_time_partitions(conn, self.schema, "balance_history", start, end, "day")
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            self._partition_days.add(day)
            day += timedelta(days=1)

    async def drop_history_before(self, cutoff: datetime) -> list[str]:
        async with self._conn() as conn:
            dropped = await drop_partitions_before(conn, self.schema, "balance_history", cutoff)
            await conn.commit()
            return dropped

    async def maintain_partitions(self, days_ahead: int = 3) -> None:
        async with self._conn() as conn:
            now = datetime.now(UTC)
            await self._ensure_partitions(conn, now, now + timedelta(days=days_ahead))
            await conn.commit()

    # -- connections ---------------------------------------------------------------------

    async def upsert_connection(self, rec: ConnectionRecord) -> None:
        async with self._conn() as conn:
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (credential_id, account_id, exchange, state, reason,"
                    " permissions, ip_restricted, credential_version, label)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (credential_id) DO UPDATE SET state = excluded.state,"
                    " reason = excluded.reason, permissions = excluded.permissions,"
                    " ip_restricted = excluded.ip_restricted,"
                    " credential_version = excluded.credential_version,"
                    " label = COALESCE(excluded.label, {}.label), updated_at = now()"
                ).format(self._t("connections"), sql.Identifier("connections")),
                (
                    rec.credential_id,
                    rec.account_id,
                    rec.exchange,
                    rec.state.value,
                    rec.reason,
                    list(rec.permissions),
                    rec.ip_restricted,
                    rec.credential_version,
                    rec.label,
                ),
            )
            await conn.commit()

    async def set_state(
        self, credential_id: str, state: ConnectionState, reason: str | None
    ) -> None:
        async with self._conn() as conn:
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET state = %s, reason = %s, updated_at = now()"
                    " WHERE credential_id = %s"
                ).format(self._t("connections")),
                (state.value, reason, credential_id),
            )
            await conn.commit()

    async def set_transfers_unavailable(
        self, credential_id: str, reason: str | None, detail: str | None
    ) -> None:
        """Mark the connection's transfers unavailable (``reason`` a code) or, with None,
        available again; the connection's state is not touched."""
        async with self._conn() as conn:
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET transfers_unavailable = %s, transfers_detail = %s,"
                    " updated_at = now() WHERE credential_id = %s"
                ).format(self._t("connections")),
                (reason, detail, credential_id),
            )
            await conn.commit()

    async def connection(self, credential_id: str) -> ConnectionRecord | None:
        rows = await self._connections(sql.SQL("credential_id = %s"), (credential_id,))
        return rows[0] if rows else None

    async def connections(self, account_ids: Sequence[str] | None = None) -> list[ConnectionRecord]:
        if account_ids is None:
            return await self._connections(sql.SQL("true"), ())
        return await self._connections(sql.SQL("account_id = ANY(%s)"), (list(account_ids),))

    async def account_ids(self) -> list[str]:
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT DISTINCT account_id FROM {} ORDER BY 1").format(
                    self._t("connections")
                )
            )
            return [str(r[0]) for r in await cur.fetchall()]

    async def _connections(
        self, where: sql.Composable, args: tuple[Any, ...]
    ) -> list[ConnectionRecord]:
        async with self._conn() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE {} ORDER BY account_id, exchange, credential_id"
                ).format(self._t("connections"), where),
                args,
            )
            rows = await cur.fetchall()
        return [
            ConnectionRecord(
                credential_id=r["credential_id"],
                account_id=r["account_id"],
                exchange=r["exchange"],
                state=ConnectionState(r["state"]),
                reason=r["reason"],
                permissions=tuple(r["permissions"] or ()),
                ip_restricted=r["ip_restricted"],
                credential_version=r["credential_version"],
                label=r["label"],
                last_balance_at=r["last_balance_at"],
                last_trade_sync_at=r["last_trade_sync_at"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                transfers_unavailable=r["transfers_unavailable"],
                transfers_detail=r["transfers_detail"],
            )
            for r in rows
        ]

    # -- balances ------------------------------------------------------------------------

    async def apply_balances(
        self,
        rec: ConnectionRecord,
        balances: Iterable[AssetBalance],
        *,
        snapshot: bool,
        source: str,
        at: datetime,
    ) -> list[BalanceChange]:
        """Store what changed; with ``snapshot`` every stored asset absent from ``balances``
        becomes zero. Returns the changes (empty when everything agreed)."""
        incoming: dict[tuple[str, str], AssetBalance] = {}
        for b in balances:
            key = (b.asset, b.wallet)
            prev = incoming.get(key)
            # a venue may list an asset twice under two spellings (XBT and XXBT): add them up
            incoming[key] = (
                b
                if prev is None
                else AssetBalance(b.asset, prev.free + b.free, prev.locked + b.locked, b.wallet)
            )
        async with self._conn() as conn:
            day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            if day not in self._partition_days:
                await self._ensure_partitions(conn, day, day + timedelta(days=1))
                await conn.commit()
            async with conn.transaction():
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT asset, wallet, free, locked FROM {} WHERE credential_id = %s"
                        " FOR UPDATE"
                    ).format(self._t("balances")),
                    (rec.credential_id,),
                )
                current = {(a, w): (f, lk) for a, w, f, lk in await cur.fetchall()}
                changes: list[BalanceChange] = []
                for (asset, wallet), b in incoming.items():
                    if current.get((asset, wallet)) != (b.free, b.locked):
                        changes.append(BalanceChange(asset, wallet, b.free, b.locked))
                if snapshot:
                    for (asset, wallet), (free, locked) in current.items():
                        if (asset, wallet) not in incoming and (free != 0 or locked != 0):
                            changes.append(BalanceChange(asset, wallet, _ZERO, _ZERO))
                if changes:
                    await cur.executemany(
                        sql.SQL(
                            "INSERT INTO {} (credential_id, asset, wallet, free, locked,"
                            " updated_at, source) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                            " ON CONFLICT (credential_id, asset, wallet) DO UPDATE SET"
                            " free = excluded.free, locked = excluded.locked,"
                            " updated_at = excluded.updated_at, source = excluded.source"
                        ).format(self._t("balances")),
                        [
                            (rec.credential_id, c.asset, c.wallet, c.free, c.locked, at, source)
                            for c in changes
                        ],
                    )
                    await cur.executemany(
                        sql.SQL(
                            "INSERT INTO {} (ts, credential_id, account_id, exchange, asset,"
                            " wallet, free, locked, source)"
                            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        ).format(self._t("balance_history")),
                        [
                            (
                                at,
                                rec.credential_id,
                                rec.account_id,
                                rec.exchange,
                                c.asset,
                                c.wallet,
                                c.free,
                                c.locked,
                                source,
                            )
                            for c in changes
                        ],
                    )
                await conn.execute(
                    sql.SQL("UPDATE {} SET last_balance_at = %s WHERE credential_id = %s").format(
                        self._t("connections")
                    ),
                    (at, rec.credential_id),
                )
        return changes

    async def balances(
        self,
        account_ids: Sequence[str],
        *,
        exchange: str | None = None,
        include_revoked: bool = False,
    ) -> list[BalanceRow]:
        conditions = [sql.SQL("c.account_id = ANY(%s)")]
        args: list[Any] = [list(account_ids)]
        if exchange is not None:
            conditions.append(sql.SQL("c.exchange = %s"))
            args.append(exchange)
        if not include_revoked:
            conditions.append(sql.SQL("c.state <> 'revoked'"))
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT b.credential_id, c.account_id, c.exchange, b.asset, b.wallet,"
                    " b.free, b.locked, b.updated_at FROM {} b JOIN {} c USING (credential_id)"
                    " WHERE {} ORDER BY c.account_id, c.exchange, b.asset, b.wallet"
                ).format(
                    self._t("balances"), self._t("connections"), sql.SQL(" AND ").join(conditions)
                ),
                args,
            )
            return [BalanceRow(*row) for row in await cur.fetchall()]

    async def aggregate_balance(
        self, account_id: str, exchange: str, asset: str, wallet: str
    ) -> tuple[Decimal, Decimal]:
        """Free and locked of one published key: every live connection of the account at the
        exchange added up."""
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT COALESCE(sum(b.free), 0), COALESCE(sum(b.locked), 0) FROM {} b"
                    " JOIN {} c USING (credential_id) WHERE c.account_id = %s"
                    " AND c.exchange = %s AND b.asset = %s AND b.wallet = %s"
                    " AND c.state <> 'revoked'"
                ).format(self._t("balances"), self._t("connections")),
                (account_id, exchange, asset, wallet),
            )
            row = await cur.fetchone()
        assert row is not None
        return Decimal(row[0]), Decimal(row[1])

    async def unpublished(
        self, account_id: str, exchange: str
    ) -> list[tuple[str, str, Decimal, Decimal]]:
        """(asset, wallet, free, locked) of every key of the account at the exchange whose
        current total over live connections differs from what was last published."""
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "WITH cur AS (SELECT b.asset, b.wallet, sum(b.free) AS free,"
                    " sum(b.locked) AS locked FROM {b} b JOIN {c} c USING (credential_id)"
                    " WHERE c.account_id = %s AND c.exchange = %s AND c.state <> 'revoked'"
                    " GROUP BY b.asset, b.wallet)"
                    " SELECT cur.asset, cur.wallet, cur.free, cur.locked FROM cur"
                    " LEFT JOIN {p} p ON p.key = %s || cur.asset"
                    " || CASE WHEN cur.wallet = 'spot' THEN '' ELSE ':' || cur.wallet END"
                    " WHERE p.key IS NULL OR p.free <> cur.free OR p.locked <> cur.locked"
                    " ORDER BY 1, 2"
                ).format(
                    b=self._t("balances"), c=self._t("connections"), p=self._t("published_balances")
                ),
                (account_id, exchange, f"{account_id}:{exchange}:"),
            )
            return [(a, w, Decimal(f), Decimal(lk)) for a, w, f, lk in await cur.fetchall()]

    async def published(self, key: str) -> tuple[Decimal, Decimal] | None:
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT free, locked FROM {} WHERE key = %s").format(
                    self._t("published_balances")
                ),
                (key,),
            )
            row = await cur.fetchone()
        return None if row is None else (Decimal(row[0]), Decimal(row[1]))

    async def mark_published(self, key: str, free: Decimal, locked: Decimal) -> None:
        async with self._conn() as conn:
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, free, locked) VALUES (%s, %s, %s) ON CONFLICT (key)"
                    " DO UPDATE SET free = excluded.free, locked = excluded.locked,"
                    " published_at = now()"
                ).format(self._t("published_balances")),
                (key, free, locked),
            )
            await conn.commit()

    async def history(
        self, account_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[HistoryPoint]:
        """Every balance change in [start, end) and, per (connection, asset, wallet), the last
        one before ``start`` (the holdings the range starts from); oldest first."""
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "(SELECT DISTINCT ON (credential_id, asset, wallet) ts, credential_id,"
                    " asset, wallet, free + locked FROM {h} WHERE account_id = ANY(%s)"
                    " AND ts < %s ORDER BY credential_id, asset, wallet, ts DESC)"
                    " UNION ALL (SELECT ts, credential_id, asset, wallet, free + locked FROM {h}"
                    " WHERE account_id = ANY(%s) AND ts >= %s AND ts < %s) ORDER BY 1"
                ).format(h=self._t("balance_history")),
                (list(account_ids), start, list(account_ids), start, end),
            )
            return [HistoryPoint(*row) for row in await cur.fetchall()]

    # -- fills ---------------------------------------------------------------------------

    async def fill_cursor(self, credential_id: str, symbol: str | None) -> FillCursor | None:
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT cursor_symbol, cursor_value FROM {} WHERE credential_id = %s"
                    " AND symbol = %s"
                ).format(self._t("fill_cursors")),
                (credential_id, symbol or ""),
            )
            row = await cur.fetchone()
        return None if row is None else FillCursor(row[0], row[1])

    async def store_fill_page(
        self,
        rec: ConnectionRecord,
        symbol: str | None,
        fills: Sequence[VenueFill],
        cursor: FillCursor,
    ) -> int:
        """The page's fills and the cursor after them, in one transaction; returns how many
        fills were new."""
        async with self._conn() as conn:
            async with conn.transaction():
                new = await self._insert_fills(conn, rec, fills, "rest")
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (credential_id, symbol, cursor_symbol, cursor_value)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT (credential_id, symbol) DO UPDATE"
                        " SET cursor_symbol = excluded.cursor_symbol,"
                        " cursor_value = excluded.cursor_value, updated_at = now()"
                    ).format(self._t("fill_cursors")),
                    (rec.credential_id, symbol or "", cursor.symbol, cursor.value),
                )
            return new

    async def store_stream_fill(self, rec: ConnectionRecord, fill: VenueFill) -> bool:
        async with self._conn() as conn, conn.transaction():
            return await self._insert_fills(conn, rec, [fill], "stream") == 1

    async def touch_trade_sync(self, credential_id: str, at: datetime) -> None:
        async with self._conn() as conn:
            await conn.execute(
                sql.SQL("UPDATE {} SET last_trade_sync_at = %s WHERE credential_id = %s").format(
                    self._t("connections")
                ),
                (at, credential_id),
            )
            await conn.commit()

    async def _insert_fills(
        self, conn: AsyncConnection, rec: ConnectionRecord, fills: Sequence[VenueFill], source: str
    ) -> int:
        new = 0
        for f in fills:
            cur = await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (credential_id, account_id, exchange, symbol, trade_id,"
                    " venue_order_id, client_order_id, side, price, quantity, fee, fee_asset,"
                    " liquidity, time, source) VALUES"
                    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING"
                ).format(self._t("fills")),
                (
                    rec.credential_id,
                    rec.account_id,
                    rec.exchange,
                    f.symbol,
                    f.trade_id,
                    f.venue_order_id,
                    f.client_order_id,
                    f.side,
                    f.price,
                    f.quantity,
                    f.fee,
                    f.fee_asset,
                    f.liquidity,
                    f.time,
                    source,
                ),
            )
            new += cur.rowcount
        return new

    async def fill_symbols(self, credential_id: str) -> list[str]:
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT DISTINCT symbol FROM {} WHERE credential_id = %s").format(
                    self._t("fills")
                ),
                (credential_id,),
            )
            return [str(r[0]) for r in await cur.fetchall()]

    async def fills(
        self,
        account_ids: Sequence[str],
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        side: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: tuple[datetime, int] | None = None,
        limit: int | None = None,
    ) -> list[StoredFill]:
        """Oldest first by (time, arrival); ``after`` is the last (time, seq) of a page."""
        conditions, args = _page_filters(
            account_ids, {"exchange": exchange, "symbol": symbol, "side": side}, start, end, after
        )
        query = sql.SQL(
            "SELECT credential_id, account_id, exchange, symbol, trade_id, venue_order_id,"
            " client_order_id, side, price, quantity, fee, fee_asset, liquidity, time, source,"
            " seq FROM {} WHERE {} ORDER BY time, seq"
        ).format(self._t("fills"), sql.SQL(" AND ").join(conditions))
        if limit is not None:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(limit))
        async with self._conn() as conn:
            cur = await conn.execute(query, args)
            return [StoredFill(*row) for row in await cur.fetchall()]

    # -- transfers (deposits and withdrawals) --------------------------------------------

    async def transfer_cursor(
        self, credential_id: str, kind: TransferKind
    ) -> TransferCursor | None:
        async with self._conn() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT cursor_value FROM {} WHERE credential_id = %s AND kind = %s"
                ).format(self._t("transfer_cursors")),
                (credential_id, kind.value),
            )
            row = await cur.fetchone()
        return None if row is None else TransferCursor(kind, row[0])

    async def store_transfer_page(
        self,
        rec: ConnectionRecord,
        kind: TransferKind,
        transfers: Sequence[VenueTransfer],
        cursor: TransferCursor,
    ) -> tuple[int, int]:
        """The page's transfers (new ones added, known ones updated where the venue's record
        moved on) and the cursor after them, in one transaction; (added, updated)."""
        added = updated = 0
        async with self._conn() as conn, conn.transaction():
            for t in transfers:
                cur = await conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} AS old (credential_id, account_id, exchange, kind,"
                        " transfer_id, asset, amount, fee, status, venue_status, network,"
                        " tx_id, address, time, completed_time) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (credential_id, kind, transfer_id) DO UPDATE SET"
                        " amount = excluded.amount, fee = excluded.fee,"
                        " status = excluded.status, venue_status = excluded.venue_status,"
                        " network = excluded.network, tx_id = excluded.tx_id,"
                        " address = excluded.address, completed_time = excluded.completed_time,"
                        " updated_at = now()"
                        " WHERE (old.amount, old.fee, old.status, old.venue_status,"
                        " old.network, old.tx_id, old.address, old.completed_time)"
                        " IS DISTINCT FROM (excluded.amount, excluded.fee, excluded.status,"
                        " excluded.venue_status, excluded.network, excluded.tx_id,"
                        " excluded.address, excluded.completed_time)"
                        " RETURNING (xmax = 0)"
                    ).format(t=self._t("transfers")),
                    (
                        rec.credential_id,
                        rec.account_id,
                        rec.exchange,
                        t.kind.value,
                        t.id,
                        t.asset,
                        t.amount,
                        t.fee,
                        t.status.value,
                        t.venue_status,
                        t.network,
                        t.tx_id,
                        t.address,
                        t.time,
                        t.completed_time,
                    ),
                )
                row = await cur.fetchone()
                if row is not None:  # None: known and unchanged
                    added, updated = (added + 1, updated) if row[0] else (added, updated + 1)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (credential_id, kind, cursor_value) VALUES (%s, %s, %s)"
                    " ON CONFLICT (credential_id, kind) DO UPDATE"
                    " SET cursor_value = excluded.cursor_value, updated_at = now()"
                ).format(self._t("transfer_cursors")),
                (rec.credential_id, kind.value, cursor.value),
            )
        return added, updated

    async def transfers(
        self,
        account_ids: Sequence[str],
        *,
        exchange: str | None = None,
        kind: str | None = None,
        asset: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: tuple[datetime, int] | None = None,
        limit: int | None = None,
    ) -> list[StoredTransfer]:
        """Oldest first by (venue time, arrival); ``after`` is the last (time, seq) of a page."""
        conditions, args = _page_filters(
            account_ids,
            {"exchange": exchange, "kind": kind, "asset": asset, "status": status},
            start,
            end,
            after,
        )
        query = sql.SQL(
            "SELECT credential_id, account_id, exchange, kind, transfer_id, asset, amount, fee,"
            " status, venue_status, network, tx_id, address, time, completed_time, seq"
            " FROM {} WHERE {} ORDER BY time, seq"
        ).format(self._t("transfers"), sql.SQL(" AND ").join(conditions))
        if limit is not None:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(limit))
        async with self._conn() as conn:
            cur = await conn.execute(query, args)
            return [StoredTransfer(*row) for row in await cur.fetchall()]


def _page_filters(
    account_ids: Sequence[str],
    equal: Mapping[str, object | None],
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, int] | None,
) -> tuple[list[sql.Composable], list[Any]]:
    """The WHERE conditions and arguments of a page of a time-ordered history (fills,
    transfers): the accounts, each given column equal to its value, ``start <= time < end``,
    and after the last (time, seq) of the previous page."""
    conditions: list[sql.Composable] = [sql.SQL("account_id = ANY(%s)")]
    args: list[Any] = [list(account_ids)]
    for column, value in equal.items():
        if value is not None:
            conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            args.append(value)
    if start is not None:
        conditions.append(sql.SQL("time >= %s"))
        args.append(start)
    if end is not None:
        conditions.append(sql.SQL("time < %s"))
        args.append(end)
    if after is not None:
        conditions.append(sql.SQL("(time, seq) > (%s, %s)"))
        args.extend(after)
    return conditions, args
