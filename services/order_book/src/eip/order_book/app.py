from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.order_book import __version__
from eip.order_book.feed_factory import create_feed
from eip.order_book.routes import router
from eip.order_book.service import FeedFactory, OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.runtime import Needs, service_app


def build_app(
    settings: OrderBookSettings,
    feed_factory: FeedFactory = create_feed,
    deltas_topic: TopicSpec = MD_BOOK_DELTAS,
    snapshots_topic: TopicSpec = MD_BOOK_SNAPSHOTS,
) -> FastAPI:
    """The service's app; tests pass their own feed factory or per-test topic copies."""
    app = service_app(settings, __version__, Needs(kafka=True, database=False))
    deps = app.state.deps
    books = OrderBookService(
        settings, lambda: deps.producer, feed_factory, deltas_topic, snapshots_topic
    )
    app.state.books = books
    app.include_router(router)

    # Books start after the runtime's dependencies (Kafka opens in the background; records
    # wait in the outbox meanwhile) and stop before them, so the producer outlives the books.
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), books.running():
            yield

    app.router.lifespan_context = lifespan
    return app
