"""Order-book service path to Kafka: recorded frames → the venue's book adapter → the service's
``BookManager`` (book state, epochs, sequenced deltas) → its ``Outbox`` → its ``KafkaPublisher``
→ ``eip.bus.Producer`` → the real broker, until Kafka acknowledged every record; frames/s end
to end and p50/p99 frame-to-ack latency. Beside it, in the same run, a baseline: a bare
``AIOKafkaProducer`` with the same settings (idempotent, acks=all, lz4, linger, batch size)
sending the very same records, pre-encoded, to fresh topics — the ceiling of the Python Kafka
client here, so the ratio is what the adapters, the book state and the service's publishing
cost on top of it. Goal (issue 17): ≥ 50,000 frames/s per instance.

    eval "$(bash /work/main/deploy/local/env.sh)"     # KAFKA_BOOTSTRAP_SERVERS of the shared broker
    uv run --frozen --no-sync python bench/order_book_service_path.py [--rounds 10]

Frames are the recorded Kraken (ws v1, checksums on, depth 1000) and Binance captures of
``data/recorded``, each replayed ``--rounds`` times in a row through a fresh feed built as the
replay command builds it (a new feed = a new snapshot = a new epoch, as after a reconnect), into
one manager, outbox, publisher and producer, as one service instance runs them. The clock runs
from the first frame read to the last acknowledgement (so later rounds' feed start-up, loading
the capture's instrument metadata and, for Binance, its REST snapshots, is inside it). The last
row is the same replays into an outbox nobody sends from: the service path without Kafka.

What is subtle. Latency per record: from the moment the frame that caused it came out of the
transport into the adapter (for a Binance REST snapshot, the last frame read before it) to the
moment its delivery future resolved. The replay serves frames as fast as the adapter takes them,
so this is latency under full load: it includes the outbox backlog. The manager never awaits,
so the record it queues belongs to the frame just read; the bench stamps it in ``offer`` and
finds the stamp again in ``publish_many`` by the message's identity. Topics are fresh
``bench.*`` copies of md.book.deltas.v1 / md.book.snapshots.v1, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message

from eip.bus import BatchDelivery, Producer, ProducerConfig, encode
from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.exchanges import registry
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.machinery.book_capture import book_symbols
from eip.exchanges.machinery.capture import read_entries
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.transport import Connection, Received, TransportExhausted
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed
from eip.order_book.manager import BookManager
from eip.order_book.outbox import KafkaPublisher, OutboundRecord, Outbox
from eip.order_book.settings import OrderBookSettings
from eip.testing.endpoints import kafka_bootstrap_servers
from eip.testing.recorded import find_recorded

CAPTURES = (("kraken", "kraken-ws1-2021-04.jsonl"), ("binance", "binance-spot-2021-10.jsonl"))
TARGET = 50_000
# A replay reads frames back to back: no staleness while the adapter keeps up.
QUIET = FeedOptions(stale_after_s=1e9)
_FIELDS = OrderBookSettings.model_fields
DEPTH: int = _FIELDS["snapshot_depth"].default
OUTBOX_SIZE: int = _FIELDS["outbox_size"].default


@dataclass
class Clock:
    """When the frame the adapter is handling came out of the transport; frames served; when
    the first frame was read (the clock starts there, as in ``order_book_feed_replay.py``)."""

    entered: float = 0.0
    frames: int = 0
    started: float | None = None


class StampingConnection:
    def __init__(self, inner: Connection, clock: Clock, limit: int | None) -> None:
        self._inner = inner
        self._clock = clock
        self._limit = limit

    async def send(self, text: str) -> None:
        await self._inner.send(text)

    async def recv(self) -> Received:
        if self._limit is not None and self._clock.frames >= self._limit:
            raise TransportExhausted("frame limit reached")  # the feed's run returns, as at EOF
        frame = await self._inner.recv()
        self._clock.frames += 1
        self._clock.entered = time.perf_counter()
        if self._clock.started is None:
            self._clock.started = self._clock.entered
        return frame

    async def close(self) -> None:
        await self._inner.close()


class StampingTransport:
    def __init__(self, inner: ReplayTransport, clock: Clock, limit: int | None) -> None:
        self._inner = inner
        self._clock = clock
        self._limit = limit

    async def connect(self, url: str) -> Connection:
        return StampingConnection(await self._inner.connect(url), self._clock, self._limit)

    async def get(self, url: str) -> Received:
        return await self._inner.get(url)

    async def aclose(self) -> None:
        await self._inner.aclose()


class StampedOutbox(Outbox):
    """The service's outbox, remembering which frame each queued record came from."""

    def __init__(self, capacity: int, clock: Clock) -> None:
        super().__init__(capacity)
        self.clock = clock
        self.entered: dict[int, float] = {}

    def offer(self, record: OutboundRecord) -> bool:
        queued = super().offer(record)
        if queued:
            self.entered[id(record.message)] = self.clock.entered
        return queued


@dataclass
class Published:
    spec: TopicSpec
    key: bytes
    message: Message
    entered: float
    acked: float | None = None


class AckTimedProducer(Producer):
    """The platform producer; each record's delivery future also notes when it resolved."""

    def __init__(self, config: ProducerConfig, outbox: StampedOutbox) -> None:
        super().__init__(config)
        self._outbox = outbox
        self.published: list[Published] = []
        self.futures: list[Any] = []

    def _stamped(self, spec: TopicSpec, key: bytes, message: Message) -> Published:
        record = Published(spec, key, message, self._outbox.entered.pop(id(message)))
        self.published.append(record)
        return record

    def _timed(self, future: Any, records: list[Published]) -> None:
        self.futures.append(future)
        future.add_done_callback(functools.partial(_acked, records))

    async def publish_nowait(
        self,
        spec: TopicSpec,
        key: bytes,
        message: Message,
        extra_headers: Sequence[tuple[str, bytes]] = (),
    ) -> Any:
        future = await super().publish_nowait(spec, key, message, extra_headers)
        self._timed(future, [self._stamped(spec, key, message)])
        return future

    async def publish_many(
        self, spec: TopicSpec, items: Sequence[tuple[bytes, Message]]
    ) -> list[BatchDelivery]:
        deliveries = await super().publish_many(spec, items)
        records = [self._stamped(spec, key, message) for key, message in items]
        for delivery in deliveries:
            self._timed(delivery.future, [records[i] for i in delivery.indices])
        return deliveries


def _acked(records: list[Published], future: Any) -> None:
    if not future.cancelled() and future.exception() is None:
        acked = time.perf_counter()
        for record in records:
            record.acked = acked


@dataclass
class PathRun:
    frames: int
    elapsed_s: float
    published: list[Published]
    lost: list[BookKey]
    dropped: int  # deltas the manager refused (not in sync, crossed, outbox full)
    desyncs: int

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.elapsed_s

    def latencies_ms(self) -> list[float]:
        return [(r.acked - r.entered) * 1000 for r in self.published if r.acked is not None]

    def of(self, spec: TopicSpec) -> list[Published]:
        return [r for r in self.published if r.spec.name == spec.name]


def load(name: str) -> list[dict[str, Any]]:
    try:
        return read_entries(find_recorded(name))
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def replay_feed(
    exchange: str, entries: list[dict[str, Any]], clock: Clock, limit: int | None
) -> WsBookFeed:
    """The venue's native adapter as the replay command builds it for this capture."""
    venue = registry.book_venue(exchange)
    assert venue is not None, exchange
    dialect = registry.book_capture_dialect(venue)
    symbols = dialect.symbols(entries) or book_symbols(
        exchange, entries[0]["config"]["l2_book"], dialect
    )
    transport = StampingTransport(ReplayTransport(entries), clock, limit)
    return registry.create_native_book_feed(
        exchange, symbols, transport, QUIET, **dialect.settings(entries)
    )


async def service_path(
    bootstrap: str,
    captures: Sequence[tuple[str, list[dict[str, Any]]]],
    deltas_topic: TopicSpec,
    snapshots_topic: TopicSpec,
    rounds: int = 1,
    frames_per_capture: int | None = None,
) -> PathRun:
    """Replay ``captures`` (exchange, entries) ``rounds`` times through the service's manager,
    outbox, publisher and producer into the topics; returns when every record is acknowledged.
    ``frames_per_capture`` stops each replay after that many frames."""
    clock = Clock()
    outbox = StampedOutbox(OUTBOX_SIZE, clock)
    manager = BookManager(
        outbox, DEPTH, deltas_topic, snapshots_topic, epoch_floor=int(time.time() * 1000)
    )
    lost: list[BookKey] = []

    def on_lost(key: BookKey) -> None:
        lost.append(key)
        manager.publication_lost(key)

    producer = AckTimedProducer(ProducerConfig(bootstrap, client_id="bench-order-book"), outbox)
    await producer.start()
    publisher = KafkaPublisher(outbox, lambda: producer, on_lost)
    pump = asyncio.create_task(publisher.run(), name="bench-order-book-publisher")
    try:
        for _ in range(rounds):
            for exchange, entries in captures:
                served = clock.frames
                limit = None if frames_per_capture is None else served + frames_per_capture
                await replay_feed(exchange, entries, clock, limit).run(manager.emit)
                if clock.frames == served:
                    raise SystemExit(f"the {exchange} feed read no frame")
        await publisher.drain()
        await asyncio.gather(*producer.futures, return_exceptions=True)
        assert clock.started is not None
        elapsed = time.perf_counter() - clock.started
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await producer.stop()
    states = manager.states()
    return PathRun(
        frames=clock.frames,
        elapsed_s=elapsed,
        published=producer.published,
        lost=lost,
        dropped=sum(s.dropped for s in states),
        desyncs=sum(s.desyncs for s in states),
    )


async def book_path(captures: Sequence[tuple[str, list[dict[str, Any]]]], rounds: int) -> float:
    """Frames/s of the same replays through the adapters and the manager into an outbox nobody
    sends from: the service path without Kafka, to tell where the time goes."""
    clock = Clock()
    outbox = Outbox(OUTBOX_SIZE)
    manager = BookManager(outbox, DEPTH, epoch_floor=int(time.time() * 1000))
    for _ in range(rounds):
        for exchange, entries in captures:
            await replay_feed(exchange, entries, clock, None).run(manager.emit)
    assert clock.started is not None
    elapsed = time.perf_counter() - clock.started
    if any(s.dropped for s in manager.states()):
        raise SystemExit("the outbox overflowed: fewer --rounds")
    return clock.frames / elapsed


def bare_producer(config: ProducerConfig) -> Any:
    """aiokafka as ``eip.bus.Producer`` configures it, without the wrapper."""
    return AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        compression_type=config.compression,
        linger_ms=config.linger_ms,
        max_batch_size=config.max_batch_bytes,
        request_timeout_ms=config.request_timeout_ms,
    )


async def baseline_path(
    bootstrap: str, published: list[Published], topics: dict[str, str]
) -> tuple[float, list[float]]:
    """The same records (pre-encoded, same keys and headers, in the same order) through a bare
    producer into ``topics`` (service topic name → baseline topic name): seconds until all are
    acknowledged, and each record's send-to-ack latency in ms."""
    records = [(topics[r.spec.name], r.key, *encode(r.spec, r.message)) for r in published]
    raw = bare_producer(ProducerConfig(bootstrap, client_id="bench-order-book-bare"))
    await raw.start()
    latencies: list[float] = []

    def acked(sent: float, future: Any) -> None:
        if not future.cancelled() and future.exception() is None:
            latencies.append((time.perf_counter() - sent) * 1000)

    try:
        started = time.perf_counter()
        futures = []
        for topic, key, value, headers in records:
            sent = time.perf_counter()
            future = await raw.send(topic, value=value, key=key, headers=headers)
            future.add_done_callback(functools.partial(acked, sent))
            futures.append(future)
        await raw.flush()
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await raw.stop()
    await asyncio.sleep(0)  # the last done callbacks
    return elapsed, latencies


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


@dataclass
class Topics:
    """Fresh bench topics, deleted on exit."""

    bootstrap: str
    created: list[str] = field(default_factory=list)

    async def fresh(self, template: TopicSpec) -> TopicSpec:
        spec = dataclasses.replace(template, name=f"bench.{template.name}.{uuid.uuid4().hex[:8]}")
        async with admin_client(self.bootstrap) as admin:
            await ensure_topics(admin, [spec])
        self.created.append(spec.name)
        return spec

    async def drop(self) -> None:
        if self.created:
            async with admin_client(self.bootstrap) as admin:
                await admin.delete_topics(self.created)


async def run(bootstrap: str, rounds: int, report: Callable[[str], None]) -> None:
    captures = [(exchange, load(name)) for exchange, name in CAPTURES]
    topics = Topics(bootstrap)
    try:
        deltas, snapshots = (
            await topics.fresh(MD_BOOK_DELTAS),
            await topics.fresh(MD_BOOK_SNAPSHOTS),
        )
        path = await service_path(bootstrap, captures, deltas, snapshots, rounds)
        unacked = sum(r.acked is None for r in path.published)
        if path.lost or unacked:
            raise SystemExit(f"{len(path.lost)} records lost, {unacked} not acknowledged")
        bare = {deltas.name: (await topics.fresh(MD_BOOK_DELTAS)).name}
        bare[snapshots.name] = (await topics.fresh(MD_BOOK_SNAPSHOTS)).name
        bare_s, bare_ms = await baseline_path(bootstrap, path.published, bare)
        no_kafka = await book_path(captures, rounds)
    finally:
        await topics.drop()
    records = len(path.published)
    ms = path.latencies_ms()
    size = statistics.mean(len(r.message.SerializeToString()) for r in path.published)
    report(
        f"{path.frames:,} frames ({rounds} rounds of {', '.join(n for _, n in CAPTURES)}) → "
        f"{len(path.of(deltas)):,} deltas + {len(path.of(snapshots)):,} snapshots "
        f"({records:,} records, mean {size:,.0f} B); {path.desyncs} desyncs, "
        f"{path.dropped} deltas dropped"
    )
    report(f"{'measure':<44} {'service':>10} {'bare':>10} {'ratio':>7} {'target':>8}")
    bare_frames = path.frames / bare_s
    report(
        f"{'frames/s to Kafka ack (bare: same records)':<44} {path.frames_per_s:>10,.0f} "
        f"{bare_frames:>10,.0f} {path.frames_per_s / bare_frames:>7.2f} {TARGET:>8,}"
    )
    report(
        f"{'records/s to Kafka ack':<44} {records / path.elapsed_s:>10,.0f} "
        f"{records / bare_s:>10,.0f} {bare_s / path.elapsed_s:>7.2f}"
    )
    for q in (50, 99):
        # no ratio: the bare producer is handed every record at once, so its records wait
        # behind each other; the service's arrive as the frames do
        ours, theirs = percentile(ms, q), percentile(bare_ms, q)
        report(f"{f'p{q} ms frame→ack (bare: send→ack)':<44} {ours:>10.1f} {theirs:>10.1f}")
    report(
        f"{'frames/s adapter+book into outbox, no Kafka':<44} {no_kafka:>10,.0f} "
        f"{'':>10} {path.frames_per_s / no_kafka:>7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    bootstrap = kafka_bootstrap_servers()
    asyncio.run(run(bootstrap, args.rounds, lambda line: print(line, flush=True)))


if __name__ == "__main__":
    main()
