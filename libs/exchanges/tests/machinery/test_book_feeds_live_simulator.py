"""Live adapters against the exchange simulator: injected faults are caught and healed, and the
healed book equals the simulator's true book."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.book_events import BookDesync, BookSnapshot
from eip.exchanges.machinery.transport import LiveTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, InstrumentBook, WsBookFeed, stop_task
from eip.exchanges.registry import create_native_book_feed as create_feed
from eip.testing.book_feeds import Events

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {check}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(feed: WsBookFeed) -> AsyncIterator[Events]:
    events = Events()
    task = asyncio.create_task(feed.run(events))
    try:
        yield events
    finally:
        await stop_task(task)
        await feed.transport.aclose()


def as_decimals(levels: list[Any]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


class HasBooks(Protocol):
    books: dict[str, InstrumentBook]


async def matches_simulator(
    sim: SimulatorClient, feed: HasBooks, symbol: str, venue_symbol: str, depth: int = 1000
) -> bool:
    state = feed.books.get(symbol)
    if state is None or not state.in_sync:
        return False
    truth = await sim.book(venue_symbol, depth)
    return bool(
        state.book.bids(depth) == as_decimals(truth["bids"])
        and state.book.asks(depth) == as_decimals(truth["asks"])
    )


def count(events: Events, kind: type, reason: str | None = None) -> int:
    return sum(
        1
        for e in events.items
        if isinstance(e, kind) and (reason is None or getattr(e, "reason", None) == reason)
    )


def feed_for(exchange: str, sim: SimulatorClient, symbol: str, **settings: Any) -> WsBookFeed:
    return create_feed(
        exchange, [symbol], LiveTransport(), FeedOptions(stale_after_s=10), sim.base_url, **settings
    )


@pytest.mark.parametrize(
    ("exchange", "symbol", "fault", "reason", "depth"),
    [
        ("binance", "BTC/USDT", "skip_sequence", "gap", 1000),
        ("kraken", "BTC/USDT", "skip_sequence", "checksum", 10),
        ("kraken", "ETH/USDT", "corrupt_checksum", "checksum", 10),
        ("coinbase", "BTC/USDT", "skip_sequence", "gap", 1000),
    ],
)
async def test_injected_fault_is_detected_and_the_book_resyncs_to_the_truth(
    clean_simulator: SimulatorClient,
    exchange: str,
    symbol: str,
    fault: str,
    reason: str,
    depth: int,
) -> None:
    sim = clean_simulator
    venue_symbol = symbol.replace("/", "")
    settings = {"depth": depth} if exchange == "kraken" else {}
    feed = feed_for(exchange, sim, symbol, **settings)
    async with running(feed) as events:
        await eventually(lambda: count(events, BookSnapshot) >= 1)
        await eventually(lambda: len(events.deltas) >= 3)

        if fault == "corrupt_checksum":
            await sim.corrupt_checksum(venue_symbol, 1, venue=exchange)
        else:
            await sim.skip_sequence(venue_symbol, 1, venue=exchange)
        await eventually(lambda: count(events, BookDesync, reason) >= 1)
        await eventually(lambda: count(events, BookSnapshot) >= 2)  # resynced

        await sim.pause_market()
        try:
            await eventually(lambda: matches_simulator(sim, feed, symbol, venue_symbol, depth))
        finally:
            await sim.resume_market()
    desync = next(e for e in events.desyncs if e.reason == reason)
    assert desync.key.symbol == symbol
    assert count(events, BookDesync) == count(events, BookDesync, reason)  # nothing else went wrong


async def test_ccxt_pro_feed_resyncs_after_a_skipped_sequence(
    clean_simulator: SimulatorClient,
) -> None:
    from eip.exchanges.ccxt.book import CcxtProFeed

    sim = clean_simulator
    feed = CcxtProFeed(
        "binance",
        ["BTC/USDT"],
        FeedOptions(stale_after_s=10),
        config={"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}},
        base_url=sim.base_url,
    )
    events = Events()
    task = asyncio.create_task(feed.run(events))
    try:
        await eventually(lambda: count(events, BookSnapshot) >= 1)
        await eventually(lambda: len(events.deltas) >= 3)
        await sim.skip_sequence("BTCUSDT", 1, venue="binance")
        # ccxt notices the broken U/u chain (it reports it as a checksum error)
        await eventually(lambda: count(events, BookDesync, "checksum") >= 1)
        await eventually(lambda: count(events, BookSnapshot) >= 2)
        await sim.pause_market()
        try:
            await eventually(lambda: matches_simulator(sim, feed, "BTC/USDT", "BTCUSDT"))
        finally:
            await sim.resume_market()
    finally:
        await stop_task(task)
    assert count(events, BookDesync) == count(events, BookDesync, "checksum")


async def test_a_stream_silent_for_longer_than_stale_after_desyncs_reconnects_and_resyncs(
    clean_simulator: SimulatorClient,
) -> None:
    """The wall-clock staleness watch of the read loop (no frame within ``stale_after_s``,
    heartbeats included), on a real socket: the venue holds every message for 8 s, and the
    feed gives up on the connection while it is still silent (the frames' own times would
    only show the silence once messages flow again)."""
    sim = clean_simulator
    feed = create_feed(
        "kraken", ["BTC/USDT"], LiveTransport(), FeedOptions(stale_after_s=1.0), sim.base_url
    )
    async with running(feed) as events:
        await eventually(lambda: count(events, BookSnapshot) >= 1)
        await eventually(lambda: len(events.deltas) >= 3)
        assert count(events, BookDesync) == 0  # frames and heartbeats keep it alive

        await sim.stall_streams(8, venue="kraken")
        await eventually(lambda: count(events, BookDesync, "stale") >= 1, timeout_s=5)
        await eventually(lambda: count(events, BookSnapshot) >= 2, timeout_s=30)  # resynced

        await sim.pause_market()
        try:
            await eventually(lambda: matches_simulator(sim, feed, "BTC/USDT", "BTCUSDT", 10))
        finally:
            await sim.resume_market()
    assert count(events, BookDesync) == count(events, BookDesync, "stale")
