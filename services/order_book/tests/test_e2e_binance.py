"""End to end: the simulator's Binance market -> the Binance feed -> the manager -> Kafka -> a
consumer's rebuild, which must equal the simulator's true book once the market is paused; and
the HTTP API answers for the same book."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.events.v1 import order_book_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.order_book.app import build_app
from eip.order_book.rebuild import BookRebuilder
from eip.order_book.service import OrderBookService
from eip.order_book.settings import ExchangeUrls, OrderBookSettings
from eip.order_book.sync_events import BookKey
from eip.testing.plugin import TopicFactory

from .test_kafka_rebuild import read_topic

pytestmark = pytest.mark.integration

KEY = BookKey("binance", "BTC/USDT")
DEPTH = 50


@pytest_asyncio.fixture
async def running(
    simulator: SimulatorClient, kafka_bootstrap_servers: str, make_topic: TopicFactory
) -> AsyncIterator[tuple[FastAPI, TopicSpec, TopicSpec]]:
    deltas = await make_topic(MD_BOOK_DELTAS)
    snapshots = await make_topic(MD_BOOK_SNAPSHOTS)
    settings = OrderBookSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        subscriptions={"binance": ["BTC/USDT"]},
        exchange_urls={
            "binance": ExchangeUrls(
                rest=simulator.base_url, ws=simulator.base_url.replace("http://", "ws://")
            )
        },
        snapshot_depth=DEPTH,
        snapshot_interval_s=1.0,
    )
    app = build_app(settings, deltas_topic=deltas, snapshots_topic=snapshots)
    async with app.router.lifespan_context(app):
        yield app, deltas, snapshots


async def wait_until_caught_up(service: OrderBookService, simulator: SimulatorClient) -> None:
    """The market is paused: wait until the service's book is at the simulator's update id."""
    truth = await simulator.book("BTCUSDT", limit=DEPTH)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = service.manager.get(KEY)
        if state and state.in_sync and state.exchange_sequence == str(truth["update_id"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"book never reached update id {truth['update_id']}: {state}")


def numeric(levels: list[tuple[str, str]] | list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


async def test_simulator_to_kafka_rebuild_and_http(
    running: tuple[FastAPI, TopicSpec, TopicSpec],
    simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
) -> None:
    app, deltas_topic, snapshots_topic = running
    service: OrderBookService = app.state.books
    await asyncio.sleep(3)  # let the live market move the book: deltas, periodic snapshots
    await simulator.pause_market()
    try:
        await wait_until_caught_up(service, simulator)
        truth = await simulator.book("BTCUSDT", limit=DEPTH)
        assert len(truth["bids"]) > 5
        assert len(truth["asks"]) > 5
        await asyncio.wait_for(service.publisher.drain(), 30)
        state = service.manager.get(KEY)
        assert state is not None
        published = (state.epoch, state.sequence)

        snapshots = await read_topic(kafka_bootstrap_servers, snapshots_topic, 1)
        assert snapshots, "no snapshot was published"
        latest = snapshots[-1]
        assert isinstance(latest, order_book_pb2.BookSnapshot)
        deltas = await read_topic(kafka_bootstrap_servers, deltas_topic, state.sequence)
        rebuilder = BookRebuilder()
        rebuilder.on_snapshot(latest)
        for message in deltas:
            assert isinstance(message, order_book_pb2.BookDelta)
            rebuilder.on_delta(message)
        copy = rebuilder.get(KEY)
        assert copy is not None
        assert copy.in_sync
        assert (copy.epoch, copy.sequence) == published
        assert numeric(copy.book.bid_strings()) == numeric(truth["bids"])
        assert numeric(copy.book.ask_strings()) == numeric(truth["asks"])
        assert state.deltas > 0  # the live market did change the book before the pause

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            book = (await client.get("/v1/books/binance/BTC-USDT", params={"depth": 5})).json()
            assert book["in_sync"] is True
            assert numeric(book["bids"]) == numeric(truth["bids"])[:5]
            assert numeric(book["asks"]) == numeric(truth["asks"])[:5]
            stats = (await client.get("/v1/books/binance/BTC-USDT/stats")).json()
            best_bid, best_ask = Decimal(truth["bids"][0][0]), Decimal(truth["asks"][0][0])
            assert Decimal(stats["spread"]) == best_ask - best_bid
            listed = (await client.get("/v1/books")).json()["books"]
            assert [(b["exchange"], b["symbol"], b["in_sync"]) for b in listed] == [
                ("binance", "BTC/USDT", True)
            ]
    finally:
        await simulator.resume_market()
