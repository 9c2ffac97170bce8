"""Coinbase Exchange (ex-Pro) level2: snapshot + l2update frames in the documented shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.coinbase.book import CoinbaseFeed
from eip.exchanges.coinbase.book_exchange import CoinbaseExchangeFeed
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.exchanges.registry import create_native_book_feed as create_feed
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

PRODUCTS_URL = "https://api.pro.coinbase.com/products"
# GET /products answers a bare list; fields as in docs.cdp.coinbase.com (Exchange REST API).
PRODUCTS = [
    {"id": "BAND-GBP", "base_currency": "BAND", "quote_currency": "GBP",
     "quote_increment": "0.0001", "base_increment": "0.01"},
    {"id": "SKL-USD", "base_currency": "SKL", "quote_currency": "USD",
     "quote_increment": "0.00001", "base_increment": "0.1"},
]  # fmt: skip
ADDR = "wss://ws-feed.pro.coinbase.com"


def snapshot(product: str = "BAND-GBP") -> dict[str, Any]:
    if product == "SKL-USD":
        bids, asks = [["0.42001", "100.0"]], [["0.42010", "50.5"]]
    else:
        bids = [["14.7693", "27.51"], ["14.7659", "12.48"]]
        asks = [["14.8024", "12.77"], ["14.8069", "12.49"]]
    return {"type": "snapshot", "product_id": product, "bids": bids, "asks": asks}


def l2update(changes: list[list[str]], product: str = "BAND-GBP") -> dict[str, Any]:
    return {
        "type": "l2update",
        "product_id": product,
        "changes": changes,
        "time": "2021-04-17T16:43:37.123456Z",
    }


def subscriptions() -> dict[str, Any]:
    return {"type": "subscriptions", "channels": [{"name": "level2", "product_ids": ["BAND-GBP"]}]}


def ticker() -> dict[str, Any]:
    return {"type": "ticker", "sequence": 333938798, "product_id": "BAND-GBP", "price": "14.7775"}


def ex_capture(frames: list[Any]) -> list[dict[str, Any]]:
    return capture("coinbase", {PRODUCTS_URL: PRODUCTS}, frames, ADDR)


async def test_snapshot_then_l2updates_keep_the_book() -> None:
    frames = [
        subscriptions(),
        snapshot(),
        ticker(),  # other channels share the connection
        l2update([["buy", "14.7693", "0"], ["sell", "14.8030", "3.5"]]),
        l2update([["buy", "14.7700", "1.23456789"]]),
    ]
    transport = ReplayTransport(ex_capture(frames))
    feed = CoinbaseExchangeFeed(["BAND/GBP"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert events.desyncs == []
    (snap,) = events.snapshots
    assert snap.exchange_sequence == ""  # level2 carries no sequence
    assert [(d.bids, d.asks) for d in events.deltas] == [
        ([("14.7693", "0.00000000")], [("14.8030", "3.50000000")]),
        ([("14.7700", "1.23456789")], []),
    ]
    assert events.deltas[0].exchange_time is not None
    assert events.deltas[0].exchange_time.isoformat() == "2021-04-17T16:43:37.123456+00:00"
    book = feed.books["BAND/GBP"].book
    assert [str(p) for p, _ in book.bids()] == ["14.7700", "14.7659"]
    assert [str(p) for p, _ in book.asks()] == ["14.8024", "14.8030", "14.8069"]
    sent = [json.loads(m) for m in transport.sent]
    assert sent == [{"type": "subscribe", "product_ids": ["BAND-GBP"], "channels": ["level2"]}]


async def test_updates_before_the_snapshot_are_not_applied() -> None:
    frames = [l2update([["buy", "14.0000", "1"]]), snapshot()]
    feed = CoinbaseExchangeFeed(
        ["BAND/GBP"], ReplayTransport(ex_capture(frames)), FeedOptions(stale_after_s=3600)
    )
    events = await replay(feed)

    assert feed.updates_without_book == 1
    assert events.deltas == []
    assert feed.books["BAND/GBP"].book.bid_count == 2


async def test_a_crossing_update_desyncs_and_resubscribes_only_that_product() -> None:
    frames = [
        snapshot(),
        snapshot("SKL-USD"),
        l2update([["buy", "14.9000", "1"]]),  # bid above the best ask: a missed update
        l2update([["buy", "14.7000", "1"]]),  # ignored until the new snapshot
        l2update([["sell", "0.42020", "1"]], "SKL-USD"),
        snapshot(),
    ]
    transport = ReplayTransport(ex_capture(frames))
    feed = CoinbaseExchangeFeed(["BAND/GBP", "SKL/USD"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert [(d.key.symbol, d.reason) for d in events.desyncs] == [("BAND/GBP", "crossed")]
    assert [d.key.symbol for d in events.deltas] == ["SKL/USD"]
    assert len(events.snapshots) == 3
    assert feed.books["BAND/GBP"].in_sync
    assert [json.loads(m) for m in transport.sent[1:]] == [
        {"type": "unsubscribe", "product_ids": ["BAND-GBP"], "channels": ["level2"]},
        {"type": "subscribe", "product_ids": ["BAND-GBP"], "channels": ["level2"]},
    ]


async def test_a_malformed_change_desyncs_with_the_change_named() -> None:
    frames = [snapshot(), l2update([["bid", "14.7000", "1"]])]
    feed = CoinbaseExchangeFeed(
        ["BAND/GBP"], ReplayTransport(ex_capture(frames)), FeedOptions(stale_after_s=3600)
    )
    events = await replay(feed)

    (desync,) = events.desyncs
    assert desync.reason == "error"
    assert "'bid'" in desync.detail
    assert feed.books["BAND/GBP"].book.bid_count == 0  # never left half-applied


async def test_unknown_symbol_fails_before_connecting() -> None:
    transport = ReplayTransport(ex_capture([snapshot()]))
    feed = CoinbaseExchangeFeed(["BTC/GBP"], transport, FeedOptions(stale_after_s=3600))
    with pytest.raises(KeyError, match="BTC/GBP"):
        await feed.run(lambda event: None)  # type: ignore[arg-type,return-value]
    assert transport.connects == 0


def test_factory_selects_the_dialect() -> None:
    transport = ReplayTransport(ex_capture([]))
    assert isinstance(create_feed("coinbase", ["BAND/GBP"], transport, api="exchange"),
                      CoinbaseExchangeFeed)  # fmt: skip
    assert isinstance(create_feed("coinbase", ["BAND/GBP"], transport), CoinbaseFeed)
    with pytest.raises(ValueError, match="advanced or exchange"):
        create_feed("coinbase", ["BAND/GBP"], transport, api="pro")


async def test_replay_command_picks_the_dialect_from_the_recorded_address(tmp_path: Path) -> None:
    entries = ex_capture([subscriptions(), snapshot(), l2update([["sell", "14.8024", "0"]])])
    entries[0]["config"] = {"l2_book": ["BAND-GBP"]}
    path = tmp_path / "coinbase.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert "coinbase BAND/GBP: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()
