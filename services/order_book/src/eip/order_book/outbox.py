"""Records on their way to Kafka, and the task that sends them with the one producer wrapper.

The manager never awaits Kafka: it queues records and goes on, so a slow or absent broker never
holds a feed back. A record that cannot be queued or that Kafka refuses is reported lost for its
book, which then starts a new epoch with a fresh snapshot: consumers see an epoch change, never
a silent hole.

Records are sent in batches (``eip.bus.outbox.BatchingPublisher``: whatever piled up while the
previous batch was being queued, one ``publish_many`` per topic), so a book's records keep their
order (one key, one topic, one partition) and every record is acknowledged or reported lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message

from eip.bus import Producer
from eip.bus.outbox import BatchingPublisher, RecordQueue
from eip.events.topics import TopicSpec
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.metrics import OUTBOX, PUBLISH_FAILURES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    book: BookKey
    spec: TopicSpec
    key: bytes
    message: Message


class Outbox(RecordQueue[OutboundRecord]):
    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        # read at scrape time: setting a gauge per record cost as much as queueing it
        OUTBOX.set_function(self.__len__)


class KafkaPublisher(BatchingPublisher[OutboundRecord]):
    def __init__(
        self,
        outbox: Outbox,
        producer: Callable[[], Producer | None],
        on_lost: Callable[[BookKey], None],
        wait_s: float = 0.2,
        max_batch: int = 5_000,
    ) -> None:
        super().__init__(outbox, producer, wait_s, max_batch)
        self._on_lost = on_lost
        self.lost = 0

    def _lost(self, record: OutboundRecord, exc: BaseException) -> None:
        PUBLISH_FAILURES.labels(record.spec.name).inc()
        self.lost += 1
        if self.lost % 1_000 == 1:  # a failed batch loses hundreds: not a log line each
            log.warning(
                "record not published; the book will start a new epoch",
                extra={
                    "topic": record.spec.name,
                    "exchange": record.book.exchange,
                    "symbol": record.book.symbol,
                    "error": f"{type(exc).__name__}: {exc}",
                    "lost_total": self.lost,
                },
            )
        self._on_lost(record.book)
