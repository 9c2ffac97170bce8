"""Ordered SQL migrations, each applied once and recorded.

Files are named ``NNNN_description.sql`` and applied in numeric order, each in its own
transaction, under an advisory lock so two instances starting together do not race. The
checksum of every applied file is recorded: editing a migration after it ran is an error,
because the databases that already ran it would silently differ from new ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from psycopg import AsyncConnection, sql

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_NAMESPACE = 0x45495000  # "EIP\0": keeps our advisory lock ids apart from others'


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return migrations


async def apply_migrations(
    conn: AsyncConnection,
    directory: Path,
    schema: str,
) -> list[Migration]:
    """Apply the pending migrations of ``directory`` into ``schema``; return those applied."""
    migrations = load_migrations(directory)
    table = sql.Identifier(schema, "schema_migrations")
    applied: list[Migration] = []
    async with conn.transaction():
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(table)
        )
    lock_id = _LOCK_NAMESPACE ^ (int(hashlib.sha256(schema.encode()).hexdigest()[:7], 16))
    await conn.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
    try:
        cursor = await conn.execute(sql.SQL("SELECT version, checksum FROM {}").format(table))
        done = {int(v): str(c) for v, c in await cursor.fetchall()}
        await conn.commit()
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{schema} migration {migration.version:04d}_{migration.name} was "
                        "edited after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(
                    sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema))
                )
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)").format(
                        table
                    ),
                    (migration.version, migration.name, migration.checksum),
                )
            applied.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
        await conn.commit()
    return applied
