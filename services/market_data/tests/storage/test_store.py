"""MarketDataStore against the real PostgreSQL, one schema per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.market_data import Trade
from eip.market_data.storage import MarketDataStore, StoredCandle

pytestmark = pytest.mark.integration

T0 = datetime(2019, 3, 4, 10, 0, tzinfo=UTC)


def trade(i: int, at: datetime, price: str = "100.5") -> Trade:
    return Trade(
        exchange="binance",
        symbol="BTC/USDT",
        trade_id=str(i),
        price=Decimal(price),
        amount=Decimal("0.00100000"),
        taker_side="buy" if i % 2 else "sell",
        exchange_time=at,
        received_time=at + timedelta(milliseconds=5),
    )


def candle(at: datetime, close: str, closed: bool = True, tf: str = "1m") -> StoredCandle:
    return StoredCandle(
        exchange="binance",
        symbol="BTC/USDT",
        timeframe=tf,  # type: ignore[arg-type]
        open_time=at,
        open=Decimal("10"),
        high=Decimal("12"),
        low=Decimal("9"),
        close=Decimal(close),
        base_volume=Decimal("1.5"),
        quote_volume=None,
        trade_count=3,
        closed=closed,
        received_time=at + timedelta(minutes=1),
    )


@pytest.fixture
async def store(db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str) -> MarketDataStore:
    s = MarketDataStore(db_pool, db_schema)
    await s.migrate()
    return s


async def partitions(store: MarketDataStore, table: str) -> set[str]:
    async with store.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n"
            " ON n.oid = p.relnamespace WHERE n.nspname = %s AND p.relname = %s",
            (store.schema, table),
        )
        return {r[0] for r in await cur.fetchall()}


async def test_insert_twice_stores_each_trade_once(store: MarketDataStore) -> None:
    batch = [trade(i, T0 + timedelta(seconds=i)) for i in range(100)]
    assert await store.insert_trades(batch) == 100
    # a replay, and an overlapping page with 50 new ones
    assert await store.insert_trades(batch) == 0
    more = [trade(i, T0 + timedelta(seconds=i)) for i in range(50, 150)]
    assert await store.insert_trades(more) == 50
    stored = await store.trades("binance", "BTC/USDT", T0, T0 + timedelta(days=1), 1000)
    assert [t.trade_id for t in stored] == [str(i) for i in range(150)]
    assert stored[0] == batch[0]  # exact decimals and both times round-trip


async def test_partitions_are_created_for_old_dates(store: MarketDataStore) -> None:
    old = datetime(2017, 8, 17, 23, 59, tzinfo=UTC)
    await store.insert_trades([trade(1, old), trade(2, old + timedelta(minutes=2))])
    await store.upsert_candles([candle(old, "11")])
    assert {"trades_p20170817", "trades_p20170818"} <= await partitions(store, "trades")
    assert "candles_p201708" in await partitions(store, "candles")


async def test_maintenance_creates_ahead_and_drops_expired(store: MarketDataStore) -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    await store.insert_trades([trade(1, now - timedelta(days=40))])
    dropped = await store.maintain(now, timedelta(days=2), timedelta(days=30), None)
    assert dropped == [f"trades_p{(now - timedelta(days=40)):%Y%m%d}"]
    assert {"trades_p20261126", "trades_p20261127"} <= await partitions(store, "trades")
    # a late write into the dropped range gets its partition back
    assert await store.insert_trades([trade(2, now - timedelta(days=40))]) == 1


async def test_closed_candle_is_final(store: MarketDataStore) -> None:
    at = T0
    await store.upsert_candles([candle(at, "10.5", closed=False)])
    await store.upsert_candles([candle(at, "10.7", closed=False)])
    series = await store.candles("binance", "BTC/USDT", "1m", at, at + timedelta(minutes=1))
    assert [(c.close, c.closed) for c in series.candles] == [(Decimal("10.7"), False)]
    await store.upsert_candles([candle(at, "10.8", closed=True)])
    assert await store.upsert_candles([candle(at, "99", closed=False)]) == 0
    series = await store.candles("binance", "BTC/USDT", "1m", at, at + timedelta(minutes=1))
    assert [(c.close, c.closed) for c in series.candles] == [(Decimal("10.8"), True)]
    assert series.source == "native"
    assert series.complete


async def test_trade_gaps_by_id_and_by_time(store: MarketDataStore) -> None:
    kept = [i for i in range(100) if not 40 <= i < 60]
    await store.insert_trades([trade(i, T0 + timedelta(seconds=i)) for i in kept])
    end = T0 + timedelta(hours=1)
    by_id = await store.trade_gaps(
        "binance", "BTC/USDT", T0, end, sequential_ids=True, max_quiet=timedelta(0)
    )
    assert [(g.first_id, g.last_id) for g in by_id] == [(40, 59)]
    assert (by_id[0].start, by_id[0].end) == (
        T0 + timedelta(seconds=39),
        T0 + timedelta(seconds=60),
    )
    by_time = await store.trade_gaps(
        "binance", "BTC/USDT", T0, end, sequential_ids=False, max_quiet=timedelta(seconds=10)
    )
    assert [(g.start, g.end) for g in by_time] == [
        (T0 + timedelta(seconds=39), T0 + timedelta(seconds=60))
    ]


async def test_candle_gaps_and_missing_in_rollups(store: MarketDataStore) -> None:
    minutes = [m for m in range(60) if m not in (7, 8, 30)]
    await store.upsert_candles([candle(T0 + timedelta(minutes=m), "10") for m in minutes])
    gaps = await store.candle_gaps("binance", "BTC/USDT", "1m", T0, T0 + timedelta(hours=1))
    assert [(g.start, g.end) for g in gaps] == [
        (T0 + timedelta(minutes=7), T0 + timedelta(minutes=9)),
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=31)),
    ]
    series = await store.candles("binance", "BTC/USDT", "15m", T0, T0 + timedelta(hours=1))
    assert series.source == "rollup"
    assert series.expected == 4
    assert series.missing == [T0, T0 + timedelta(minutes=30)]
    assert [c.closed for c in series.candles] == [False, True, False, True]


async def test_candles_mix_stored_intervals_with_rollups_where_none_is_stored(
    store: MarketDataStore,
) -> None:
    # backfill brought 1m candles for the first two hours; live stored the third hour's 1h
    await store.upsert_candles([candle(T0 + timedelta(minutes=m), "10") for m in range(120)])
    await store.upsert_candles([candle(T0 + timedelta(hours=2), "42", tf="1h")])
    series = await store.candles(
        "binance", "BTC/USDT", "1h", T0, T0 + timedelta(hours=3), now=T0 + timedelta(days=1)
    )
    assert series.source == "mixed"
    assert [(c.open_time, c.close) for c in series.candles] == [
        (T0, Decimal("10")),
        (T0 + timedelta(hours=1), Decimal("10")),
        (T0 + timedelta(hours=2), Decimal("42")),
    ]
    assert [c.base_volume for c in series.candles] == [
        Decimal("90.0"),
        Decimal("90.0"),
        Decimal("1.5"),
    ]
    assert series.complete
