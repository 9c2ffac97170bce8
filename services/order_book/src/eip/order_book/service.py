"""The running service: feeds into the manager, the manager's records out to Kafka, periodic
snapshots, and subscription changes while running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from eip.bus import Producer
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.order_book.feed_factory import create_feed
from eip.order_book.feed_protocol import BookFeed
from eip.order_book.manager import BookManager
from eip.order_book.outbox import KafkaPublisher, Outbox
from eip.order_book.settings import OrderBookSettings
from eip.order_book.sync_events import BookKey
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

FeedFactory = Callable[[str, OrderBookSettings], BookFeed]
# A feed's run() should only return when cancelled; if it crashes it is restarted after a
# jittered backoff, capped so a venue outage is retried about twice a minute.
RESTART = RetryPolicy(attempts=10, base_delay_s=1.0, max_delay_s=30.0)
SHUTDOWN_DRAIN_S = 5.0


class OrderBookService:
    def __init__(
        self,
        settings: OrderBookSettings,
        producer: Callable[[], Producer | None],
        feed_factory: FeedFactory = create_feed,
        deltas_topic: TopicSpec = MD_BOOK_DELTAS,
        snapshots_topic: TopicSpec = MD_BOOK_SNAPSHOTS,
    ) -> None:
        self.settings = settings
        self.outbox = Outbox(settings.outbox_size)
        self.manager = BookManager(
            self.outbox, settings.snapshot_depth, deltas_topic, snapshots_topic
        )
        self.publisher = KafkaPublisher(self.outbox, producer, self.manager.publication_lost)
        self._feed_factory = feed_factory
        self.feeds: dict[str, BookFeed] = {}
        self._feed_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OrderBookService]:
        """Start the configured feeds (none is fine), the publisher and the snapshot timer."""
        self._tasks = [
            asyncio.create_task(self.publisher.run(), name="order-book-publisher"),
            asyncio.create_task(self._snapshot_timer(), name="order-book-snapshots"),
        ]
        try:
            for exchange, symbols in self.settings.subscriptions.items():
                if symbols:
                    self._start_feed(exchange)
            yield self
        finally:
            feeds = list(self._feed_tasks.values())
            for task in feeds:
                task.cancel()
            await asyncio.gather(*feeds, return_exceptions=True)
            self._feed_tasks.clear()
            # What the books published before stopping reaches Kafka, if Kafka is there.
            if self.publisher.connected():
                try:
                    await asyncio.wait_for(self.publisher.drain(), SHUTDOWN_DRAIN_S)
                except Exception as exc:
                    log.warning(
                        "records left unpublished at shutdown",
                        extra={"records": len(self.outbox), "error": repr(exc)},
                    )
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def subscriptions(self) -> dict[str, list[str]]:
        return {ex: sorted(feed.symbols) for ex, feed in sorted(self.feeds.items())}

    async def subscribe(self, exchange: str, symbol: str) -> None:
        """Raises ``ConfigError`` for an exchange without a feed."""
        feed = self.feeds.get(exchange) or self._start_feed(exchange)
        await feed.subscribe(symbol)

    async def unsubscribe(self, exchange: str, symbol: str) -> bool:
        feed = self.feeds.get(exchange)
        if feed is None or symbol not in feed.symbols:
            return False
        await feed.unsubscribe(symbol)
        self.manager.forget(BookKey(exchange, symbol))
        return True

    def _start_feed(self, exchange: str) -> BookFeed:
        feed = self._feed_factory(exchange, self.settings)
        self.feeds[exchange] = feed
        self._feed_tasks[exchange] = asyncio.create_task(
            self._run_feed(feed), name=f"order-book-feed-{exchange}"
        )
        return feed

    async def _run_feed(self, feed: BookFeed) -> None:
        delays = RESTART.delays()
        while True:
            try:
                await feed.run(self.manager.emit)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = next(delays, RESTART.max_delay_s)
                log.error(
                    "book feed failed; restarting",
                    extra={
                        "exchange": feed.exchange,
                        "error": f"{type(exc).__name__}: {exc}",
                        "retry_in_s": round(delay, 2),
                    },
                )
                for symbol in feed.symbols:
                    # Whatever the feed did not report, its books cannot be trusted now.
                    state = self.manager.get(BookKey(feed.exchange, symbol))
                    if state is not None and state.in_sync:
                        self.manager.mark_out_of_sync(state.key, "error", f"feed crashed: {exc!r}")
                await asyncio.sleep(delay)

    async def _snapshot_timer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.snapshot_interval_s)
            try:
                self.manager.publish_snapshots()
            except Exception:  # a bug here must not stop later snapshots; it is logged
                log.exception("periodic snapshots failed")
