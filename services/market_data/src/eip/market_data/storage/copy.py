"""Bulk writes: COPY into a per-connection staging table, then one INSERT ... SELECT.

COPY is the fast path into PostgreSQL but cannot skip duplicates; the INSERT from staging can
(``ON CONFLICT``), so replays, overlapping backfill pages and live/backfill overlap never
duplicate a row. Staging tables are temporary and emptied at commit, so the functions here must
run inside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import AsyncConnection, sql

from eip.exchanges.contract.market_data import Trade
from eip.market_data.storage.records import StoredCandle

_TRADE_COLUMNS = (
    "exchange",
    "symbol",
    "trade_id",
    "time",
    "exchange_time",
    "received_time",
    "price",
    "amount",
    "taker_side",
    "trade_seq",
)
_CANDLE_COLUMNS = (
    "exchange",
    "symbol",
    "timeframe",
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "base_volume",
    "quote_volume",
    "trade_count",
    "closed",
    "received_time",
)
_BIGINT_MAX = 2**63 - 1


def trade_seq(trade_id: str) -> int | None:
    """The id as an integer when it is one (many venues number their trades)."""
    if trade_id.isascii() and trade_id.isdigit() and int(trade_id) <= _BIGINT_MAX:
        return int(trade_id)
    return None


async def _stage(conn: AsyncConnection, name: str, columns: str) -> None:
    await conn.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            sql.Identifier(name), sql.SQL(columns)
        )
    )


async def copy_trades(conn: AsyncConnection, schema: str, trades: Iterable[Trade]) -> int:
    """Insert trades not stored yet; return how many were new."""
    await _stage(
        conn,
        "md_stage_trades",
        "exchange text, symbol text, trade_id text, time timestamptz, exchange_time timestamptz,"
        " received_time timestamptz, price numeric, amount numeric, taker_side text,"
        " trade_seq bigint",
    )
    columns = sql.SQL(", ").join(map(sql.Identifier, _TRADE_COLUMNS))
    async with conn.cursor() as cur:
        copy_sql = sql.SQL("COPY md_stage_trades ({}) FROM STDIN").format(columns)
        async with cur.copy(copy_sql) as copy:
            for t in trades:
                await copy.write_row(
                    (
                        t.exchange,
                        t.symbol,
                        t.trade_id,
                        t.exchange_time or t.received_time,
                        t.exchange_time,
                        t.received_time,
                        t.price,
                        t.amount,
                        t.taker_side,
                        trade_seq(t.trade_id),
                    )
                )
        await cur.execute(
            sql.SQL(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM md_stage_trades ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(schema, "trades"), cols=columns)
        )
        inserted = cur.rowcount
        await cur.execute("TRUNCATE md_stage_trades")
    return max(inserted, 0)


async def upsert_candles(
    conn: AsyncConnection, schema: str, candles: Iterable[StoredCandle]
) -> int:
    """Insert new candles and update stored in-progress ones; a closed candle is final.

    Returns how many rows were inserted or updated.
    """
    await _stage(
        conn,
        "md_stage_candles",
        "exchange text, symbol text, timeframe text, open_time timestamptz, open numeric,"
        " high numeric, low numeric, close numeric, base_volume numeric, quote_volume numeric,"
        " trade_count bigint, closed boolean, received_time timestamptz",
    )
    columns = sql.SQL(", ").join(map(sql.Identifier, _CANDLE_COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in _CANDLE_COLUMNS[4:]
    )
    async with conn.cursor() as cur:
        copy_sql = sql.SQL("COPY md_stage_candles ({}) FROM STDIN").format(columns)
        async with cur.copy(copy_sql) as copy:
            for c in candles:
                await copy.write_row(
                    (
                        c.exchange,
                        c.symbol,
                        c.timeframe,
                        c.open_time,
                        c.open,
                        c.high,
                        c.low,
                        c.close,
                        c.base_volume,
                        c.quote_volume,
                        c.trade_count,
                        c.closed,
                        c.received_time,
                    )
                )
        # One row per key (ON CONFLICT DO UPDATE refuses to touch a row twice): a closed
        # version wins over in-progress ones, then the latest received.
        await cur.execute(
            sql.SQL(
                "INSERT INTO {table} AS stored ({cols})"
                " SELECT DISTINCT ON (exchange, symbol, timeframe, open_time) {cols}"
                " FROM md_stage_candles"
                " ORDER BY exchange, symbol, timeframe, open_time, closed DESC, received_time DESC"
                " ON CONFLICT (exchange, symbol, timeframe, open_time) DO UPDATE SET {updates}"
                " WHERE NOT stored.closed"
            ).format(table=sql.Identifier(schema, "candles"), cols=columns, updates=updates)
        )
        written = cur.rowcount
        await cur.execute("TRUNCATE md_stage_candles")
    return max(written, 0)
