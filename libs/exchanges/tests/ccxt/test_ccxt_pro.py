"""The ccxt.pro adapter's translation of ccxt books and errors, with a scripted ccxt client."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from eip.exchanges.ccxt.book import CcxtProFeed, decimals_of, exact
from eip.exchanges.ccxt.urls import rewrite_urls
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_feeds import Events


class ScriptedClient:
    """Just the part of a ccxt.pro exchange the adapter uses; ``watch_order_book`` plays a
    script of books (dicts) and exceptions, then blocks like a quiet market."""

    precisionMode = 4  # TICK_SIZE

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.options: dict[str, Any] = {}
        self.urls: dict[str, Any] = {"api": {}}
        self.markets: dict[str, Any] = {}
        self.unwatched: list[str] = []
        self.done = asyncio.Event()

    async def load_markets(self) -> dict[str, Any]:
        self.markets = {"BTC/USDT": {"precision": {"price": 0.01, "amount": 1e-05}}}
        return self.markets

    def market(self, symbol: str) -> dict[str, Any]:
        return dict(self.markets[symbol])

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> Any:
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    async def un_watch_order_book(self, symbol: str) -> None:
        self.unwatched.append(symbol)

    def milliseconds(self) -> int:
        return 1_700_000_000_000

    async def close(self) -> None:
        return None


def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]], nonce: int) -> Any:
    return {
        "bids": [list(b) for b in bids],
        "asks": [list(a) for a in asks],
        "nonce": nonce,
        "timestamp": 1_700_000_000_123,
    }


async def run_script(script: list[Any]) -> tuple[Events, CcxtProFeed, ScriptedClient]:
    client = ScriptedClient(script)
    feed = CcxtProFeed(
        "okx", ["BTC/USDT"], FeedOptions(stale_after_s=60), factory=lambda config: client
    )
    events = Events()
    task = asyncio.create_task(feed.run(events))
    await asyncio.wait_for(client.done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return events, feed, client


async def test_books_become_a_snapshot_then_deltas_of_what_changed() -> None:
    events, feed, client = await run_script(
        [
            book([(100.5, 1.0), (100.25, 2.5)], [(101.0, 0.5)], 7),
            book([(100.5, 1.5)], [(101.0, 0.5), (101.5, 0.00001)], 8),
        ]
    )
    assert client.options["checksum"] is True  # ccxt's own verification switched on
    (snapshot,) = events.snapshots
    assert snapshot.exchange_sequence == "7"
    assert snapshot.exchange_time is not None
    (delta,) = events.deltas
    assert delta.bids == [("100.50", "1.50000"), ("100.25", "0.00000")]
    assert delta.asks == [("101.50", "0.00001")]
    assert delta.exchange_sequence == "8"
    assert feed.books["BTC/USDT"].book.bid_strings() == [("100.50", "1.50000")]


async def test_ccxt_errors_become_desyncs_and_the_next_book_a_new_snapshot() -> None:
    events, feed, _ = await run_script(
        [
            book([(100.5, 1.0)], [(101.0, 0.5)], 1),
            ccxt.ChecksumError("okx checksum mismatch"),
            book([(100.0, 1.0)], [(101.0, 0.5)], 5),
            ccxt.InvalidNonce("okx nonce gap"),
            book([(100.0, 2.0)], [(101.0, 0.5)], 9),
        ]
    )
    assert [d.reason for d in events.desyncs] == ["checksum", "gap"]
    assert [s.exchange_sequence for s in events.snapshots] == ["1", "5", "9"]
    assert events.deltas == []
    assert feed.books["BTC/USDT"].in_sync


async def test_crossed_or_imprecise_books_are_refused_and_resubscribed() -> None:
    events, feed, client = await run_script(
        [
            book([(100.5, 1.0)], [(101.0, 0.5)], 1),
            book([(102.0, 1.0)], [(101.0, 0.5)], 2),  # crossed
            book([(100.123, 1.0)], [(101.0, 0.5)], 3),  # more decimals than the market's tick
            book([(100.5, 1.0)], [(101.0, 0.5)], 4),
        ]
    )
    assert [d.reason for d in events.desyncs] == ["crossed", "error"]
    assert "100.123" in events.desyncs[1].detail
    assert client.unwatched == ["BTC/USDT", "BTC/USDT"]
    assert [s.exchange_sequence for s in events.snapshots] == ["1", "4"]
    assert feed.books["BTC/USDT"].book.best_bid() is not None


def test_exact_decimal_strings_from_ccxt_floats() -> None:
    assert exact(0.1, 2) == "0.10"
    assert exact(67210.12, 2) == "67210.12"
    assert exact(1e-05, 8) == "0.00001000"
    with pytest.raises(ValueError, match="more than 2"):
        exact(0.125, 2)
    assert decimals_of(0.0001, 4) == 4
    assert decimals_of(1.0, 4) == 0
    assert decimals_of(3, 2) == 3  # DECIMAL_PLACES mode gives the count itself


def test_urls_move_to_one_host_with_paths_kept() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "ws": {"spot": "wss://stream.binance.com:9443/ws"},
        "list": ["https://a.example/x"],
        "n": 3,
    }
    moved = rewrite_urls(urls, "http://127.0.0.1:8300")
    assert moved == {
        "public": "http://127.0.0.1:8300/api/v3",
        "ws": {"spot": "ws://127.0.0.1:8300/ws"},
        "list": ["http://127.0.0.1:8300/x"],
        "n": 3,
    }
