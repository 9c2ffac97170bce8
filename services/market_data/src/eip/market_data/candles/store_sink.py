"""The candle stage's writes to PostgreSQL through ``MarketDataStore`` (COPY batches).

Trades are buffered and written every ``flush_s`` (one COPY per batch instead of one per
record); candles are written at once because they are few. Both writes are idempotent
(duplicate trades are skipped, a closed candle is never changed), so records replayed after a
restart do no harm; trades buffered at a crash are lost from storage only, where the history
side's gap detection finds them and a backfill repairs them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from eip.exchanges.contract.market_data import Trade
from eip.market_data.candles.builder import Candle
from eip.market_data.storage import MarketDataStore
from eip.market_data.storage.records import StoredCandle

log = logging.getLogger(__name__)


def stored(candle: Candle) -> StoredCandle:
    k = candle.key
    assert candle.received_time is not None  # a built candle has at least one trade
    return StoredCandle(
        k.exchange,
        k.symbol,
        k.timeframe,
        candle.open_time,
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.base_volume,
        candle.quote_volume,
        candle.trade_count,
        candle.closed,
        candle.received_time,
    )


class StoreSink:
    def __init__(
        self,
        store: Callable[[], MarketDataStore | None],
        flush_s: float = 0.5,
        max_batch: int = 5000,
    ) -> None:
        self._store = store
        self._flush_s = flush_s
        self._max_batch = max_batch
        self._trades: list[Trade] = []

    async def store_trades(self, trades: Sequence[Trade]) -> None:
        """Buffer; when the buffer is full it is written first, and if that fails nothing is
        added (the caller's record is redelivered: backpressure while the database is down)."""
        if len(self._trades) >= self._max_batch:
            if self._store() is None:
                raise ConnectionError("market-data store not ready")
            await self.flush()
        self._trades.extend(trades)

    async def store_candles(self, candles: Sequence[Candle]) -> None:
        store = self._store()
        if store is None:
            raise ConnectionError("market-data store not ready")  # transient: redelivered
        await self.flush()  # a candle is never stored before the trades it was built from
        await store.upsert_candles([stored(c) for c in candles])

    async def flush(self) -> None:
        store = self._store()
        if not self._trades or store is None:
            return
        batch, self._trades = self._trades, []
        try:
            await store.insert_trades(batch)
        except Exception:
            self._trades = batch + self._trades
            raise

    async def run(self) -> None:
        """Flush on a timer until cancelled."""
        while True:
            await asyncio.sleep(self._flush_s)
            try:
                await self.flush()
            except Exception as exc:
                log.warning(
                    "storing trades failed; retrying",
                    extra={"trades": len(self._trades), "error": repr(exc)},
                )
