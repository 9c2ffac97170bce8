"""Reads: trades by time with keyset paging, candles native or rolled up from 1m, gaps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, cast

from psycopg import AsyncConnection, sql

from eip.exchanges.contract.market_data import Timeframe, Trade
from eip.market_data.storage.records import CandleSeries, Gap, StoredCandle
from eip.market_data.storage.timeframes import ceil_to, floor_to, open_times, step

MINUTES_IN: dict[Timeframe, int] = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440}


async def trades_page(
    conn: AsyncConnection,
    schema: str,
    exchange: str,
    symbol: str,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Trade]:
    """Trades with time in [start, end), oldest first, strictly after the ``after`` key."""
    query = sql.SQL(
        "SELECT exchange, symbol, trade_id, price, amount, taker_side, exchange_time,"
        " received_time FROM {} WHERE exchange = %s AND symbol = %s AND time >= %s"
        " AND time < %s {} ORDER BY time, trade_id LIMIT %s"
    )
    params: list[Any] = [exchange, symbol, start, end]
    keyset = sql.SQL("")
    if after is not None:
        keyset = sql.SQL("AND (time, trade_id) > (%s, %s)")
        params += list(after)
    params.append(limit)
    cur = await conn.execute(query.format(sql.Identifier(schema, "trades"), keyset), params)
    return [
        Trade(
            exchange=r[0],
            symbol=r[1],
            trade_id=r[2],
            price=r[3],
            amount=r[4],
            taker_side=r[5],
            exchange_time=r[6],
            received_time=r[7],
        )
        for r in await cur.fetchall()
    ]


def _candle(row: tuple[Any, ...], timeframe: Timeframe) -> StoredCandle:
    return StoredCandle(
        exchange=row[0],
        symbol=row[1],
        timeframe=timeframe,
        open_time=row[2],
        open=row[3],
        high=row[4],
        low=row[5],
        close=row[6],
        base_volume=row[7],
        quote_volume=row[8],
        trade_count=None if row[9] is None else int(row[9]),
        closed=bool(row[10]),
        received_time=row[11],
    )


async def candle_series(
    conn: AsyncConnection,
    schema: str,
    exchange: str,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    now: datetime,
) -> CandleSeries:
    """Candles opening in [start, end): the stored ones of ``timeframe``, and for intervals
    without one, candles aggregated from stored 1m candles (buckets aligned to the Unix epoch,
    as the venues align theirs). Live candles are stored for every timeframe while backfills
    often bring 1m only, so a range may need both."""
    table = sql.Identifier(schema, "candles")
    cur = await conn.execute(
        sql.SQL(
            "SELECT exchange, symbol, open_time, open, high, low, close, base_volume,"
            " quote_volume, trade_count, closed, received_time FROM {} WHERE exchange = %s"
            " AND symbol = %s AND timeframe = %s AND open_time >= %s AND open_time < %s"
            " ORDER BY open_time"
        ).format(table),
        (exchange, symbol, timeframe, start, end),
    )
    native = [_candle(r, timeframe) for r in await cur.fetchall()]
    ended = open_times(start, min(end, floor_to(now, timeframe)), timeframe)
    # an interval that has not ended yet cannot be missing
    ended = [t for t in ended if t + step(timeframe) <= now]
    have = {c.open_time for c in native}
    if timeframe == "1m":
        return CandleSeries(native, "native", len(ended), [t for t in ended if t not in have])
    minutes = MINUTES_IN[timeframe]
    cur = await conn.execute(
        sql.SQL(
            "SELECT exchange, symbol, date_bin(%s, open_time, TIMESTAMPTZ '1970-01-01 00:00Z')"
            " AS bucket,"
            " (array_agg(open ORDER BY open_time))[1], max(high), min(low),"
            " (array_agg(close ORDER BY open_time DESC))[1], sum(base_volume),"
            " CASE WHEN count(quote_volume) = count(*) THEN sum(quote_volume) END,"
            " CASE WHEN count(trade_count) = count(*) THEN sum(trade_count) END,"
            " bool_and(closed) AND count(*) = %s, max(received_time), count(*)"
            " FROM {} WHERE exchange = %s AND symbol = %s AND timeframe = '1m'"
            " AND open_time >= %s AND open_time < %s"
            " GROUP BY exchange, symbol, bucket ORDER BY bucket"
        ).format(table),
        (
            step(timeframe),
            minutes,
            exchange,
            symbol,
            ceil_to(start, timeframe),
            ceil_to(end, timeframe),
        ),
    )
    rows = [r for r in await cur.fetchall() if r[2] < end and r[2] not in have]
    rolled = [_candle(r[:12], timeframe) for r in rows]
    full = have | {r[2] for r in rows if int(r[12]) == minutes}
    source: Literal["native", "rollup", "mixed"] = (
        "mixed" if native and rolled else "native" if native else "rollup"
    )
    candles = sorted(native + rolled, key=lambda c: c.open_time)
    return CandleSeries(candles, source, len(ended), [t for t in ended if t not in full])


async def candle_gaps(
    conn: AsyncConnection,
    schema: str,
    exchange: str,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
) -> list[Gap]:
    """Runs of missing open times in [start, end); each gap spans [first missing, last + step)."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT open_time FROM {} WHERE exchange = %s AND symbol = %s AND timeframe = %s"
            " AND open_time >= %s AND open_time < %s"
        ).format(sql.Identifier(schema, "candles")),
        (exchange, symbol, timeframe, start, end),
    )
    have = {cast(datetime, r[0]) for r in await cur.fetchall()}
    width = step(timeframe)
    gaps: list[Gap] = []
    for moment in open_times(start, end, timeframe):
        if moment in have:
            continue
        if gaps and gaps[-1].end == moment:
            gaps[-1] = Gap(gaps[-1].start, moment + width)
        else:
            gaps.append(Gap(moment, moment + width))
    return gaps


async def trade_gaps(
    conn: AsyncConnection,
    schema: str,
    exchange: str,
    symbol: str,
    start: datetime,
    end: datetime,
    sequential_ids: bool,
    max_quiet: timedelta,
) -> list[Gap]:
    """Holes between consecutive stored trades in [start, end).

    With sequential ids (a venue's trade ids counting up, ``sequential_ids``) a hole is a
    jump in the id; otherwise it is a silence longer than ``max_quiet``, which on a quiet
    market may be no hole at all. Holes before the first or after the last stored trade
    cannot be seen from stored data.
    """
    order = sql.SQL("trade_seq" if sequential_ids else "time, trade_id")
    jump = sql.SQL("seq - prev_seq > 1" if sequential_ids else "time - prev_time > %s")
    params: list[Any] = [exchange, symbol, start, end]
    if not sequential_ids:
        params.append(max_quiet)
    cur = await conn.execute(
        sql.SQL(
            "SELECT prev_time, time, prev_seq, seq FROM ("
            " SELECT time, trade_seq AS seq, lag(time) OVER w AS prev_time,"
            " lag(trade_seq) OVER w AS prev_seq FROM {}"
            " WHERE exchange = %s AND symbol = %s AND time >= %s AND time < %s"
            " WINDOW w AS (ORDER BY {})) s WHERE prev_time IS NOT NULL AND {}"
        ).format(sql.Identifier(schema, "trades"), order, jump),
        params,
    )
    gaps = []
    for prev_time, time, prev_seq, seq in await cur.fetchall():
        ids = (int(prev_seq) + 1, int(seq) - 1) if sequential_ids else (None, None)
        gaps.append(Gap(prev_time, time, ids[0], ids[1]))
    return gaps
