"""Records on their way to Kafka, and the task that sends them with the one producer wrapper.

Adapters never await Kafka: ``offer`` queues and returns at once. The queue is bounded; when
Kafka falls behind and it is full, the *new* record is dropped and counted per topic
(``eip_market_data_outbox_dropped_total``, and a warning every 10,000 drops) — live market data
is worth more fresh than complete, and the history side repairs gaps in stored trades by
backfill. A record Kafka refuses is counted in ``eip_market_data_publish_failures_total``.
Both are told to ``on_lost`` (the live service: a trade's venue then fetches what the topic
lacks, ``live.gaps``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message

from eip.bus import Producer
from eip.bus.outbox import BatchingPublisher, RecordQueue
from eip.events.topics import TopicSpec
from eip.market_data.metrics import OUTBOX, OUTBOX_DROPPED, PUBLISH_FAILURES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    spec: TopicSpec
    key: bytes
    message: Message


OnLost = Callable[[OutboundRecord, BaseException | None], None]
"""Told of a record that will not reach Kafka: refused (with the error) or dropped (None)."""


def _ignore(record: OutboundRecord, error: BaseException | None) -> None:
    pass


class Outbox(RecordQueue[OutboundRecord]):
    def __init__(self, capacity: int, on_drop: OnLost = _ignore) -> None:
        super().__init__(capacity)
        self._on_drop = on_drop
        self.dropped = 0
        # read at scrape time: setting a gauge per record cost more than the queue itself
        OUTBOX.set_function(self.__len__)

    def offer(self, record: OutboundRecord) -> bool:
        if super().offer(record):
            return True
        self.dropped += 1
        OUTBOX_DROPPED.labels(record.spec.name).inc()
        if self.dropped % 10_000 == 1:
            log.warning(
                "outbox full, dropping records",
                extra={"topic": record.spec.name, "dropped_total": self.dropped},
            )
        self._on_drop(record, None)
        return False


class KafkaPublisher(BatchingPublisher[OutboundRecord]):
    """Sends what is queued in order, in batches (``eip.bus.outbox.BatchingPublisher``); a
    record Kafka refuses is counted and told to ``on_lost``."""

    def __init__(
        self,
        outbox: Outbox,
        producer: Callable[[], Producer | None],
        wait_s: float = 0.2,
        max_batch: int = 5_000,
        on_lost: OnLost = _ignore,
    ) -> None:
        super().__init__(outbox, producer, wait_s, max_batch)
        self._on_lost = on_lost
        self.lost = 0

    def _lost(self, record: OutboundRecord, exc: BaseException) -> None:
        PUBLISH_FAILURES.labels(record.spec.name).inc()
        self.lost += 1
        if self.lost % 1_000 == 1:  # an outage refuses thousands: a log line per record
            log.warning(  # would keep the event loop busy writing them
                "record not published",
                extra={
                    "topic": record.spec.name,
                    "error": f"{type(exc).__name__}: {exc}",
                    "lost_total": self.lost,
                },
            )
        self._on_lost(record, exc)
