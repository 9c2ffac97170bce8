from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.order_book import __version__
from eip.order_book.feed_factory import create_feed
from eip.order_book.routes import router
from eip.order_book.service import FeedFactory, OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.order_book.symbols import SymbolCheck, VenueSymbols
from eip.runtime import Needs, service_app
from eip.storage.subscriptions import SubscriptionChanges

# Runtime subscription changes (eip.storage.subscriptions), in settings.subscriptions_schema.
MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(
    settings: OrderBookSettings,
    feed_factory: FeedFactory = create_feed,
    deltas_topic: TopicSpec = MD_BOOK_DELTAS,
    snapshots_topic: TopicSpec = MD_BOOK_SNAPSHOTS,
    symbol_check: SymbolCheck | None = None,
) -> FastAPI:
    """The service's app; tests pass their own feed factory, per-test topic copies or symbol
    check (by default the venues' own metadata, ``VenueSymbols``)."""
    app = service_app(settings, __version__, Needs(kafka=True, database=True))
    deps = app.state.deps
    changes = SubscriptionChanges(
        lambda: deps.db, settings.subscriptions_schema, MIGRATIONS, settings.connect_timeout_s
    )
    venues = VenueSymbols(settings)
    books = OrderBookService(
        settings,
        lambda: deps.producer,
        feed_factory,
        deltas_topic,
        snapshots_topic,
        changes,
        symbol_check or venues.check,
    )
    app.state.books = books
    app.include_router(router)

    # Books start after the runtime's dependencies (Kafka opens in the background; records
    # wait in the outbox meanwhile) and stop before them, so the producer outlives the books.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), books.running():
            try:
                yield
            finally:
                await venues.aclose()

    app.router.lifespan_context = lifespan
    return app
