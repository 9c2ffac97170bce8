"""Kraken WebSocket v2 ``book`` channel: a naive client keeps a book from snapshot + updates,
checks every checksum, and ends equal to the simulator's true book; faults are seen as a client
sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import websockets

from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.kraken.checksum import book_checksum
from eip.exchange_simulator.kraken.depth_view import DepthView

from .kraken_book import Feed, NaiveBook, reference_checksum
from .test_faults import drain

D = Decimal

# docs.kraken.com/api/docs/websocket-v2/book, "Snapshot Response" and "Update Response"
# examples (MATIC/USD, price precision 4, qty precision 8).
DOC_BIDS = [
    (D("0.5666"), D("4831.75496356")),
    (D("0.5665"), D("6658.22734739")),
    (D("0.5664"), D("18724.91513344")),
    (D("0.5663"), D("11563.92544914")),
    (D("0.5662"), D("14006.65365711")),
    (D("0.5661"), D("17454.85679807")),
    (D("0.566"), D("18097.1547")),
    (D("0.5659"), D("33644.89175666")),
    (D("0.5658"), D("148.3464")),
    (D("0.5657"), D("606.70854372")),
]
DOC_ASKS = [
    (D("0.5668"), D("4410.79769741")),
    (D("0.5669"), D("4655.40412487")),
    (D("0.567"), D("49844.89424998")),
    (D("0.5671"), D("24306.41678")),
    (D("0.5672"), D("29783.25223475")),
    (D("0.5673"), D("57234.71239278")),
    (D("0.5674"), D("45065.04744")),
    (D("0.5675"), D("5912.76380354")),
    (D("0.5676"), D("42514.92434778")),
    (D("0.5677"), D("36304.0847022")),
]


def test_checksum_matches_krakens_documented_example() -> None:
    assert book_checksum(DOC_ASKS, DOC_BIDS, 4, 8) == 2439117997
    assert reference_checksum(DOC_ASKS, DOC_BIDS, 4, 8) == 2439117997
    updated = [*DOC_BIDS[:-1], (D("0.5657"), D("1098.3947558"))]  # the documented update
    assert book_checksum(DOC_ASKS, updated, 4, 8) == 2114181697


def test_checksum_covers_only_the_top_ten_levels() -> None:
    deeper = [*DOC_BIDS, (D("0.5600"), D("1"))]
    assert book_checksum(DOC_ASKS, deeper, 4, 8) == 2439117997
    assert book_checksum(DOC_ASKS[:3], DOC_BIDS, 4, 8) != 2439117997


def test_depth_view_leaves_pushed_out_levels_to_truncation() -> None:
    view = DepthView(2, [(D(100), D(1)), (D(99), D(1))], [(D(101), D(1)), (D(102), D(1))])
    in_book = {D(100), D(99), D("100.5")}
    # A better bid pushes 99 out of range: only the insert is sent, 99 is still in the book.
    bids, asks = view.advance(
        [(D("100.5"), D(2)), (D(100), D(1))],
        [(D(101), D(1)), (D(102), D(1))],
        in_book.__contains__,
        lambda _: True,
    )
    assert bids == [(D("100.5"), D(2))]
    assert asks == []
    # 100.5 leaves the book: its delete is sent and 99 comes back into range as an insert.
    in_book.discard(D("100.5"))
    bids, _ = view.advance(
        [(D(100), D(1)), (D(99), D(1))],
        [(D(101), D(1)), (D(102), D(1))],
        in_book.__contains__,
        lambda _: True,
    )
    assert bids == [(D("100.5"), D(0)), (D(99), D(1))]


def test_wire_numbers_keep_every_digit() -> None:
    assert fixed(D("0.1"), 5) == "0.10000"
    assert fixed(D("1.50000000"), 5) == "1.50000"
    assert fixed(D("0.123456"), 5) == "0.123456"  # finer than the lot: widened, not rounded
    assert fixed(D(0), 2) == "0.00"
    assert fixed(D("65000"), 2) == "65000.00"


# -- against the running simulator --------------------------------------------------------------

PRECISION = {"BTCUSDT": (2, 5), "ETHUSDT": (2, 4)}  # from default-market.toml tick / step


@asynccontextmanager
async def kraken(sim: SimulatorClient) -> AsyncIterator[Feed]:
    async with websockets.connect(sim.kraken_ws_url) as ws:
        feed = Feed(ws)
        status = await feed.recv()
        assert status["channel"] == "status"
        assert status["data"][0]["system"] == "online"
        assert status["data"][0]["api_version"] == "v2"
        yield feed


async def subscribe(feed: Feed, symbol: str, depth: int, req_id: int = 1) -> dict[str, Any]:
    await feed.send(
        {
            "method": "subscribe",
            "params": {"channel": "book", "symbol": [symbol], "depth": depth},
            "req_id": req_id,
        }
    )
    return await feed.reply("subscribe")


async def unsubscribe(feed: Feed, symbol: str) -> dict[str, Any]:
    await feed.send({"method": "unsubscribe", "params": {"channel": "book", "symbol": [symbol]}})
    return await feed.reply("unsubscribe")


def new_book(symbol: str, depth: int) -> NaiveBook:
    price_dp, qty_dp = PRECISION[symbol]
    return NaiveBook(depth, price_dp, qty_dp)


async def assert_equals_true_book(sim: SimulatorClient, symbol: str, book: NaiveBook) -> None:
    truth = await sim.book(symbol, limit=book.depth)
    assert book.top_bids() == [(D(p), D(q)) for p, q in truth["bids"]]
    assert book.top_asks() == [(D(p), D(q)) for p, q in truth["asks"]]


async def settle(sim: SimulatorClient, feed: Feed, books: dict[str, NaiveBook]) -> None:
    """Pause the market and apply whatever was still on its way."""
    await sim.pause_market()
    for message in await feed.until_quiet():
        if message.get("channel") == "book":
            data = message["data"][0]
            assert books[data["symbol"]].apply(data, message["type"] == "snapshot")


async def test_book_follows_the_market_with_valid_checksums(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    async with kraken(sim) as feed:
        ack = await subscribe(feed, "BTC/USDT", 10, req_id=7)
        assert ack["success"] is True
        assert ack["req_id"] == 7
        assert ack["result"] == {
            "channel": "book",
            "depth": 10,
            "snapshot": True,
            "symbol": "BTC/USDT",
        }
        assert (await subscribe(feed, "ETH/USDT", 25, req_id=8))["success"] is True
        books = {"BTC/USDT": new_book("BTCUSDT", 10), "ETH/USDT": new_book("ETHUSDT", 25)}
        kinds: list[str] = []
        for message in await feed.book_messages(80):
            data = message["data"][0]
            assert books[data["symbol"]].apply(data, message["type"] == "snapshot"), data
            kinds.append(message["type"])
        assert kinds.count("snapshot") == 2
        assert kinds.count("update") == 78
        try:
            await settle(sim, feed, books)
            # Counted between steps only: inside one, a level leaving the ladder is sent before
            # the one replacing it, so a side can be briefly short. The ladder has 20 levels a
            # side, less any a noise trade took: more than 10 shows depth 25 was honoured.
            assert len(books["BTC/USDT"].bids) == 10
            assert 10 < len(books["ETH/USDT"].asks) <= 25
            await assert_equals_true_book(sim, "BTCUSDT", books["BTC/USDT"])
            await assert_equals_true_book(sim, "ETHUSDT", books["ETH/USDT"])
        finally:
            await sim.resume_market()


async def test_numbers_are_json_numbers_with_the_pairs_precision(
    clean_simulator: SimulatorClient,
) -> None:
    async with websockets.connect(clean_simulator.kraken_ws_url) as ws:
        await ws.recv()  # status
        await ws.send(
            json.dumps(
                {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USDT"]}}
            )
        )
        await ws.recv()  # ack
        raw = await ws.recv()
    assert isinstance(raw, str)
    snapshot = json.loads(raw, parse_float=str)  # the literal text of each number
    level = snapshot["data"][0]["bids"][0]
    assert len(level["price"].split(".")[1]) == 2
    assert len(level["qty"].split(".")[1]) == 5
    assert snapshot["data"][0]["timestamp"].endswith("Z")
    assert len(snapshot["data"][0]["bids"]) == 10  # the default depth


async def test_requests_and_errors(clean_simulator: SimulatorClient) -> None:
    async with kraken(clean_simulator) as feed:
        await feed.send({"method": "ping", "req_id": 101})
        pong = await feed.reply("pong")
        assert pong["req_id"] == 101
        assert "time_in" in pong
        assert "time_out" in pong

        error = await subscribe(feed, "BTC/XYZ", 10, req_id=3)
        assert error["success"] is False
        assert error["error"] == "Currency pair not supported BTC/XYZ"
        assert error["symbol"] == "BTC/XYZ"
        assert error["req_id"] == 3

        bad_depth = await subscribe(feed, "BTC/USDT", 15)
        assert bad_depth["success"] is False
        assert "depth" in bad_depth["error"]

        assert (await subscribe(feed, "SOL/USDT", 10))["success"] is True
        assert (await feed.book_messages(1))[0]["type"] == "snapshot"
        again = await subscribe(feed, "SOL/USDT", 10)
        assert again["success"] is False
        assert again["error"] == "Already subscribed"

        gone = await unsubscribe(feed, "SOL/USDT")
        assert gone["success"] is True
        assert gone["result"]["symbol"] == "SOL/USDT"
        feed.pending.clear()  # updates sent before the unsubscribe took effect
        assert await feed.until_quiet(1.5) == []


async def test_instrument_channel_gives_the_checksum_precisions(
    clean_simulator: SimulatorClient,
) -> None:
    async with kraken(clean_simulator) as feed:
        await feed.send({"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 4})
        ack = await feed.reply("subscribe")
        assert ack["success"] is True
        assert ack["result"] == {"channel": "instrument", "snapshot": True}
        snapshot = await feed.recv()
        await feed.send({"method": "subscribe", "params": {"channel": "instrument"}})
        assert (await feed.reply("subscribe"))["error"] == "Already subscribed"
    assert snapshot["channel"] == "instrument"
    assert snapshot["type"] == "snapshot"
    pairs = {p["symbol"]: p for p in snapshot["data"]["pairs"]}
    assert set(pairs) == {"BTC/USDT", "ETH/USDT", "ETH/BTC", "SOL/USDT", "BTC/USD", "ETH/USD"}
    btc = pairs["BTC/USDT"]
    assert (btc["price_precision"], btc["qty_precision"]) == (2, 5)
    assert (btc["price_increment"], btc["qty_increment"]) == (D("0.01"), D("0.00001"))
    assert btc["cost_min"] == D(5)
    assert {a["id"] for a in snapshot["data"]["assets"]} == {"BTC", "ETH", "SOL", "USDT", "USD"}


async def test_heartbeat_once_subscribed(clean_simulator: SimulatorClient) -> None:
    async with kraken(clean_simulator) as feed:
        await subscribe(feed, "ETH/BTC", 10)
        channels = set()
        async with asyncio.timeout(5):
            while "heartbeat" not in channels:
                channels.add((await feed.recv())["channel"])
    assert channels >= {"book", "heartbeat"}


async def test_corrupted_checksum_is_seen_exactly_n_times(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    async with kraken(sim) as feed:
        await subscribe(feed, "BTC/USDT", 10)
        book = new_book("BTCUSDT", 10)
        (snapshot,) = await feed.book_messages(1)
        assert book.apply(snapshot["data"][0], True)
        await sim.corrupt_checksum("BTCUSDT", 3, venue="kraken")
        results = [book.apply(m["data"][0], False) for m in await feed.book_messages(40)]
    # The levels were right all along: the next honest checksum matches again.
    assert results.count(False) == 3
    assert all(results[results.index(False) + 3 :])


async def test_skipped_updates_fail_the_checksum_and_a_resubscribe_heals(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    async with kraken(sim) as feed:
        await subscribe(feed, "BTC/USDT", 10)
        book = new_book("BTCUSDT", 10)
        (snapshot,) = await feed.book_messages(1)
        assert book.apply(snapshot["data"][0], True)
        await sim.skip_sequence("BTCUSDT", 2, venue="kraken")
        mismatch = False
        for message in await feed.book_messages(60):
            if not book.apply(message["data"][0], False):
                mismatch = True
                break
        assert mismatch, "the lost updates went unnoticed"
        await unsubscribe(feed, "BTC/USDT")
        feed.pending.clear()
        assert (await subscribe(feed, "BTC/USDT", 10))["success"] is True
        messages = await feed.book_messages(30)
        assert messages[0]["type"] == "snapshot"
        for message in messages:
            assert book.apply(message["data"][0], message["type"] == "snapshot")
        try:
            await settle(sim, feed, {"BTC/USDT": book})
            await assert_equals_true_book(sim, "BTCUSDT", book)
        finally:
            await sim.resume_market()


async def test_dropped_kraken_connection_is_closed(clean_simulator: SimulatorClient) -> None:
    async with kraken(clean_simulator) as feed:
        await subscribe(feed, "BTC/USDT", 10)
        assert await clean_simulator.drop_streams("BTC/USDT", venue="kraken") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await drain(feed.ws)
