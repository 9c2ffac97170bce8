"""The running service: feeds into the manager, the manager's records out to Kafka, periodic
snapshots, and subscription changes while running.

Subscriptions changed over HTTP (``add``/``remove``) are stored in PostgreSQL
(``eip.storage.subscriptions``) before the answer, and applied on top of the configured ones at
start-up, so a restart keeps what operators added and removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal

from eip.bus import Producer
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.book_feed import BookFeed
from eip.exchanges.contract.errors import TransientExchangeError
from eip.order_book.feed_factory import create_feed
from eip.order_book.manager import BookManager
from eip.order_book.outbox import KafkaPublisher, Outbox
from eip.order_book.settings import OrderBookSettings
from eip.order_book.symbols import SymbolCheck
from eip.resilience import RetryPolicy
from eip.storage import DatabaseUnavailable
from eip.storage.subscriptions import (
    SubscriptionChange,
    SubscriptionChanges,
    change_slot,
    effective,
    restore_or_fall_back,
)

log = logging.getLogger(__name__)

FeedFactory = Callable[[str, OrderBookSettings], BookFeed]
# A feed's run() should only return when cancelled; if it crashes it is restarted after a
# jittered backoff, capped so a venue outage is retried about twice a minute.
RESTART = RetryPolicy(attempts=10, base_delay_s=1.0, max_delay_s=30.0)
SHUTDOWN_DRAIN_S = 5.0
# How long start-up waits for the stored subscription changes before it starts the configured
# books alone (a database outage must not stop the books); the stored changes are applied as
# soon as they can be read.
RESTORE_WAIT_S = 10.0
Key = tuple[str, str]  # (exchange, symbol)


class OrderBookService:
    def __init__(
        self,
        settings: OrderBookSettings,
        producer: Callable[[], Producer | None],
        feed_factory: FeedFactory = create_feed,
        deltas_topic: TopicSpec = MD_BOOK_DELTAS,
        snapshots_topic: TopicSpec = MD_BOOK_SNAPSHOTS,
        changes: SubscriptionChanges | None = None,
        symbol_check: SymbolCheck | None = None,
        restore_wait_s: float = RESTORE_WAIT_S,
    ) -> None:
        """Without ``changes`` (tests of the books alone) only the configured subscriptions run
        and ``add``/``remove`` raise ``DatabaseUnavailable``; without ``symbol_check`` every
        symbol of a supported exchange is taken."""
        self.settings = settings
        self.outbox = Outbox(settings.outbox_size)
        self.manager = BookManager(
            self.outbox,
            settings.snapshot_depth,
            deltas_topic,
            snapshots_topic,
            epoch_floor=int(time.time() * 1000),
        )
        self.publisher = KafkaPublisher(self.outbox, producer, self.manager.publication_lost)
        self._feed_factory = feed_factory
        self.feeds: dict[str, BookFeed] = {}
        self._feed_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._changes = changes
        self._symbol_check = symbol_check
        self._restore_wait_s = restore_wait_s
        # the runtime change behind each subscription made or kept by one; absent: from config
        self._runtime: dict[Key, SubscriptionChange] = {}
        self._change_lock = asyncio.Lock()
        self.restored = asyncio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OrderBookService]:
        """Start the publisher, the snapshot timer and the feeds of the effective subscriptions
        (configured, plus and minus the stored runtime changes; ``restored`` is set once they
        run; none is fine)."""
        self._tasks = [
            asyncio.create_task(self.publisher.run(), name="order-book-publisher"),
            asyncio.create_task(self._snapshot_timer(), name="order-book-snapshots"),
        ]
        starter: asyncio.Task[None] | None = None
        try:
            if self._changes is None:
                await self._apply(self._configured())
                self.restored.set()
            else:  # in the background: the app serves (health, books) meanwhile
                starter = asyncio.create_task(
                    self._start_subscriptions(), name="order-book-restore"
                )
            yield self
        finally:
            if starter is not None:
                starter.cancel()
                await asyncio.gather(starter, return_exceptions=True)
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

    def runtime_change(self, exchange: str, symbol: str) -> SubscriptionChange | None:
        """The stored change that made this a subscription; ``None``: it is configured."""
        return self._runtime.get((exchange, symbol))

    async def subscribe(self, exchange: str, symbol: str) -> None:
        """Raises ``ConfigError`` for an exchange without a feed."""
        feed = self.feeds.get(exchange) or self._start_feed(exchange)
        await feed.subscribe(symbol)

    async def add(self, exchange: str, symbol: str, actor: str | None) -> bool:
        """``subscribe`` and store the change before returning; False when already subscribed.

        Raises ``ConfigError`` for an exchange without a feed and ``UnknownSymbol`` for a symbol
        the venue does not list (nothing is stored then), ``DatabaseUnavailable`` when the
        change cannot be stored (the subscription is undone: nothing changed). A venue that
        cannot be reached to check the symbol does not stop the change: the feed retries it.
        """
        async with self._changes_ready():
            if symbol in self.subscriptions().get(exchange, []):
                return False
            # Built now so an unsupported exchange raises ConfigError before the venue is
            # asked; started only once the symbol is accepted, so a refusal leaves no feed.
            new_feed = None if exchange in self.feeds else self._build_feed(exchange, [])
            if self._symbol_check is not None:
                try:
                    await self._symbol_check(exchange, symbol)
                except TransientExchangeError as exc:
                    log.warning(
                        "symbol not checked: venue unreachable; subscribing anyway",
                        extra={"exchange": exchange, "symbol": symbol, "error": str(exc)},
                    )
            if new_feed is not None:
                self._launch_feed(exchange, new_feed)
            try:
                # the feed checks the symbol too where it holds the venue's listing
                await self.subscribe(exchange, symbol)
            except Exception:
                if new_feed is not None:
                    await self._stop_feed(exchange)  # refused: no feed left behind
                raise
            try:
                self._runtime[(exchange, symbol)] = await self._store(
                    exchange, symbol, "add", actor
                )
            except DatabaseUnavailable:
                await self.unsubscribe(exchange, symbol)
                if new_feed is not None:
                    await self._stop_feed(exchange)  # nothing changed: no feed left behind
                raise
            return True

    async def remove(self, exchange: str, symbol: str, actor: str | None) -> bool:
        """Store the removal, then ``unsubscribe``; False when not subscribed (nothing stored).
        Raises ``DatabaseUnavailable`` when the change cannot be stored (nothing changed)."""
        async with self._changes_ready():
            if symbol not in self.subscriptions().get(exchange, []):
                return False
            await self._store(exchange, symbol, "remove", actor)
            self._runtime.pop((exchange, symbol), None)
            return await self.unsubscribe(exchange, symbol)

    def _changes_ready(self) -> AbstractAsyncContextManager[SubscriptionChanges]:
        return change_slot(
            self._changes, self.restored, self._change_lock, self.settings.connect_timeout_s
        )

    async def _store(
        self, exchange: str, symbol: str, action: Literal["add", "remove"], actor: str | None
    ) -> SubscriptionChange:
        assert self._changes is not None
        subscription = {"exchange": exchange, "symbol": symbol}
        return await self._changes.record(f"{exchange}|{symbol}", subscription, action, actor)

    def _configured(self) -> dict[Key, SubscriptionChange | None]:
        return {
            (ex, sym): None
            for ex, symbols in self.settings.subscriptions.items()
            for sym in symbols
        }

    async def _start_subscriptions(self) -> None:
        """The effective subscriptions once the stored changes are read; the configured ones
        alone meanwhile if that takes longer than ``restore_wait_s``."""

        async def configured_only() -> None:
            await self._apply(self._configured())

        await restore_or_fall_back(
            self._restore,
            configured_only,
            self.restored,
            self._change_lock,
            self._restore_wait_s,
            "order-book",
        )

    async def _restore(self) -> None:
        """Read the stored changes (retried until PostgreSQL answers) and move to the effective
        set."""
        assert self._changes is not None
        stored = await self._changes.load_when_readable()
        configured = {
            f"{ex}|{sym}": (ex, sym)
            for ex, symbols in self.settings.subscriptions.items()
            for sym in symbols
        }
        target: dict[Key, SubscriptionChange | None] = {}
        for key, change in effective(configured, stored).items():
            if change is None:
                target[configured[key]] = None
            else:
                exchange, symbol = (
                    change.subscription.get("exchange"),
                    change.subscription.get("symbol"),
                )
                if not isinstance(exchange, str) or not isinstance(symbol, str):
                    log.error(
                        "stored subscription change not understood; skipped", extra={"key": key}
                    )
                    continue
                target[(exchange, symbol)] = change
        async with self._change_lock:
            await self._apply(target)
            self.restored.set()
        log.info(
            "subscriptions restored",
            extra={"configured": len(configured), "stored_changes": len(stored)},
        )

    async def _apply(self, target: dict[Key, SubscriptionChange | None]) -> None:
        """Follow ``target`` (each with the runtime change behind it) and drop the rest."""
        current = {(ex, sym) for ex, symbols in self.subscriptions().items() for sym in symbols}
        for exchange, symbol in current - set(target):
            try:
                await self.unsubscribe(exchange, symbol)
            except Exception as exc:
                log.error(
                    "unsubscribe failed at start-up",
                    extra={
                        "exchange": exchange,
                        "symbol": symbol,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
        self._runtime = {k: c for k, c in target.items() if c is not None}
        wanted: dict[str, list[str]] = {}
        for exchange, symbol in target:
            wanted.setdefault(exchange, []).append(symbol)
        for exchange, symbols in sorted(wanted.items()):
            try:
                feed = self.feeds.get(exchange)
                if feed is None:
                    self._start_feed(exchange, symbols)
                    continue
                for symbol in symbols:
                    await feed.subscribe(symbol)
            except Exception as exc:
                log.error(
                    "book feed failed to start",
                    extra={"exchange": exchange, "error": f"{type(exc).__name__}: {exc}"},
                )

    async def unsubscribe(self, exchange: str, symbol: str) -> bool:
        feed = self.feeds.get(exchange)
        if feed is None or symbol not in feed.symbols:
            return False
        await feed.unsubscribe(symbol)
        self.manager.forget(BookKey(exchange, symbol))
        return True

    def _feed_settings(self, exchange: str, symbols: list[str]) -> OrderBookSettings:
        # Feeds take their first symbols from the settings: give them the effective ones.
        return self.settings.model_copy(update={"subscriptions": {exchange: symbols}})

    def _start_feed(self, exchange: str, symbols: list[str] | None = None) -> BookFeed:
        return self._launch_feed(exchange, self._build_feed(exchange, symbols or []))

    def _build_feed(self, exchange: str, symbols: list[str]) -> BookFeed:
        """Raises ``ConfigError`` for an exchange without a feed."""
        return self._feed_factory(exchange, self._feed_settings(exchange, symbols))

    async def _stop_feed(self, exchange: str) -> None:
        self.feeds.pop(exchange, None)
        task = self._feed_tasks.pop(exchange, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _launch_feed(self, exchange: str, feed: BookFeed) -> BookFeed:
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
