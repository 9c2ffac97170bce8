"""Keeps every book the feeds report, decides what is in sync, and publishes sequenced changes.

Per book: the adapter's ``L2Book``, an in-sync flag, an epoch (one per in-sync period: each
``BookSnapshot`` from the feed starts one, and so does a republish after Kafka lost a record), a
platform sequence contiguous within the epoch, the last exchange and receive times, counters.

A book is published only while in sync. Besides trusting the adapter's ``BookDesync``, the
manager checks for itself: a delta for a book that is not in sync is dropped, and a delta or
snapshot that leaves the book crossed takes it out of sync. Handling an event never awaits, so
it reads the adapter's live book exactly as the event describes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter

from eip.book import L2Book
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec, record_key
from eip.exchanges.contract.book_events import (
    BookDelta,
    BookDesync,
    BookEvent,
    BookKey,
    BookSnapshot,
)
from eip.order_book import metrics
from eip.order_book.outbox import OutboundRecord, Outbox
from eip.order_book.view import PublishedView
from eip.order_book.wire import delta_record, snapshot_record

log = logging.getLogger(__name__)


@dataclass
class BookState:
    key: BookKey
    depth: int
    book: L2Book | None = None
    in_sync: bool = False
    epoch: int = 0
    sequence: int = 0
    exchange_sequence: str = ""
    exchange_time: datetime | None = None
    received_time: datetime | None = None
    desync_reason: str | None = None
    desync_detail: str = ""
    snapshots: int = 0
    deltas: int = 0
    desyncs: int = 0
    dropped: int = 0
    # Kafka lost (or could not queue) a record of the current epoch: start a new one
    republish: bool = False
    view: PublishedView = field(init=False)
    wire_key: bytes = field(init=False)  # the Kafka record key
    # Metric children looked up once: ``labels()`` per delta was a tenth of the manager's time.
    delta_events: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.view = PublishedView(self.depth)
        self.wire_key = record_key(self.key.exchange, self.key.symbol)
        self.delta_events = metrics.EVENTS.labels(self.key.exchange, self.key.symbol, "delta")


class BookManager:
    def __init__(
        self,
        outbox: Outbox,
        depth: int,
        deltas_topic: TopicSpec = MD_BOOK_DELTAS,
        snapshots_topic: TopicSpec = MD_BOOK_SNAPSHOTS,
        epoch_floor: int = 0,
    ) -> None:
        """``epoch_floor``: every epoch this manager starts is above it. A consumer keeps the
        highest epoch it has seen and ignores older ones, so a restarted service must not count
        from 1 again: the service passes its start time in milliseconds, which exceeds every
        epoch an earlier process reached (one epoch per resync, far fewer than milliseconds)."""
        self.outbox = outbox
        self.depth = depth
        self.epoch_floor = epoch_floor
        self.deltas_topic = deltas_topic
        self.snapshots_topic = snapshots_topic
        self._books: dict[BookKey, BookState] = {}

    # -- queries -----------------------------------------------------------------------------

    def get(self, key: BookKey) -> BookState | None:
        return self._books.get(key)

    def states(self) -> list[BookState]:
        return sorted(self._books.values(), key=lambda s: (s.key.exchange, s.key.symbol))

    def for_symbol(self, symbol: str) -> list[BookState]:
        return [s for s in self.states() if s.key.symbol == symbol]

    # -- feed events -------------------------------------------------------------------------

    async def emit(self, event: BookEvent) -> None:
        """The callback feeds call (``feed.run(manager.emit)``)."""
        self.handle(event)

    def handle(self, event: BookEvent) -> None:
        state = self._state(event.key)
        if isinstance(event, BookSnapshot):
            self._on_snapshot(state, event)
        elif isinstance(event, BookDelta):
            self._on_delta(state, event)
        else:
            self._on_desync(state, event)

    def forget(self, key: BookKey) -> None:
        """The book is no longer subscribed: consumers are told it is no longer kept."""
        state = self._books.pop(key, None)
        metrics.IN_SYNC.labels(key.exchange, key.symbol).set(0)
        if state is not None and state.in_sync:
            self._queue_desync_marker(state, "unsubscribed")

    def _state(self, key: BookKey) -> BookState:
        state = self._books.get(key)
        if state is None:
            state = self._books[key] = BookState(key, self.depth)
        return state

    def _on_snapshot(self, state: BookState, event: BookSnapshot) -> None:
        key = state.key
        metrics.EVENTS.labels(key.exchange, key.symbol, "snapshot").inc()
        state.snapshots += 1
        state.book = event.book
        self._touch(state, event.exchange_sequence, event.exchange_time, event.received_time)
        if event.book.is_crossed():
            self._mark_desync(state, "crossed", "the feed's snapshot is crossed")
            return
        state.in_sync = True
        state.desync_reason, state.desync_detail = None, ""
        metrics.IN_SYNC.labels(key.exchange, key.symbol).set(1)
        self._start_epoch(state)

    def _on_delta(self, state: BookState, event: BookDelta) -> None:
        key = state.key
        state.delta_events.inc()
        if not state.in_sync or state.book is not event.book:
            # The adapter should not send this; a delta without its snapshot cannot be trusted.
            reason = "not_in_sync" if not state.in_sync else "other_book"
            state.dropped += 1
            metrics.DROPPED.labels(key.exchange, key.symbol, reason).inc()
            return
        state.deltas += 1
        state.exchange_sequence = event.exchange_sequence
        state.exchange_time = event.exchange_time
        state.received_time = event.received_time
        book = event.book
        if book.is_crossed():
            self._mark_desync(state, "crossed", f"crossed after delta {event.exchange_sequence}")
            return
        try:
            bids, asks = state.view.update(book, event.bids, event.asks)
        except ArithmeticError as exc:  # a level the adapter reported is not a decimal
            self._mark_desync(state, "error", f"unreadable delta level: {exc!r}")
            return
        if state.republish:
            self._start_epoch(state)
            return
        if not bids and not asks:
            return  # nothing changed within the published depth
        state.sequence += 1
        message = delta_record(
            key,
            epoch=state.epoch,
            sequence=state.sequence,
            bids=bids,
            asks=asks,
            exchange_sequence=state.exchange_sequence,
            exchange_time=state.exchange_time,
            received_time=state.received_time,
        )
        if not self.outbox.offer(OutboundRecord(key, self.deltas_topic, state.wire_key, message)):
            metrics.DROPPED.labels(key.exchange, key.symbol, "outbox_full").inc()
            state.republish = True

    def _on_desync(self, state: BookState, event: BookDesync) -> None:
        metrics.EVENTS.labels(state.key.exchange, state.key.symbol, "desync").inc()
        if event.received_time is not None:
            state.received_time = event.received_time
        self._mark_desync(state, event.reason, event.detail)

    def _touch(
        self,
        state: BookState,
        exchange_sequence: str,
        exchange_time: datetime | None,
        received_time: datetime,
    ) -> None:
        state.exchange_sequence = exchange_sequence
        state.exchange_time = exchange_time
        state.received_time = received_time

    def _mark_desync(self, state: BookState, reason: str, detail: str) -> None:
        key = state.key
        was_in_sync = state.in_sync
        state.in_sync = False
        state.desync_reason, state.desync_detail = reason, detail
        state.desyncs += 1
        metrics.DESYNCS.labels(key.exchange, key.symbol, reason).inc()
        metrics.IN_SYNC.labels(key.exchange, key.symbol).set(0)
        if was_in_sync:
            self._queue_desync_marker(state, reason)
        log.warning(
            "order book out of sync; not published until the next snapshot",
            extra={
                "exchange": key.exchange,
                "symbol": key.symbol,
                "reason": reason,
                "detail": detail,
                "epoch": state.epoch,
                "sequence": state.sequence,
                "was_in_sync": was_in_sync,
            },
        )

    def mark_out_of_sync(self, key: BookKey, reason: str, detail: str) -> None:
        """For what the service itself learns (a feed crashed): same as a feed's desync."""
        self._mark_desync(self._state(key), reason, detail)

    # -- publishing --------------------------------------------------------------------------

    def publication_lost(self, key: BookKey) -> None:
        """Kafka did not take a record of this book: its consumers need a new epoch."""
        state = self._books.get(key)
        if state is not None:
            state.republish = True

    def publish_snapshots(self, keys: Iterable[BookKey] | None = None) -> int:
        """Queue a snapshot of every in-sync book (the periodic snapshot); returns how many."""
        count = 0
        for state in self.states() if keys is None else map(self._state, keys):
            if not state.in_sync or state.book is None:
                continue
            if not state.republish and not state.view.matches(state.book):
                # The view follows the deltas' sizes; a feed whose deltas do not say what it did
                # to its book would drift from it. Consumers get a new epoch from the book.
                metrics.VIEW_MISMATCHES.labels(state.key.exchange, state.key.symbol).inc()
                log.error(
                    "published view differs from the feed's book; starting a new epoch",
                    extra={"exchange": state.key.exchange, "symbol": state.key.symbol},
                )
                state.republish = True
            if state.republish:
                self._start_epoch(state)
            else:
                self._queue_snapshot(state)
            count += 1
        return count

    def _start_epoch(self, state: BookState) -> None:
        assert state.book is not None
        state.epoch = max(state.epoch, self.epoch_floor) + 1
        state.sequence = 0
        state.view.reset(state.book)
        state.republish = False
        metrics.EPOCH.labels(state.key.exchange, state.key.symbol).set(state.epoch)
        self._queue_snapshot(state)

    def _queue_snapshot(self, state: BookState) -> None:
        assert state.book is not None
        key = state.key
        message = snapshot_record(
            key,
            epoch=state.epoch,
            sequence=state.sequence,
            bids=state.view.bids(),
            asks=state.view.asks(),
            depth=self.depth,
            price_decimals=state.book.price_decimals,
            size_decimals=state.book.size_decimals,
            exchange_time=state.exchange_time,
            received_time=state.received_time,
        )
        if not self.outbox.offer(
            OutboundRecord(key, self.snapshots_topic, state.wire_key, message)
        ):
            state.republish = True

    def _queue_desync_marker(self, state: BookState, reason: str) -> None:
        """Tell consumers the book stopped where it is; the compacted topic keeps this as the
        latest snapshot, so a consumer starting now learns it too."""
        assert state.book is not None
        message = snapshot_record(
            state.key,
            epoch=state.epoch,
            sequence=state.sequence,
            bids=[],
            asks=[],
            depth=self.depth,
            price_decimals=state.book.price_decimals,
            size_decimals=state.book.size_decimals,
            exchange_time=state.exchange_time,
            received_time=state.received_time,
            desync_reason=reason,
        )
        # If even this cannot be queued, consumers still learn from the next epoch's snapshot.
        self.outbox.offer(OutboundRecord(state.key, self.snapshots_topic, state.wire_key, message))
