"""Trades the live stream missed are fetched over REST and published once (issue 11 §8), with
a scripted venue and real Kafka: at start (the cursors read back from md.trades.v1), after a
reconnect, after a lost publish, and beyond the catch-up bound (a backfill job instead)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from eip.bus import Producer
from eip.events.topics import MD_TICKERS, MD_TRADES, TopicSpec
from eip.exchanges.contract.market_data import MarketDataAdapter, Trade
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.market_data.wire import trade_from_message, trade_key, trade_message
from eip.testing.plugin import TopicFactory

from .helpers import ScriptedAdapter, read_topic, wait_until

pytestmark = pytest.mark.integration


def trades(exchange: str, ids: range, start: datetime, symbol: str = "BTC/USDT") -> list[Trade]:
    """Ids as the venue writes them: integers counting up on Binance, opaque text elsewhere."""
    out = []
    for i in ids:
        when = start + timedelta(milliseconds=100 * i)
        trade_id = f"{i}" if exchange == "binance" else f"t-{i:05d}"
        out.append(
            Trade(
                exchange, symbol, trade_id, Decimal(100 + i % 7), Decimal("0.5"), "buy", when, when
            )
        )
    return out


def recovered(exchange: str) -> float:
    return REGISTRY.get_sample_value("eip_md_trades_recovered_total", {"exchange": exchange}) or 0


@dataclass
class Venue:
    """The live service on a scripted venue and a topic of its own."""

    live: LiveService
    adapter: ScriptedAdapter
    topic: TopicSpec
    bootstrap: str
    backfills: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)

    async def on_topic(self, expected: int) -> list[str]:
        """The trade ids on the topic once ``expected`` of them arrived (and no more came)."""
        seen: list[str] = []

        async def count() -> int:
            seen[:] = [
                trade_from_message(m).trade_id  # type: ignore[arg-type]
                for m in await read_topic(self.bootstrap, self.topic)
            ]
            return len(seen)

        deadline = asyncio.get_running_loop().time() + 60
        while await count() < expected:
            assert asyncio.get_running_loop().time() < deadline, f"only {len(seen)} on the topic"
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        await count()
        return seen


VenueFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def venue(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> AsyncIterator[VenueFactory]:
    running: list[Any] = []

    async def start(
        exchange: str,
        adapter: ScriptedAdapter | None = None,
        topic: TopicSpec | None = None,
        producer_of: Callable[[], Any] = lambda: producer,
        **overrides: Any,
    ) -> Venue:
        topic = topic or await make_topic(MD_TRADES)
        adapter = adapter or ScriptedAdapter(exchange)
        subscription = SubscriptionConfig(exchange=exchange, symbol="BTC/USDT", channel="trades")
        settings = MarketDataSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            subscriptions=[subscription],
            **overrides,
        )

        def factory(name: str, _: MarketDataSettings) -> MarketDataAdapter:
            return adapter

        made = Venue(None, adapter, topic, kafka_bootstrap_servers)  # type: ignore[arg-type]

        async def backfill(exchange: str, symbol: str, start: datetime, end: datetime) -> None:
            made.backfills.append((exchange, symbol, start, end))

        made.live = LiveService(
            settings, producer_of, factory, topic, MD_TICKERS, backfill=backfill
        )
        context = made.live.running()
        await context.__aenter__()
        running.append(context)
        return made

    yield start
    for context in reversed(running):
        await context.__aexit__(None, None, None)


async def publish(producer: Producer, topic: TopicSpec, published: list[Trade]) -> None:
    deliveries = await producer.publish_many(
        topic, [(trade_key(t), trade_message(t)) for t in published]
    )
    await asyncio.gather(*(d.future for d in deliveries))


async def test_a_restarted_service_publishes_the_trades_printed_while_it_was_down_once(
    venue: VenueFactory, producer: Producer, make_topic: TopicFactory
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    # The previous process published 1..10 and died; the venue printed up to 25 meanwhile.
    topic = await make_topic(MD_TRADES)
    await publish(producer, topic, trades("binance", range(1, 11), start))
    adapter = ScriptedAdapter("binance")
    adapter.history = trades("binance", range(1, 26), start)
    before = recovered("binance")
    # The new process: its stream starts at 21 (what it delivers on connecting).
    for t in trades("binance", range(21, 31), start):
        adapter.queue.put_nowait(t)
    again = await venue("binance", adapter=adapter, topic=topic)
    ids = await again.on_topic(30)
    assert ids == [str(i) for i in range(1, 31)]  # each once, in order
    assert recovered("binance") - before == 15  # 11..25 over REST; 21..25 live dropped


async def test_a_reconnect_fetches_what_the_stream_missed_on_a_venue_without_sequential_ids(
    venue: VenueFactory,
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    made = await venue("kraken")
    await wait_until(lambda: not made.live.gaps.holding("kraken"), 30)
    everything = trades("kraken", range(1, 41), start)
    for t in everything[:10]:
        made.adapter.queue.put_nowait(t)
    await made.on_topic(10)
    made.adapter.connected = False  # the connection drops: 11..28 are printed meanwhile
    await asyncio.sleep(1.2)  # the watcher sees it
    made.adapter.history = everything[:28]
    before = recovered("kraken")
    made.adapter.connected = True  # re-opened
    await wait_until(lambda: recovered("kraken") - before == 18, 30)  # 11..28 over REST
    made.adapter.history = everything
    for t in everything[26:]:  # the new connection's first trades (27, 28 already fetched)
        made.adapter.queue.put_nowait(t)
    ids = await made.on_topic(40)
    assert ids == [t.trade_id for t in everything]


class Refusing:
    """The producer, refusing ``publish_many`` and ``publish_nowait`` while ``refuse`` > 0."""

    def __init__(self, real: Producer) -> None:
        self.real = real
        self.refuse = 0

    async def publish_many(self, spec: TopicSpec, items: Any) -> Any:
        if self.refuse > 0:
            raise ConnectionError("broker away")
        return await self.real.publish_many(spec, items)

    async def publish_nowait(self, spec: TopicSpec, key: bytes, message: Any) -> Any:
        if self.refuse > 0:
            self.refuse -= 1
            raise ConnectionError("broker away")
        return await self.real.publish_nowait(spec, key, message)

    async def flush(self) -> None:
        await self.real.flush()


async def test_trades_kafka_refused_are_fetched_again_and_published_once(
    venue: VenueFactory, producer: Producer
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    refusing = Refusing(producer)
    made = await venue("binance", producer_of=lambda: refusing)
    await wait_until(lambda: not made.live.gaps.holding("binance"), 30)
    everything = trades("binance", range(1, 21), start)
    made.adapter.history = everything
    for t in everything[:5]:
        made.adapter.queue.put_nowait(t)
    await made.on_topic(5)
    refusing.refuse = 5  # 6..10 are lost on the way to Kafka
    for t in everything[5:10]:
        made.adapter.queue.put_nowait(t)
    await wait_until(lambda: refusing.refuse == 0, 30)
    for t in everything[10:]:
        made.adapter.queue.put_nowait(t)
    ids = await made.on_topic(20)
    assert ids == [t.trade_id for t in everything]
    status = made.live.last_error
    assert status is not None
    assert status.kind == "publish"
    assert "broker away" in status.message


async def test_a_gap_beyond_the_pages_becomes_a_backfill_job_and_live_data_goes_on(
    venue: VenueFactory, producer: Producer, make_topic: TopicFactory
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=3)
    topic = await make_topic(MD_TRADES)
    await publish(producer, topic, trades("binance", range(1, 3), start))
    adapter = ScriptedAdapter("binance")
    adapter.history = trades("binance", range(1, 101), start)
    live_tail = trades("binance", range(101, 106), start)
    for t in live_tail:
        adapter.queue.put_nowait(t)
    truncated = (
        REGISTRY.get_sample_value("eip_md_trades_recovery_truncated_total", {"exchange": "binance"})
        or 0
    )
    # one page of 10 trades per market (2..11, from the cursor): 3..11 are published, 12..100
    # are the backfill's
    again = await venue(
        "binance", adapter=adapter, topic=topic, gap_max_pages=1,
        history_backfill_page_limit=10,
    )  # fmt: skip
    ids = await again.on_topic(11 + 5)
    assert ids == [str(i) for i in [*range(1, 12), *range(101, 106)]]
    [(exchange, symbol, since, until)] = again.backfills
    assert (exchange, symbol) == ("binance", "BTC/USDT")
    assert since == adapter.history[10].exchange_time  # the last one published
    assert until == live_tail[0].exchange_time  # the first live one
    assert (
        REGISTRY.get_sample_value("eip_md_trades_recovery_truncated_total", {"exchange": "binance"})
        == truncated + 1
    )


async def test_a_hole_in_the_middle_of_the_topic_is_filled_once_at_start(
    venue: VenueFactory, producer: Producer, make_topic: TopicFactory
) -> None:
    """A batch Kafka lost while later ones landed (an outage: seen in the chaos suite) leaves
    a hole below the newest trade on the topic: reading the topic back finds it."""
    start = datetime.now(UTC) - timedelta(minutes=2)
    topic = await make_topic(MD_TRADES)
    everything = trades("binance", range(1, 21), start)
    await publish(producer, topic, everything[:10] + everything[13:])  # 11..13 lost
    adapter = ScriptedAdapter("binance")
    adapter.history = everything
    before = recovered("binance")
    made = await venue("binance", adapter=adapter, topic=topic)
    ids = await made.on_topic(20)
    assert sorted(ids, key=int) == [str(i) for i in range(1, 21)]  # each once: the hole filled
    assert ids[-3:] == ["11", "12", "13"]  # after the trades that landed
    assert recovered("binance") - before == 3
    cursor = made.live.gaps.cursor("binance", "BTC/USDT")
    assert cursor is not None
    assert (cursor.last_seq, cursor.above) == (20, {})
