"""The publisher's batching: order kept per topic, and every record of a failed or unqueued
batch counted as a publish failure, as single sends were (a fake producer, no Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from google.protobuf.message import Message

from eip.bus import BatchDelivery, PartialSend, Producer
from eip.events.topics import MD_TICKERS, MD_TRADES, TopicSpec
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.market_data.live.outbox import KafkaPublisher, OutboundRecord, Outbox
from eip.market_data.metrics import PUBLISH_FAILURES
from eip.market_data.wire import ticker_message, trade_message

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def trade(n: int) -> OutboundRecord:
    t = Trade("binance", "BTC/USDT", str(n), Decimal(1), Decimal(1), None, WHEN, WHEN)
    return OutboundRecord(MD_TRADES, b"binance|BTC/USDT", trade_message(t))


def ticker() -> OutboundRecord:
    none = dict.fromkeys(
        [
            "bid_size",
            "ask_size",
            "last",
            "open_24h",
            "high_24h",
            "low_24h",
            "base_volume_24h",
            "quote_volume_24h",
        ]
    )
    t = Ticker(
        "binance",
        "BTC/USDT",
        bid=Decimal(1),
        ask=Decimal(2),
        exchange_time=WHEN,
        received_time=WHEN,
        **none,
    )
    return OutboundRecord(MD_TICKERS, b"binance|BTC/USDT", ticker_message(t))


class FakeProducer:
    """Splits each call into batches of two; ``outcome`` decides each batch's fate."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, list[Message]]] = []
        self.singles: list[Message] = []

    async def publish_many(
        self, spec: TopicSpec, items: Sequence[tuple[bytes, Message]]
    ) -> list[BatchDelivery]:
        self.calls.append((spec.name, [m for _, m in items]))
        deliveries = []
        for start in range(0, len(items), 2):
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            if self.outcome == "fail" and start == 0:
                future.set_exception(RuntimeError("broker said no"))
            else:
                future.set_result(None)
            deliveries.append(
                BatchDelivery(future, 0, list(range(start, min(start + 2, len(items)))))
            )
        if self.outcome == "refuse":
            raise TypeError("does not encode")
        if self.outcome == "partial":
            raise PartialSend(deliveries[:1], list(range(2, len(items))), RuntimeError("closed"))
        return deliveries

    async def publish_nowait(self, spec: TopicSpec, key: bytes, message: Message) -> Any:
        self.singles.append(message)
        if getattr(message, "trade_id", "") == "1":
            raise TypeError("does not encode")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def failures(spec: TopicSpec) -> float:
    return cast(float, PUBLISH_FAILURES.labels(spec.name)._value.get())


async def run_once(outcome: str, records: list[OutboundRecord]) -> FakeProducer:
    fake = FakeProducer(outcome)
    outbox = Outbox(100)
    for r in records:
        outbox.offer(r)
    publisher = KafkaPublisher(outbox, lambda: cast(Producer, fake), max_batch=100)
    task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(outbox.join(), 5)
    await asyncio.sleep(0)  # done callbacks
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return fake


async def test_queued_records_go_in_one_call_per_topic_in_order() -> None:
    records = [trade(0), ticker(), trade(1), trade(2)]
    before = failures(MD_TRADES)
    fake = await run_once("ok", records)
    assert [name for name, _ in fake.calls] == [MD_TRADES.name, MD_TICKERS.name]
    assert [m.trade_id for m in fake.calls[0][1]] == ["0", "1", "2"]  # type: ignore[attr-defined]
    assert failures(MD_TRADES) == before


async def test_a_failed_batch_counts_each_of_its_records() -> None:
    before = failures(MD_TRADES)
    await run_once("fail", [trade(n) for n in range(5)])
    assert failures(MD_TRADES) == before + 2  # the first batch of two failed, the rest landed


async def test_records_not_queued_are_counted_as_failures() -> None:
    before = failures(MD_TRADES)
    await run_once("partial", [trade(n) for n in range(5)])
    assert failures(MD_TRADES) == before + 3  # indices 2..4 never reached Kafka


async def test_a_call_refused_before_queueing_falls_back_to_single_sends() -> None:
    before = failures(MD_TRADES)
    fake = await run_once("refuse", [trade(n) for n in range(4)])
    assert [m.trade_id for m in fake.singles] == ["0", "1", "2", "3"]  # type: ignore[attr-defined]
    assert failures(MD_TRADES) == before + 1  # only the record that did not go
