"""Coinbase level2: parsing realistic payloads and sequence_num gap handling."""

from __future__ import annotations

import json
from typing import Any

from eip.exchanges.coinbase.book import CoinbaseFeed
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

PRODUCTS_URL = "https://api.coinbase.com/api/v3/brokerage/market/products"
PRODUCTS = {
    "products": [
        {"product_id": "BTC-USD", "quote_increment": "0.01", "base_increment": "0.00000001"},
        {"product_id": "ETH-USD", "quote_increment": "0.01", "base_increment": "0.00000001"},
    ],
    "num_products": 2,
}


def envelope(sequence: int, channel: str, events: list[Any]) -> dict[str, Any]:
    return {
        "channel": channel,
        "client_id": "",
        "timestamp": "2023-02-09T20:32:50.714964855Z",
        "sequence_num": sequence,
        "events": events,
    }


def snapshot(sequence: int, product: str = "BTC-USD") -> dict[str, Any]:
    # Shape and values as in the l2_data snapshot quoted in ccxt python/ccxt/pro/coinbase.py
    # (captured traffic; snapshots carry event_time 1970-01-01) and docs.cdp.coinbase.com level2.
    levels = [
        ("bid", "21921.74", "0.06317902"),
        ("bid", "21921.3", "0.02"),
        ("offer", "21921.75", "0.12"),
        ("offer", "21922.01", "1.5"),
    ]
    updates = [
        {"side": s, "event_time": "1970-01-01T00:00:00Z", "price_level": p, "new_quantity": q}
        for s, p, q in levels
    ]
    return envelope(
        sequence, "l2_data", [{"type": "snapshot", "product_id": product, "updates": updates}]
    )


def update(sequence: int, side: str, price: str, qty: str, product: str = "BTC-USD") -> Any:
    change = {
        "side": side,
        "event_time": "2023-02-09T20:32:50.653123456Z",
        "price_level": price,
        "new_quantity": qty,
    }
    return envelope(
        sequence, "l2_data", [{"type": "update", "product_id": product, "updates": [change]}]
    )


def heartbeat(sequence: int) -> Any:
    beat = {
        "current_time": "2023-02-09 20:32:51.0001 +0000 UTC m=+91717.5",
        "heartbeat_counter": "3",
    }
    return envelope(sequence, "heartbeats", [beat])


def acks(sequence: int) -> Any:
    return envelope(sequence, "subscriptions", [{"subscriptions": {"level2": ["BTC-USD"]}}])


def cb_capture(frames: list[Any]) -> list[dict[str, Any]]:
    return capture(
        "coinbase", {PRODUCTS_URL: PRODUCTS}, frames, "wss://advanced-trade-ws.coinbase.com"
    )


async def test_snapshot_then_updates_across_heartbeats() -> None:
    frames = [
        acks(0),
        acks(1),
        snapshot(2),
        heartbeat(3),
        update(4, "bid", "21921.74", "0"),
        update(5, "offer", "21921.80", "0.5"),
    ]
    transport = ReplayTransport(cb_capture(frames))
    feed = CoinbaseFeed(["BTC/USD"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert events.desyncs == []
    (snap,) = events.snapshots
    assert snap.exchange_sequence == "2"
    assert snap.exchange_time is None  # epoch-zero snapshot times are no time
    assert [(d.bids, d.asks) for d in events.deltas] == [
        ([("21921.74", "0.00000000")], []),
        ([], [("21921.80", "0.50000000")]),
    ]
    assert events.deltas[0].exchange_time is not None
    assert events.deltas[0].exchange_time.isoformat() == "2023-02-09T20:32:50.653123+00:00"
    book = feed.books["BTC/USD"].book
    assert [str(p) for p, _ in book.bids()] == ["21921.30"]
    assert [str(p) for p, _ in book.asks()] == ["21921.75", "21921.80", "21922.01"]
    channels = [(m["type"], m["channel"]) for m in map(json.loads, transport.sent)]
    assert channels == [("subscribe", "heartbeats"), ("subscribe", "level2")]
    assert json.loads(transport.sent[1])["product_ids"] == ["BTC-USD"]


async def test_a_sequence_gap_desyncs_every_book_and_resubscribes() -> None:
    frames = [
        snapshot(0),
        snapshot(1, "ETH-USD"),
        update(2, "bid", "21921.00", "1"),
        heartbeat(4),  # 3 was lost: it could have been any product's update
        update(5, "bid", "21920.00", "1"),  # ignored: no book is trusted now
        snapshot(6),
        snapshot(7, "ETH-USD"),
        update(8, "bid", "21921.01", "2"),
    ]
    transport = ReplayTransport(cb_capture(frames))
    feed = CoinbaseFeed(["BTC/USD", "ETH/USD"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert sorted((d.key.symbol, d.reason) for d in events.desyncs) == [
        ("BTC/USD", "gap"),
        ("ETH/USD", "gap"),
    ]
    assert "4 after 2" in events.desyncs[0].detail
    assert feed.gaps == 1
    assert all(d.exchange_sequence != "5" for d in events.deltas)
    assert [d.exchange_sequence for d in events.deltas] == ["2", "8"]
    assert feed.books["BTC/USD"].in_sync
    assert feed.books["ETH/USD"].in_sync
    resubscribed = [
        (m["type"], m["product_ids"])
        for m in map(json.loads, transport.sent[2:])
        if m["channel"] == "level2"
    ]
    assert resubscribed == [
        ("unsubscribe", ["BTC-USD"]),
        ("subscribe", ["BTC-USD"]),
        ("unsubscribe", ["ETH-USD"]),
        ("subscribe", ["ETH-USD"]),
    ]


async def test_late_duplicate_is_ignored() -> None:
    frames = [snapshot(0), update(1, "bid", "21921.00", "1"), update(1, "bid", "21921.00", "9")]
    feed = CoinbaseFeed(
        ["BTC/USD"], ReplayTransport(cb_capture(frames)), FeedOptions(stale_after_s=3600)
    )
    events = await replay(feed)

    assert events.desyncs == []
    assert len(events.deltas) == 1
    assert (
        str(feed.books["BTC/USD"].book.best_bid()) == "(Decimal('21921.74'), Decimal('0.06317902'))"
    )


async def test_crossed_update_desyncs_and_resubscribes_only_that_product() -> None:
    frames = [snapshot(0), update(1, "bid", "21930.00", "1"), snapshot(2)]
    transport = ReplayTransport(cb_capture(frames))
    feed = CoinbaseFeed(["BTC/USD"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["crossed"]
    assert events.deltas == []
    assert len(events.snapshots) == 2
    assert feed.books["BTC/USD"].in_sync
    assert not feed.books["BTC/USD"].book.is_crossed()


async def test_stale_connection_in_recorded_time() -> None:
    frames = [snapshot(0), (heartbeat(1), 1_700_000_100.0), snapshot(2)]
    feed = CoinbaseFeed(
        ["BTC/USD"], ReplayTransport(cb_capture(frames)), FeedOptions(stale_after_s=30)
    )
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["stale"]
    assert len(events.snapshots) == 2
    assert feed.books["BTC/USD"].in_sync
