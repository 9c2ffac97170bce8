"""StoreSink: the live side's trades and built candles land in the history tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.market_data import Timeframe, Trade
from eip.market_data.storage import MarketDataStore
from eip.market_data.storage.sink import StoreSink

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Key:  # shaped like the live candle builder's CandleKey
    exchange: str
    symbol: str
    timeframe: Timeframe


@dataclass
class Built:  # shaped like the live candle builder's Candle
    key: Key
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    quote_volume: Decimal
    trade_count: int
    closed: bool = False
    exchange_time: datetime | None = None
    received_time: datetime | None = None


async def test_live_trades_and_candles_are_stored(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> None:
    store = MarketDataStore(db_pool, db_schema)
    await store.migrate()
    sink = StoreSink(store, clock=lambda: T0 + timedelta(minutes=5))
    trade = Trade("kraken", "BTC/USD", "t-1", Decimal("1.5"), Decimal("2"), None, None, T0)
    await sink.store_trades([trade])
    await sink.store_trades([trade])
    stored = await store.trades("kraken", "BTC/USD", T0, T0 + timedelta(seconds=1), 10)
    assert stored == [trade]  # no venue time: filed under the received time, once

    key = Key("kraken", "BTC/USD", "5m")
    built = Built(
        key, T0, Decimal(1), Decimal(3), Decimal("0.5"), Decimal(2), Decimal(7), Decimal(14), 4
    )
    await sink.store_candles([built])
    built.close, built.closed = Decimal("2.5"), True
    await sink.store_candles([built])
    series = await store.candles("kraken", "BTC/USD", "5m", T0, T0 + timedelta(minutes=5))
    assert series.source == "native"
    assert [(c.close, c.closed, c.quote_volume, c.trade_count) for c in series.candles] == [
        (Decimal("2.5"), True, Decimal(14), 4)
    ]
    assert series.candles[0].received_time == T0 + timedelta(minutes=5)
