"""Market-data pipeline: recorded trades through the service's normalization and publishing
path into the real Kafka, and end-to-end latency from the simulator to a consumer, each
printed beside a baseline measured in the same run on the same machine.

Throughput: the ``aggTrade`` frames of ``data/recorded/binance-spot-2021-10.jsonl.zst``
(looped, with fresh ids) go through ``orjson.loads`` and the native Binance adapter's parse
function (``eip.exchanges.binance.wire.agg_trade``), then ``LiveService.emit`` → the outbox →
``KafkaPublisher`` → ``eip.bus.Producer.publish_many`` into a fresh topic, until Kafka
acknowledged all.
Baseline: a bare ``AIOKafkaProducer`` with the same settings (idempotent, acks=all, lz4,
linger 5 ms) sending one pre-serialized protobuf record per event: the ceiling of the Kafka
client in Python here, so the ratio is the cost of parsing, the contract, the outbox and the
wrapper. Target: 50,000 events/s per instance.

Latency: the simulator prints trades (admin API), the native adapter receives them, the
service publishes them to md.trades.v1 (a fresh copy) and a consumer reads them; latency =
consumer receive time - the simulator's trade time (``T``, ms precision). Baseline: the same
trades measured where the adapter hands them to the service (no Kafka hop).

    EIP_RUN_DIR=/work/main/.run uv run python bench/market_data_pipeline.py [--events 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from eip.bus import Producer, ProducerConfig, decode, encode
from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import MD_TICKERS, MD_TRADES, TopicSpec
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.binance import wire
from eip.exchanges.contract.market_data import MarketEvent, Trade
from eip.exchanges.machinery.capture import frame_payload, iter_entries, payload_text
from eip.exchanges.registry import create_market_data_adapter
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import trade_from_message, trade_key, trade_message
from eip.testing.endpoints import kafka_bootstrap_servers
from eip.testing.recorded import find_recorded
from eip.testing.simulator import run_simulator

CAPTURE = "binance-spot-2021-10.jsonl"
TARGET = 50_000


def recorded_frames() -> list[bytes]:
    frames = []
    try:
        path = find_recorded(CAPTURE)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    for _, record in iter_entries(path):
        if record["t"] == "recv":
            frame = payload_text(frame_payload(record))
            if "@aggTrade" in frame:
                frames.append(frame.encode())
    if not frames:
        raise SystemExit(f"no aggTrade frames in {path}")
    return frames


def symbol_of(stream_symbol: str) -> str:
    # The capture's four markets; the adapter resolves these through exchangeInfo.
    for quote in ("USDT", "BTC", "ETH", "EUR"):
        if stream_symbol.endswith(quote):
            return f"{stream_symbol[: -len(quote)]}/{quote}"
    raise ValueError(stream_symbol)


async def fresh_topic(bootstrap: str, template: TopicSpec) -> TopicSpec:
    spec = dataclasses.replace(template, name=f"bench.{template.name}.{uuid.uuid4().hex[:8]}")
    async with admin_client(bootstrap) as admin:
        await ensure_topics(admin, [spec])
    return spec


async def drop_topics(bootstrap: str, names: list[str]) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.delete_topics(names)


async def service_path(bootstrap: str, frames: list[bytes], events: int) -> float:
    topic = await fresh_topic(bootstrap, MD_TRADES)
    producer = Producer(ProducerConfig(bootstrap, client_id="bench-md"))
    await producer.start()
    settings = MarketDataSettings(outbox_size=events + 10)
    live = LiveService(settings, lambda: producer, trades_topic=topic, tickers_topic=MD_TICKERS)
    try:
        async with live.running():
            start = time.perf_counter()
            for i in range(events):
                msg = orjson.loads(frames[i % len(frames)])["data"]
                msg["a"] = i  # a fresh id per event, as a live stream has
                trade = wire.agg_trade(symbol_of(msg["s"]), msg, datetime.now(UTC))
                await live.emit(trade)
                if i % 1000 == 999:
                    await asyncio.sleep(0)  # let the publisher run, as the event loop would
            await live.publisher.drain()
            elapsed = time.perf_counter() - start
        assert live.outbox.dropped == 0
        return events / elapsed
    finally:
        await producer.stop()
        await drop_topics(bootstrap, [topic.name])


async def baseline_path(bootstrap: str, frames: list[bytes], events: int) -> float:
    topic = await fresh_topic(bootstrap, MD_TRADES)
    msg = orjson.loads(frames[0])["data"]
    trade = wire.agg_trade(symbol_of(msg["s"]), msg, datetime.now(UTC))
    value, headers = encode(topic, trade_message(trade))
    key = trade_key(trade)
    raw: Any = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        compression_type="lz4",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await raw.start()
    try:
        start = time.perf_counter()
        futures = [
            await raw.send(topic.name, value=value, key=key, headers=headers) for _ in range(events)
        ]
        await raw.flush()
        await asyncio.gather(*futures)
        return events / (time.perf_counter() - start)
    finally:
        await raw.stop()
        await drop_topics(bootstrap, [topic.name])


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def latency(bootstrap: str, rounds: int) -> tuple[list[float], list[float]]:
    topic = await fresh_topic(bootstrap, MD_TRADES)
    producer = Producer(ProducerConfig(bootstrap, client_id="bench-md-latency"))
    await producer.start()
    at_adapter: list[float] = []
    at_consumer: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, run_simulator(Path(tmp)) as sim_process:
        sim = SimulatorClient(sim_process.base_url)
        await sim.pause_market()  # only the printed trades, at a known pace
        settings = MarketDataSettings(exchange_urls={"binance": sim_process.base_url})
        live = LiveService(settings, lambda: producer, trades_topic=topic)
        emit = live.emit

        async def timed_emit(event: MarketEvent) -> None:
            if isinstance(event, Trade) and event.exchange_time is not None:
                at_adapter.append((datetime.now(UTC) - event.exchange_time).total_seconds())
            await emit(event)

        consumer: Any = AIOKafkaConsumer(
            topic.name,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="latest",
            fetch_max_wait_ms=5,  # a latency-minded consumer; aiokafka's default waits 500 ms
        )
        await consumer.start()
        try:
            async with live.running():
                adapter = create_market_data_adapter("binance", base_url=sim_process.base_url)
                await adapter.subscribe("trades", "BTC/USDT")
                runner = asyncio.create_task(adapter.run(timed_emit))
                for _ in range(600):  # 30 s for the adapter to connect
                    if adapter.status().connected:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                expected = rounds * 10

                async def consume() -> None:
                    # concurrently with the prints: the receive time is taken as records arrive
                    deadline = time.monotonic() + 60
                    while len(at_consumer) < expected and time.monotonic() < deadline:
                        batch = await consumer.getmany(timeout_ms=200)
                        now = datetime.now(UTC)
                        for records in batch.values():
                            for r in records:
                                message = decode(topic, r.value, list(r.headers))
                                t = trade_from_message(message)  # type: ignore[arg-type]
                                if t.exchange_time is not None:
                                    at_consumer.append((now - t.exchange_time).total_seconds())

                reader = asyncio.create_task(consume())
                for _ in range(rounds):
                    await sim.print_trades("BTCUSDT", 10, "50000", "0.01")
                    await asyncio.sleep(0.02)
                await reader
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                await adapter.close()
        finally:
            await consumer.stop()
            await sim.resume_market()
            await sim.aclose()
            await producer.stop()
            await drop_topics(bootstrap, [topic.name])
    return at_consumer, at_adapter


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=100, help="latency: print rounds of 10")
    args = parser.parse_args()
    bootstrap = kafka_bootstrap_servers()
    frames = recorded_frames()
    service = await service_path(bootstrap, frames, args.events)
    baseline = await baseline_path(bootstrap, frames, args.events)
    consumer_lat, adapter_lat = await latency(bootstrap, args.rounds)
    print(f"{'measure':<48}{'service':>12}{'baseline':>12}{'ratio':>8}{'target':>10}")
    print(
        f"{'events/s into Kafka (parse+publish)':<48}{service:>12,.0f}{baseline:>12,.0f}"
        f"{service / baseline:>8.2f}{TARGET:>10,}"
    )
    if consumer_lat and adapter_lat:
        for q in (50, 99):
            c, a = p(consumer_lat, q) * 1000, p(adapter_lat, q) * 1000
            print(
                f"{f'p{q} ms simulator→consumer (baseline: →adapter)':<48}{c:>12.1f}{a:>12.1f}"
                f"{c / a if a else float('inf'):>8.2f}"
            )
        print(
            f"latency samples: {len(consumer_lat)} at the consumer, "
            f"{len(adapter_lat)} at the adapter"
        )
    else:
        print("latency: no samples (is the simulator printing trades?)")


if __name__ == "__main__":
    asyncio.run(main())
