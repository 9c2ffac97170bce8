"""Rolled-up candles equal a naive Python aggregation of the same stored 1m candles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Timeframe
from eip.market_data.storage import MarketDataStore, StoredCandle

pytestmark = pytest.mark.integration

DAY0 = datetime(2025, 12, 31, 0, 0, tzinfo=UTC)
prices = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("99999"), places=8)
minute_candles = st.dictionaries(
    st.integers(min_value=0, max_value=2 * 1440 - 1),  # two days, across a year boundary
    st.tuples(prices, prices, prices, prices, prices, st.booleans()),
    min_size=1,
    max_size=120,
)


def naive(
    rows: list[StoredCandle], timeframe: Timeframe, start: datetime, end: datetime
) -> list[tuple[object, ...]]:
    width = TIMEFRAME_SECONDS[timeframe]
    buckets: dict[datetime, list[StoredCandle]] = {}
    for c in sorted(rows, key=lambda c: c.open_time):
        seconds = int(c.open_time.timestamp())
        bucket = datetime.fromtimestamp(seconds - seconds % width, UTC)
        buckets.setdefault(bucket, []).append(c)
    return [
        (
            b,
            cs[0].open,
            max(c.high for c in cs),
            min(c.low for c in cs),
            cs[-1].close,
            sum((c.base_volume for c in cs), Decimal(0)),
            all(c.closed for c in cs) and len(cs) == width // 60,
        )
        for b, cs in sorted(buckets.items())
        if start <= b < end
    ]


@pytest.fixture
async def store(db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str) -> MarketDataStore:
    s = MarketDataStore(db_pool, db_schema)
    await s.migrate()
    return s


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    candles=minute_candles,
    timeframe=st.sampled_from(["5m", "15m", "1h", "4h", "1d"]),
    start_minute=st.integers(min_value=0, max_value=1440),
    span_minutes=st.integers(min_value=1, max_value=2 * 1440),
)
async def test_rollup_equals_naive_aggregation(
    store: MarketDataStore,
    candles: dict[int, tuple[Decimal, Decimal, Decimal, Decimal, Decimal, bool]],
    timeframe: Timeframe,
    start_minute: int,
    span_minutes: int,
) -> None:
    symbol = f"T{uuid.uuid4().hex[:8]}/USDT"  # one symbol per example: examples share a schema
    rows = [
        StoredCandle(
            exchange="binance",
            symbol=symbol,
            timeframe="1m",
            open_time=DAY0 + timedelta(minutes=m),
            open=o,
            high=max(o, h, low, c),
            low=min(o, h, low, c),
            close=c,
            base_volume=v,
            quote_volume=None,
            trade_count=None,
            closed=closed,
            received_time=DAY0 + timedelta(minutes=m + 1),
        )
        for m, (o, h, low, c, v, closed) in candles.items()
    ]
    await store.upsert_candles(rows)
    start = DAY0 + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=span_minutes)
    series = await store.candles(
        "binance", symbol, timeframe, start, end, now=DAY0 + timedelta(days=3)
    )
    assert series.source == "rollup"
    got = [
        (c.open_time, c.open, c.high, c.low, c.close, c.base_volume, c.closed)
        for c in series.candles
    ]
    assert got == naive(rows, timeframe, start, end)
    assert all(c.quote_volume is None for c in series.candles)
    width = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // width) * width  # the first bucket opening at/after start
    buckets = [first + n * width for n in range((end - first) // width + 1)]
    counts = {b: sum(1 for r in rows if b <= r.open_time < b + width) for b in buckets}
    expected_missing = [
        b for b in buckets if b < end and counts[b] != width // timedelta(minutes=1)
    ]
    assert series.missing == expected_missing
