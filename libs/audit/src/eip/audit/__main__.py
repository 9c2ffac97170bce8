"""The audit chain's checks, run together they detect edits, deletions and truncation:

    python -m eip.audit verify  [--schema audit]
    python -m eip.audit compare [--schema audit] [--topic audit.events.v1]

``verify`` checks the hash chain in PostgreSQL: exit 1 at the first broken link (an edited
row or hash, a deleted row). ``compare`` checks the chain against its Kafka copy: exit 1 at
the first event on Kafka that PostgreSQL lacks (a deletion, the newest rows included) or holds
differently (an edit, a rewritten chain); events not relayed yet are reported, not failed.
Both exit 0 when consistent and 2 when they cannot check (no database, no such schema, Kafka
or the topic unavailable). Settings as every service reads them (``eip.config``):
DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, AUDIT_TOPIC (the default of ``--topic``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from psycopg import AsyncConnection, OperationalError

from eip.audit.compare import compare
from eip.audit.kafka_copy import CopyUnreadable, read_copy
from eip.audit.settings import AuditSettings
from eip.audit.trail import AuditTrail
from eip.config import ConfigError, load_settings
from eip.storage import DatabaseUnavailable, open_pool


class CannotCheck(Exception):
    pass


async def _trail(conn: AsyncConnection[Any], schema: str) -> AuditTrail:
    found = await conn.execute(
        "SELECT 1 FROM information_schema.tables"
        " WHERE table_schema = %s AND table_name = 'audit_events'",
        (schema,),
    )
    if await found.fetchone() is None:
        raise CannotCheck(f"no audit trail in schema {schema!r}")
    return AuditTrail(schema)


async def _verify(settings: AuditSettings, schema: str) -> int:
    pool = await open_pool(settings.database_url.get_secret_value(), max_size=1, name="audit")
    try:
        async with pool.connection() as conn:
            checked, broken = await (await _trail(conn, schema)).verify(conn)
    finally:
        await pool.close()
    if broken is not None:
        print(
            f"BROKEN at sequence {broken.sequence}: {broken.reason} "
            f"({checked} events before it verified)"
        )
        return 1
    print(f"OK: {checked} events, chain intact")
    return 0


async def _compare(settings: AuditSettings, schema: str, topic: str) -> int:
    pool = await open_pool(settings.database_url.get_secret_value(), max_size=1, name="audit")
    try:
        async with pool.connection() as conn:
            trail = await _trail(conn, schema)
            copy = read_copy(
                settings.kafka_bootstrap_servers, topic, timeout_s=settings.connect_timeout_s
            )
            result = await compare(conn, trail, copy)
    finally:
        await pool.close()
    print("\n".join(result.report()))
    return 0 if result.consistent else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.audit")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check the hash chain; exit 1 at the first break")
    verify.add_argument("--schema", default="audit", help="schema holding audit_events")
    compare_ = sub.add_parser(
        "compare", help="check the chain against its Kafka copy; exit 1 at the first difference"
    )
    compare_.add_argument("--schema", default="audit", help="schema holding audit_events")
    compare_.add_argument("--topic", help="the chain's Kafka copy (default: AUDIT_TOPIC)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(AuditSettings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "verify":
            return asyncio.run(_verify(settings, args.schema))
        return asyncio.run(_compare(settings, args.schema, args.topic or settings.topic))
    except (CannotCheck, CopyUnreadable, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # the database went away mid-check
        print(f"error: PostgreSQL failed ({type(exc).__name__})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
