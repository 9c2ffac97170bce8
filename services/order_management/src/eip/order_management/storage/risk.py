"""Risk state in PostgreSQL: limits per scope, kill switches, the anomaly guard's account
profiles, traded notional and realized result per day, and positions at average cost."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from eip.order_management.risk.killswitch import KillState, Level, Switch
from eip.order_management.storage.database import Database

ZERO = Decimal(0)


class RiskStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.t = db.t

    async def limits(self, conn: AsyncConnection) -> dict[tuple[str, str], dict[str, Any]]:
        cursor = await conn.execute(f"SELECT scope, scope_id, limits FROM {self.t.risk_limits}")
        return {(s, i): dict(data) for s, i, data in await cursor.fetchall()}

    async def put_limits(
        self,
        conn: AsyncConnection,
        scope: str,
        scope_id: str,
        limits: Mapping[str, Any],
        actor: str,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.risk_limits} (scope, scope_id, limits, updated_by)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (scope, scope_id) DO UPDATE SET"
            " limits = excluded.limits, updated_by = excluded.updated_by, updated_at = now()",
            (scope, scope_id, Jsonb(dict(limits)), actor),
        )

    async def delete_limits(self, conn: AsyncConnection, scope: str, scope_id: str) -> bool:
        cursor = await conn.execute(
            f"DELETE FROM {self.t.risk_limits} WHERE scope = %s AND scope_id = %s",
            (scope, scope_id),
        )
        return cursor.rowcount == 1

    async def switches(self, conn: AsyncConnection) -> dict[tuple[Level, str], Switch]:
        cursor = await conn.execute(
            f"SELECT level, scope_id, state, reason, updated_by, updated_at"
            f" FROM {self.t.kill_switches}"
        )
        out = {}
        for level, scope_id, state, reason, by, at in await cursor.fetchall():
            switch = Switch(Level(level), scope_id, KillState(state), reason, by, at)
            out[(switch.level, switch.scope_id)] = switch
        return out

    async def put_switch(
        self,
        conn: AsyncConnection,
        level: Level,
        scope_id: str,
        state: KillState,
        reason: str,
        actor: str,
    ) -> Switch:
        cursor = await conn.execute(
            f"INSERT INTO {self.t.kill_switches} (level, scope_id, state, reason, updated_by)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (level, scope_id) DO UPDATE SET"
            " state = excluded.state, reason = excluded.reason,"
            " updated_by = excluded.updated_by, updated_at = now() RETURNING updated_at",
            (level.value, scope_id, state.value, reason, actor),
        )
        row = await cursor.fetchone()
        assert row is not None
        return Switch(level, scope_id, state, reason, actor, row[0])

    async def notify_changed(self, conn: AsyncConnection) -> None:
        await conn.execute("SELECT pg_notify(%s, '')", (f"{self.db.schema}_risk",))

    # -- anomaly guard ------------------------------------------------------------------------

    async def profile(self, conn: AsyncConnection, account_id: str) -> dict[str, Any] | None:
        cursor = await conn.execute(
            f"SELECT data FROM {self.t.account_profiles} WHERE account_id = %s", (account_id,)
        )
        row = await cursor.fetchone()
        return None if row is None else dict(row[0])

    async def put_profile(
        self, conn: AsyncConnection, account_id: str, data: Mapping[str, Any]
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.account_profiles} (account_id, data) VALUES (%s, %s)"
            " ON CONFLICT (account_id) DO UPDATE SET data = excluded.data, updated_at = now()",
            (account_id, Jsonb(dict(data))),
        )

    # -- daily usage and positions ------------------------------------------------------------

    async def usage(
        self, conn: AsyncConnection, account_id: str, day: date
    ) -> tuple[Decimal, Decimal]:
        """(traded notional, realized result) of the account on ``day`` (UTC)."""
        cursor = await conn.execute(
            f"SELECT traded_notional, realized_pnl FROM {self.t.daily_usage}"
            " WHERE account_id = %s AND day = %s",
            (account_id, day),
        )
        row = await cursor.fetchone()
        return (ZERO, ZERO) if row is None else (Decimal(row[0]), Decimal(row[1]))

    async def record_fill(
        self,
        conn: AsyncConnection,
        *,
        account_id: str,
        exchange: str,
        symbol: str,
        side: str,
        price: Decimal,
        quantity: Decimal,
        day: date,
    ) -> Decimal:
        """Book one execution: the day's traded notional, the position at average cost, and the
        realized result of a sale (at average cost; a sale beyond the position realizes nothing
        for the part not held). Returns the realized result of this execution."""
        cursor = await conn.execute(
            f"INSERT INTO {self.t.positions} (account_id, exchange, symbol) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (account_id, exchange, symbol),
        )
        cursor = await conn.execute(
            f"SELECT quantity, cost FROM {self.t.positions}"
            " WHERE account_id = %s AND exchange = %s AND symbol = %s FOR UPDATE",
            (account_id, exchange, symbol),
        )
        row = await cursor.fetchone()
        assert row is not None
        held, cost = Decimal(row[0]), Decimal(row[1])
        realized = ZERO
        if side == "buy":
            held, cost = held + quantity, cost + quantity * price
        else:
            sold = min(quantity, held)
            if sold > 0:
                average = cost / held
                realized = sold * (price - average)
                cost -= sold * average
                held -= sold
        await conn.execute(
            f"UPDATE {self.t.positions} SET quantity = %s, cost = %s"
            " WHERE account_id = %s AND exchange = %s AND symbol = %s",
            (held, cost, account_id, exchange, symbol),
        )
        await conn.execute(
            f"INSERT INTO {self.t.daily_usage} (account_id, day, traded_notional, realized_pnl)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (account_id, day) DO UPDATE SET"
            f" traded_notional = {self.t.daily_usage}.traded_notional + excluded.traded_notional,"
            f" realized_pnl = {self.t.daily_usage}.realized_pnl + excluded.realized_pnl",
            (account_id, day, quantity * price, realized),
        )
        return realized
