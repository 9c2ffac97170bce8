"""Verify an audit chain: ``python -m eip.audit verify [--schema audit]``.

Reads DATABASE_URL; exit 0 when the chain holds, 1 at the first broken link (printed with its
sequence number), 2 when it cannot check (no database, no such schema).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from eip.audit.trail import AuditTrail
from eip.storage import DatabaseUnavailable, open_pool


async def _verify(database_url: str, schema: str) -> int:
    try:
        pool = await open_pool(database_url, max_size=1, name="audit-verify")
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        async with pool.connection() as conn:
            found = await conn.execute(
                "SELECT 1 FROM information_schema.tables"
                " WHERE table_schema = %s AND table_name = 'audit_events'",
                (schema,),
            )
            if await found.fetchone() is None:
                print(f"error: no audit trail in schema {schema!r}", file=sys.stderr)
                return 2
            checked, broken = await AuditTrail(schema).verify(conn)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.audit")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check the hash chain; exit 1 at the first break")
    verify.add_argument("--schema", default="audit", help="schema holding audit_events")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("error: DATABASE_URL is empty", file=sys.stderr)
        return 2
    return asyncio.run(_verify(database_url, args.schema))


if __name__ == "__main__":
    sys.exit(main())
