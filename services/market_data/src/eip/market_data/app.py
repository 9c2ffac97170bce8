from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from eip.events.topics import MD_CANDLES, MD_TICKERS, MD_TRADES, TopicSpec
from eip.market_data import __version__
from eip.market_data.api.history import history_router
from eip.market_data.api.live import router as live_router
from eip.market_data.candles.store_sink import StoreSink
from eip.market_data.candles.stream import CandleStream
from eip.market_data.history import HistoryService
from eip.market_data.live.adapters import AdapterFactory, create_adapter
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings
from eip.market_data.storage import MIGRATIONS
from eip.runtime import Needs, service_app
from eip.storage.subscriptions import SubscriptionChanges

STOP_S = 5.0
log = logging.getLogger(__name__)


def build_app(
    settings: MarketDataSettings,
    adapter_factory: AdapterFactory = create_adapter,
    trades_topic: TopicSpec = MD_TRADES,
    tickers_topic: TopicSpec = MD_TICKERS,
    candles_topic: TopicSpec = MD_CANDLES,
) -> FastAPI:
    """The service's app; tests pass their own adapter factory or per-test topic copies."""
    app = service_app(settings, __version__, Needs(kafka=True, database=True))
    deps = app.state.deps
    changes = SubscriptionChanges(
        lambda: deps.db, settings.history_schema, MIGRATIONS, settings.connect_timeout_s
    )
    history: HistoryService | None = None

    async def backfill(exchange: str, symbol: str, start: datetime, end: datetime) -> None:
        """Trades missed beyond the catch-up bound become a backfill job (into storage)."""
        store = None if history is None else history.store
        if store is None:
            raise RuntimeError("the history store is not ready")
        await store.create_job(exchange, symbol, "trades", None, start, end)

    live = LiveService(
        settings,
        lambda: deps.producer,
        adapter_factory,
        trades_topic,
        tickers_topic,
        changes,
        backfill=backfill,
    )
    history = HistoryService(settings, lambda: deps.db, live.adapter_for)
    sink = StoreSink(lambda: history.store)
    candles = CandleStream(
        settings, lambda: deps.producer, lambda: sink, trades_topic, candles_topic
    )
    app.state.live = live
    app.state.history = history
    app.state.candles = candles
    app.include_router(live_router)
    app.include_router(history_router(lambda: history))

    # Live streams start after the runtime's dependencies (Kafka and PostgreSQL open in the
    # background; records wait in the outbox meanwhile) and stop before them.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), live.running():
            tasks = [
                asyncio.create_task(history.supervise(), name="md-history"),
                asyncio.create_task(sink.run(), name="md-store-sink"),
            ]
            stage = (
                asyncio.create_task(candles.supervise(), name="md-candles")
                if settings.candles_enabled
                else None
            )
            try:
                yield
            finally:
                if stage is not None:
                    candles.stop()  # finishes the record in hand and commits
                    try:
                        await asyncio.wait_for(stage, STOP_S)
                    except Exception:
                        stage.cancel()
                        await asyncio.gather(stage, return_exceptions=True)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                try:
                    await sink.flush()
                except Exception as exc:  # backfill repairs the stored trades; see store_sink
                    log.warning("trades not stored at shutdown", extra={"error": repr(exc)})

    app.router.lifespan_context = lifespan
    return app
