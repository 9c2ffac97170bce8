"""The real Binance capture replayed through the live adapter code, checked by its own ids."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from eip.exchanges.binance.book import BinanceFeed
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_feeds import BINANCE_CAPTURE, load, replay

SYMBOLS = {"NKNUSDT": "NKN/USDT", "BLZETH": "BLZ/ETH", "LRCBTC": "LRC/BTC", "RUNEEUR": "RUNE/EUR"}
QUIET = FeedOptions(stale_after_s=3600)


def naive_rebuild(entries: list[dict[str, Any]]) -> dict[str, tuple[dict, dict]]:  # type: ignore[type-arg]
    """Independent of the adapter: dicts of Decimals, snapshot then every later diff."""
    books: dict[str, tuple[dict, dict]] = {}  # type: ignore[type-arg]
    last: dict[str, int] = {}
    for entry in entries:
        if entry["t"] == "http" and "/depth?" in entry["url"]:
            symbol = entry["url"].split("symbol=")[1].split("&")[0]
            body = json.loads(entry["data"])
            books[symbol] = (
                {Decimal(p): Decimal(q) for p, q in body["bids"]},
                {Decimal(p): Decimal(q) for p, q in body["asks"]},
            )
            last[symbol] = body["lastUpdateId"]
    for entry in entries:
        if entry["t"] != "recv":
            continue
        event = json.loads(entry["data"])["data"]
        if event.get("e") != "depthUpdate" or event["u"] <= last[event["s"]]:
            continue
        bids, asks = books[event["s"]]
        for levels, book in ((event["b"], bids), (event["a"], asks)):
            for p, q in levels:
                if Decimal(q) == 0:
                    book.pop(Decimal(p), None)
                else:
                    book[Decimal(p)] = Decimal(q)
    return books


async def test_recorded_capture_stays_in_sync_and_equals_a_naive_rebuild() -> None:
    feed = BinanceFeed(list(SYMBOLS.values()), ReplayTransport(BINANCE_CAPTURE), QUIET)
    events = await replay(feed)

    assert events.desyncs == []
    assert sorted(s.key.symbol for s in events.snapshots) == sorted(SYMBOLS.values())
    assert len(events.deltas) > 100
    expected = naive_rebuild(load(BINANCE_CAPTURE))
    for exchange_id, symbol in SYMBOLS.items():
        state = feed.books[symbol]
        assert state.in_sync
        bids, asks = expected[exchange_id]
        assert dict(state.book.bids()) == bids
        assert dict(state.book.asks()) == asks
        assert not state.book.is_crossed()
    # each symbol's deltas are contiguous by Binance's ids (sequence is the event's u)
    nkn = [int(d.exchange_sequence) for d in events.deltas if d.key.symbol == "NKN/USDT"]
    assert nkn == sorted(nkn)
    assert int(events.snapshots[0].exchange_sequence) == 499869752


async def test_unknown_symbol_fails_before_connecting() -> None:
    transport = ReplayTransport(BINANCE_CAPTURE)
    feed = BinanceFeed(["NOPE/USDT"], transport, QUIET)
    with pytest.raises(KeyError, match="unknown symbol"):
        await replay(feed)
    assert transport.connects == 0
