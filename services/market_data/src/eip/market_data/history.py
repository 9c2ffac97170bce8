"""The history side of the service at run time: migrations, partition maintenance and the
backfill worker, started once the database pool is open.

``app.py`` creates one ``HistoryService``, runs ``supervise()`` as a task for the app's
lifetime and includes ``eip.market_data.api.history.history_router(lambda: service)``.
Interrupted backfill jobs resume on start: the worker claims them once their lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.market_data.backfill.runner import AdapterFor, BackfillConfig, BackfillRunner
from eip.market_data.settings import MarketDataSettings
from eip.market_data.storage import MarketDataStore

log = logging.getLogger(__name__)
PoolGetter = Callable[[], "AsyncConnectionPool[AsyncConnection] | None"]


def backfill_config(settings: MarketDataSettings) -> BackfillConfig:
    return BackfillConfig(
        page_limit=settings.history_backfill_page_limit,
        lease=timedelta(seconds=settings.history_backfill_lease_s),
        sequential_id_exchanges=frozenset(settings.history_sequential_id_exchanges),
        max_quiet=timedelta(seconds=settings.history_trade_max_quiet_s),
    )


def _days(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(days=value)


class HistoryService:
    def __init__(
        self,
        settings: MarketDataSettings,
        pool: PoolGetter,
        adapter_for: AdapterFor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._pool = pool
        self._adapter_for = adapter_for
        self.clock = clock
        self.store: MarketDataStore | None = None
        self.runner: BackfillRunner | None = None
        self.ready = asyncio.Event()

    async def supervise(self) -> None:
        """Until cancelled: wait for the pool, migrate, then maintain partitions and run
        backfill jobs; a failing loop is restarted after a pause, never the whole service."""
        pool = self._pool()
        while pool is None:  # the runtime opens the database in the background
            await asyncio.sleep(0.2)
            pool = self._pool()
        store = MarketDataStore(pool, self.settings.history_schema)
        while True:
            try:
                await store.migrate()
                break
            except Exception:
                log.exception("market-data history migrations failed; retrying")
                await asyncio.sleep(5.0)
        self.store = store
        self.runner = BackfillRunner(
            store, self.adapter, backfill_config(self.settings), self.clock
        )
        self.ready.set()
        await asyncio.gather(
            self._forever("partition maintenance", self.maintain_once, self._maintenance_pause),
            self._forever("backfill worker", self._work, lambda: 1.0),
        )

    async def adapter(self, exchange: str) -> MarketDataAdapter:
        """The exchange's adapter from ``adapter_for``, whose owner caches and closes adapters
        (in the service: the live side, so backfill shares each exchange's rate limiter)."""
        return await self._adapter_for(exchange)

    def _maintenance_pause(self) -> float:
        return self.settings.history_maintenance_interval_s

    async def maintain_once(self) -> None:
        assert self.store is not None
        s = self.settings
        dropped = await self.store.maintain(
            self.clock(),
            timedelta(days=s.history_partitions_ahead_days),
            _days(s.history_trades_retention_days),
            _days(s.history_candles_retention_days),
        )
        if dropped:
            log.info("dropped expired partitions", extra={"partitions": dropped})

    async def _work(self) -> None:
        assert self.runner is not None
        await self.runner.run_pending()

    async def _forever(
        self, name: str, step: Callable[[], Awaitable[None]], pause: Callable[[], float]
    ) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market-data %s failed; restarting", name)
            await asyncio.sleep(pause())
