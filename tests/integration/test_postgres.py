"""Storage against a real PostgreSQL: migrations, partitions, failure modes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.storage import DatabaseUnavailable, MigrationError, apply_migrations, open_pool
from eip.storage.partitions import drop_partitions_before, ensure_time_partitions

pytestmark = pytest.mark.integration

Pool = AsyncConnectionPool[AsyncConnection]


def write_migrations(directory: Path) -> None:
    (directory / "0001_trades.sql").write_text(
        "CREATE TABLE trades (exchange text NOT NULL, symbol text NOT NULL,"
        " ts timestamptz NOT NULL, price numeric NOT NULL) PARTITION BY RANGE (ts);\n"
    )
    (directory / "0002_index.sql").write_text(
        "CREATE INDEX trades_symbol_ts ON trades (exchange, symbol, ts);\n"
        "CREATE TABLE notes (id serial PRIMARY KEY, body text);\n"
    )


async def test_migrations_apply_once_in_order(
    db_pool: Pool, db_schema: str, tmp_path: Path
) -> None:
    write_migrations(tmp_path)
    async with db_pool.connection() as conn:
        first = await apply_migrations(conn, tmp_path, db_schema)
        second = await apply_migrations(conn, tmp_path, db_schema)
        rows = await (
            await conn.execute(
                f'SELECT version, name FROM "{db_schema}".schema_migrations ORDER BY version'
            )
        ).fetchall()
    assert [m.version for m in first] == [1, 2]
    assert second == []
    assert rows == [(1, "trades"), (2, "index")]

    (tmp_path / "0003_more.sql").write_text("ALTER TABLE notes ADD COLUMN author text;\n")
    async with db_pool.connection() as conn:
        third = await apply_migrations(conn, tmp_path, db_schema)
    assert [m.version for m in third] == [3]


async def test_failed_migration_changes_nothing(
    db_pool: Pool, db_schema: str, tmp_path: Path
) -> None:
    write_migrations(tmp_path)
    (tmp_path / "0003_broken.sql").write_text("CREATE TABLE half (id int);\nTHIS IS NOT SQL;\n")
    async with db_pool.connection() as conn:
        with pytest.raises(Exception, match="syntax error"):
            await apply_migrations(conn, tmp_path, db_schema)
        await conn.rollback()
        versions = await (
            await conn.execute(
                f'SELECT version FROM "{db_schema}".schema_migrations ORDER BY version'
            )
        ).fetchall()
        half = await (
            await conn.execute("SELECT to_regclass(%s)", (f"{db_schema}.half",))
        ).fetchone()
    assert versions == [(1,), (2,)]
    assert half == (None,)


async def test_edited_migration_is_refused(db_pool: Pool, db_schema: str, tmp_path: Path) -> None:
    write_migrations(tmp_path)
    async with db_pool.connection() as conn:
        await apply_migrations(conn, tmp_path, db_schema)
        (tmp_path / "0001_trades.sql").write_text("CREATE TABLE trades (x int);\n")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(conn, tmp_path, db_schema)


async def test_time_partitions(db_pool: Pool, db_schema: str, tmp_path: Path) -> None:
    write_migrations(tmp_path)
    start, end = datetime(2026, 11, 23, 12, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    async with db_pool.connection() as conn:
        await apply_migrations(conn, tmp_path, db_schema)
        created = await ensure_time_partitions(conn, db_schema, "trades", start, end)
        again = await ensure_time_partitions(conn, db_schema, "trades", start, end)
        await conn.execute(
            f'INSERT INTO "{db_schema}".trades VALUES'
            " ('binance', 'BTC/USDT', '2026-11-24 10:00+00', 65000.5),"
            " ('binance', 'BTC/USDT', '2026-11-25 23:59:59+00', 65001)"
        )
        placed = await (
            await conn.execute(
                f'SELECT tableoid::regclass::text FROM "{db_schema}".trades ORDER BY ts'
            )
        ).fetchall()
        dropped = await drop_partitions_before(
            conn,
            db_schema,
            "trades",
            datetime(2026, 11, 25, tzinfo=UTC),
        )
        left = await (await conn.execute(f'SELECT count(*) FROM "{db_schema}".trades')).fetchone()
        await conn.commit()
    assert created == ["trades_p20261123", "trades_p20261124", "trades_p20261125"]
    assert again == []
    assert [p[0].split(".")[-1] for p in placed] == ["trades_p20261124", "trades_p20261125"]
    assert sorted(dropped) == ["trades_p20261123", "trades_p20261124"]
    assert left == (1,)


async def test_unreachable_database_fails_fast_with_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as info:
        await open_pool("postgresql://eip:hunter2hunter2@127.0.0.1:1/eip", timeout_s=2)
    assert time.monotonic() - started < 8
    assert "127.0.0.1:1" in str(info.value)
    assert "make up" in str(info.value)
    assert "hunter2" not in str(info.value)
