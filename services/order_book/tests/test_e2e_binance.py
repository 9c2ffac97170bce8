"""End to end: the simulator's Binance market -> the Binance feed -> the manager -> Kafka -> a
consumer's rebuild, which must equal the simulator's true book once the market is paused; and
the HTTP API answers for the same book."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.events.v1 import order_book_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.app import build_app
from eip.order_book.manager import BookState
from eip.order_book.rebuild import BookRebuilder
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.testing.plugin import TopicFactory
from eip.testing.tokens import TokenIssuer

from .test_kafka_rebuild import read_topic

pytestmark = pytest.mark.integration

KEY = BookKey("binance", "BTC/USDT")
DEPTH = 50


@pytest_asyncio.fixture
async def running(
    simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    database_url: str,
    db_schema: str,
    token_issuer: TokenIssuer,
) -> AsyncIterator[tuple[FastAPI, TopicSpec, TopicSpec]]:
    deltas = await make_topic(MD_BOOK_DELTAS)
    snapshots = await make_topic(MD_BOOK_SNAPSHOTS)
    settings = OrderBookSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        subscriptions_schema=db_schema,
        subscriptions={"binance": ["BTC/USDT"]},
        exchange_urls={"binance": simulator.base_url},
        snapshot_depth=DEPTH,
        snapshot_interval_s=1.0,
        **token_issuer.settings(),
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


async def wait_for_state(
    service: OrderBookService, ok: Callable[[BookState], bool], what: str
) -> BookState:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = service.manager.get(KEY)
        if state is not None and ok(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the book never got {what}: {service.manager.get(KEY)}")


async def rebuild(
    bootstrap: str, deltas_topic: TopicSpec, snapshots_topic: TopicSpec, sequence: int
) -> tuple[BookRebuilder, list[order_book_pb2.BookSnapshot]]:
    """A consumer starting now: the last snapshot of the key, then every retained delta."""
    snapshots = await read_topic(bootstrap, snapshots_topic, 1)
    assert snapshots, "no snapshot was published"
    rebuilder = BookRebuilder()
    latest = snapshots[-1]
    assert isinstance(latest, order_book_pb2.BookSnapshot)
    rebuilder.on_snapshot(latest)
    for message in await read_topic(bootstrap, deltas_topic, sequence):
        assert isinstance(message, order_book_pb2.BookDelta)
        rebuilder.on_delta(message)
    return rebuilder, [m for m in snapshots if isinstance(m, order_book_pb2.BookSnapshot)]


def numeric(levels: list[tuple[str, str]] | list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


async def test_simulator_to_kafka_rebuild_and_http(
    running: tuple[FastAPI, TopicSpec, TopicSpec],
    clean_simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
    token_issuer: TokenIssuer,
) -> None:
    simulator = clean_simulator
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

        rebuilder, _ = await rebuild(
            kafka_bootstrap_servers, deltas_topic, snapshots_topic, state.sequence
        )
        copy = rebuilder.get(KEY)
        assert copy is not None
        assert copy.in_sync
        assert (copy.epoch, copy.sequence) == published
        assert numeric(copy.book.bid_strings()) == numeric(truth["bids"])
        assert numeric(copy.book.ask_strings()) == numeric(truth["asks"])
        assert state.deltas > 0  # the live market did change the book before the pause

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=token_issuer.headers()
        ) as client:
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


async def test_a_gap_at_the_venue_becomes_a_new_epoch_that_consumers_follow(
    running: tuple[FastAPI, TopicSpec, TopicSpec],
    clean_simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
) -> None:
    app, deltas_topic, snapshots_topic = running
    service: OrderBookService = app.state.books
    await wait_for_state(service, lambda s: s.in_sync and s.deltas > 0, "in sync")
    await clean_simulator.skip_sequence("BTCUSDT", 1, venue="binance")
    await wait_for_state(service, lambda s: s.in_sync and s.epoch >= 2, "a second epoch")
    await asyncio.sleep(1)  # deltas of the new epoch
    await clean_simulator.pause_market()
    try:
        await wait_until_caught_up(service, clean_simulator)
        truth = await clean_simulator.book("BTCUSDT", limit=DEPTH)
        await asyncio.wait_for(service.publisher.drain(), 30)
        state = service.manager.get(KEY)
        assert state is not None
        assert state.desync_reason is None
        assert state.desyncs >= 1
        rebuilder, snapshots = await rebuild(
            kafka_bootstrap_servers, deltas_topic, snapshots_topic, state.sequence
        )
        markers = [m for m in snapshots if m.out_of_sync]
        assert markers
        assert markers[0].desync_reason == "gap"
        copy = rebuilder.get(KEY)
        assert copy is not None
        assert copy.in_sync
        assert (copy.epoch, copy.sequence) == (state.epoch, state.sequence)
        assert numeric(copy.book.bid_strings()) == numeric(truth["bids"])
        assert numeric(copy.book.ask_strings()) == numeric(truth["asks"])
    finally:
        await clean_simulator.resume_market()
