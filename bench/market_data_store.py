"""Trades stored per second through ``MarketDataStore.insert_trades`` (COPY into a staging
table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING``) beside the obvious baseline, a
batched ``executemany`` of ``INSERT … ON CONFLICT DO NOTHING`` with the same rows, both in the
same run against the same PostgreSQL (the local one of ``make up``, a throwaway schema).

Each round writes fresh batches (new trades), then the same batches again (a replay: every row
a duplicate, the case overlapping backfill pages and live/backfill overlap produce). Rounds
alternate the two paths; the best round of each counts.

    uv run python bench/market_data_store.py [--batch 5000] [--batches 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.market_data import Trade
from eip.market_data.storage import MarketDataStore
from eip.market_data.storage.copy import trade_seq
from eip.storage import open_pool
from eip.testing.endpoints import database_url

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def batches(first_id: int, batch: int, count: int) -> list[list[Trade]]:
    out = []
    for b in range(count):
        rows = []
        for i in range(batch):
            n = first_id + b * batch + i
            at = T0 + timedelta(milliseconds=n * 7)
            rows.append(
                Trade(
                    "binance",
                    "BTC/USDT",
                    str(n),
                    Decimal("64000.01") + Decimal(n % 100) / 100,
                    Decimal("0.00150000"),
                    "buy" if n % 2 else "sell",
                    at,
                    at + timedelta(milliseconds=3),
                )
            )
        out.append(rows)
    return out


async def baseline(
    pool: AsyncConnectionPool[AsyncConnection], schema: str, rows: list[Trade]
) -> None:
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            sql.SQL(
                "INSERT INTO {} (exchange, symbol, trade_id, time, exchange_time, received_time,"
                " price, amount, taker_side, trade_seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s) ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(schema, "trades")),
            [
                (
                    t.exchange,
                    t.symbol,
                    t.trade_id,
                    t.exchange_time,
                    t.exchange_time,
                    t.received_time,
                    t.price,
                    t.amount,
                    t.taker_side,
                    trade_seq(t.trade_id),
                )
                for t in rows
            ],
        )


async def timed(
    write: Callable[[list[Trade]], Awaitable[object]], work: list[list[Trade]]
) -> float:
    start = time.perf_counter()
    for rows in work:
        await write(rows)
    return sum(len(r) for r in work) / (time.perf_counter() - start)


async def main(batch: int, count: int, rounds: int) -> None:
    pool = await open_pool(database_url(), max_size=2)
    copy_schema, base_schema = (f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2))
    best: dict[str, float] = {}
    try:
        copy_store = MarketDataStore(pool, copy_schema)
        base_store = MarketDataStore(pool, base_schema)
        for store in (copy_store, base_store):
            await store.migrate()
            await store.ensure_partitions("trades", [T0, T0 + timedelta(days=2)])
        for r in range(rounds):
            work = batches(r * batch * count, batch, count)
            results = {
                "copy new": await timed(copy_store.insert_trades, work),
                "copy replay": await timed(copy_store.insert_trades, work),
                "executemany new": await timed(
                    lambda rows: baseline(pool, base_schema, rows), work
                ),
                "executemany replay": await timed(
                    lambda rows: baseline(pool, base_schema, rows), work
                ),
            }
            for k, v in results.items():
                best[k] = max(best.get(k, 0.0), v)
    finally:
        async with pool.connection() as conn:
            for s in (copy_schema, base_schema):
                await conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s))
                )
        await pool.close()
    print(f"trades per second, batches of {batch:,}, best of {rounds} rounds")
    print(f"{'case':<10}{'COPY + staging':>18}{'executemany':>16}{'ratio':>8}")
    for case in ("new", "replay"):
        c, b = best[f"copy {case}"], best[f"executemany {case}"]
        print(f"{case:<10}{c:>18,.0f}{b:>16,.0f}{c / b:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    asyncio.run(main(a.batch, a.batches, a.rounds))
