from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.events.topics import MD_CANDLES, MD_TICKERS, MD_TRADES, TopicSpec
from eip.market_data import __version__
from eip.market_data.api.live import router as live_router
from eip.market_data.candles.stream import CandleSink, CandleStream
from eip.market_data.live.adapters import AdapterFactory, create_adapter
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings
from eip.runtime import Needs, service_app


def build_app(
    settings: MarketDataSettings,
    adapter_factory: AdapterFactory = create_adapter,
    trades_topic: TopicSpec = MD_TRADES,
    tickers_topic: TopicSpec = MD_TICKERS,
    candles_topic: TopicSpec = MD_CANDLES,
    sink: Callable[[], CandleSink | None] = lambda: None,
) -> FastAPI:
    """The service's app; tests pass their own adapter factory or per-test topic copies."""
    app = service_app(settings, __version__, Needs(kafka=True, database=True))
    deps = app.state.deps
    live = LiveService(
        settings, lambda: deps.producer, adapter_factory, trades_topic, tickers_topic
    )
    candles = CandleStream(settings, lambda: deps.producer, sink, trades_topic, candles_topic)
    app.state.live = live
    app.state.candles = candles
    app.include_router(live_router)

    # Live streams start after the runtime's dependencies (Kafka opens in the background;
    # records wait in the outbox meanwhile) and stop before them.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), live.running():
            task = (
                asyncio.create_task(candles.supervise(), name="md-candles")
                if settings.candles_enabled
                else None
            )
            try:
                yield
            finally:
                if task is not None:
                    candles.stop()
                    try:
                        await asyncio.wait_for(task, 5.0)
                    except (TimeoutError, Exception):
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
