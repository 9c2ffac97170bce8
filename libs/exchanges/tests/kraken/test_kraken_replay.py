"""The real Kraken v1 capture (depth 1000) replayed: every checksum it carries must match."""

from __future__ import annotations

import json

from eip.exchanges.kraken.book import KrakenFeed
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_feeds import KRAKEN_CAPTURE, load, replay

PAIRS = {
    "WAVES/EUR": "WAVES/EUR",
    "XMR/USD": "XMR/USD",
    "KSM/XBT": "KSM/BTC",
    "GRT/ETH": "GRT/ETH",
    "SC/EUR": "SC/EUR",
    "ETH/CHF": "ETH/CHF",
    "OCEAN/XBT": "OCEAN/BTC",
    "OMG/USD": "OMG/USD",
    "XBT/CHF": "BTC/CHF",
    "ADA/XBT": "ADA/BTC",
}


def recorded_checksums() -> int:
    """Counted independently of the adapter: "c" fields in the capture's book frames."""
    count = 0
    for entry in load(KRAKEN_CAPTURE):
        if entry["t"] != "recv":
            continue
        message = json.loads(entry["data"])
        if isinstance(message, list) and str(message[-2]).startswith("book"):
            count += sum(1 for part in message[1:-2] if isinstance(part, dict) and "c" in part)
    return count


async def test_every_recorded_checksum_matches() -> None:
    transport = ReplayTransport(KRAKEN_CAPTURE)
    feed = KrakenFeed(
        list(PAIRS.values()), transport, FeedOptions(stale_after_s=3600), depth=1000, api="v1"
    )
    events = await replay(feed)

    expected = recorded_checksums()
    assert expected == 4269
    assert feed.checksums_matched == expected
    assert feed.checksums_failed == 0
    assert events.desyncs == []
    assert sorted(s.key.symbol for s in events.snapshots) == sorted(PAIRS.values())
    for symbol in PAIRS.values():
        book = feed.books[symbol].book
        assert feed.books[symbol].in_sync
        assert book.bid_count <= 1000
        assert book.ask_count <= 1000
        assert not book.is_crossed()
    # the adapter asked for the book channel, and the replay served the book connection
    assert json.loads(transport.sent[0])["subscription"] == {"name": "book", "depth": 1000}
    assert transport.frames_served == 4321
