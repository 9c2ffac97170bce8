"""``StoreSink``: the live candle stage's sink (``store_trades`` / ``store_candles``) over
``MarketDataStore``, so live trades and built candles land in the same tables as backfilled
history. Candles are taken structurally (anything shaped like the builder's ``Candle``), so the
storage side does not depend on the live side's modules.

Call it with batches: every call is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from eip.exchanges.market_data import Timeframe, Trade
from eip.market_data.storage.records import StoredCandle
from eip.market_data.storage.store import MarketDataStore


class _Key(Protocol):
    @property
    def exchange(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def timeframe(self) -> Timeframe: ...


class BuiltCandle(Protocol):
    @property
    def key(self) -> _Key: ...
    @property
    def open_time(self) -> datetime: ...
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...
    @property
    def base_volume(self) -> Decimal: ...
    @property
    def quote_volume(self) -> Decimal | None: ...
    @property
    def trade_count(self) -> int | None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def received_time(self) -> datetime | None: ...


class StoreSink:
    def __init__(
        self, store: MarketDataStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    async def store_trades(self, trades: Sequence[Trade]) -> None:
        await self.store.insert_trades(trades)

    async def store_candles(self, candles: Sequence[BuiltCandle]) -> None:
        now = self.clock()
        await self.store.upsert_candles(
            [
                StoredCandle(
                    exchange=c.key.exchange,
                    symbol=c.key.symbol,
                    timeframe=c.key.timeframe,
                    open_time=c.open_time,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    base_volume=c.base_volume,
                    quote_volume=c.quote_volume,
                    trade_count=c.trade_count,
                    closed=c.closed,
                    received_time=c.received_time or now,
                )
                for c in candles
            ]
        )
