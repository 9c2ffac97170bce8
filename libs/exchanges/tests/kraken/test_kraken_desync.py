"""Kraken: a checksum mismatch or crossed book desyncs and resubscribes; v2 end to end."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any

from eip.exchanges.kraken.book import KrakenFeed
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import KRAKEN_CAPTURE, load, replay

ASSET_PAIRS = {
    "error": [],
    "result": {
        "XXBTZUSD": {
            "altname": "XBTUSD",
            "wsname": "XBT/USD",
            "base": "XXBT",
            "quote": "ZUSD",
            "pair_decimals": 1,
            "lot_decimals": 8,
        }
    },
}
PAIRS_URL = "https://api.kraken.com/0/public/AssetPairs"


def crc(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """Independent of the adapter's checksum module."""
    text = "".join(
        p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0") for p, q in asks + bids
    )
    return zlib.crc32(text.encode())


def v2_book(kind: str, bids: list[Any], asks: list[Any], checksum: int) -> str:
    # Numbers as Kraken sends them: JSON numbers, not strings.
    def levels(side: list[Any]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in side)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD",'
        f'"bids":[{levels(bids)}],"asks":[{levels(asks)}],"checksum":{checksum},'
        f'"timestamp":"2024-05-29T12:00:00.123456Z"}}]}}'
    )


SNAPSHOT = v2_book(
    "snapshot",
    [("45283.5", "0.2"), ("45280.0", "3")],
    [("45285.2", "0.001"), ("45286.4", "1.5")],
    2020639291,  # EXCHANGE_PROTOCOLS.md section 3.2
)


def v2_capture(frames: list[Any]) -> list[dict[str, Any]]:
    status = {"channel": "status", "type": "update", "data": [{"system": "online"}]}
    return capture("kraken", {PAIRS_URL: ASSET_PAIRS}, [status, *frames], "wss://ws.kraken.com/v2")


async def test_v2_snapshot_and_updates_with_matching_checksums() -> None:
    after = crc(
        [("452852", "00100000"), ("452864", "150000000")],
        [("452840", "050000000"), ("452835", "020000000"), ("452800", "300000000")],
    )
    update = v2_book("update", [("45284.0", "0.5")], [], after)
    transport = ReplayTransport(v2_capture([SNAPSHOT, {"channel": "heartbeat"}, update]))
    feed = KrakenFeed(["BTC/USD"], transport, FeedOptions(stale_after_s=3600), depth=10)
    events = await replay(feed)

    assert events.desyncs == []
    assert feed.checksums_matched == 2
    assert len(events.snapshots) == 1
    (delta,) = events.deltas
    assert delta.bids == [("45284.0", "0.50000000")]
    assert delta.exchange_time is not None
    assert (
        str(feed.books["BTC/USD"].book.best_bid()) == "(Decimal('45284.0'), Decimal('0.50000000'))"
    )
    subscribe = json.loads(transport.sent[0])
    assert subscribe["method"] == "subscribe"
    assert subscribe["params"] == {
        "channel": "book",
        "symbol": ["BTC/USD"],
        "depth": 10,
        "snapshot": True,
    }


async def test_v2_corrupt_checksum_desyncs_resubscribes_and_resyncs() -> None:
    bad = v2_book("update", [("45284.0", "0.5")], [], 12345)
    transport = ReplayTransport(v2_capture([SNAPSHOT, bad, SNAPSHOT]))
    feed = KrakenFeed(["BTC/USD"], transport, FeedOptions(stale_after_s=3600))
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["checksum"]
    assert "12345" in events.desyncs[0].detail
    assert events.deltas == []  # the corrupt book was never emitted
    assert len(events.snapshots) == 2
    methods = [json.loads(m)["method"] for m in transport.sent]
    assert methods == ["subscribe", "unsubscribe", "subscribe"]
    assert feed.books["BTC/USD"].in_sync


async def test_v2_depth_truncation_reports_levels_pushed_out() -> None:
    bids = [(f"{45000 - i}.0", "1") for i in range(10)]
    asks = [(f"{45100 + i}.0", "1") for i in range(10)]

    def fmt(side: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(p.replace(".", ""), "100000000") for p, _ in side]

    snapshot = v2_book("snapshot", bids, asks, crc(fmt(asks), fmt(bids)))
    new_bids = [("45050.0", "1"), *bids[:9]]  # the new best pushes the 10th bid out
    update = v2_book("update", [("45050.0", "1")], [], crc(fmt(asks), fmt(new_bids)))
    feed = KrakenFeed(
        ["BTC/USD"], ReplayTransport(v2_capture([snapshot, update])), FeedOptions(3600)
    )
    events = await replay(feed)

    assert events.desyncs == []
    (delta,) = events.deltas
    assert delta.bids == [("45050.0", "1.00000000"), ("44991.0", "0.00000000")]
    assert feed.books["BTC/USD"].book.bid_count == 10


def v1_snapshot_after(entries: list[dict[str, Any]], upto: int, pair: str) -> dict[str, Any]:
    """The true depth-1000 book of ``pair`` after frame ``upto``, as a v1 snapshot frame."""
    bids: dict[Decimal, str] = {}
    asks: dict[Decimal, str] = {}
    widths = (0, 0)
    for entry in entries[: upto + 1]:
        if entry["t"] != "recv" or f'"{pair}"' not in entry["data"]:
            continue
        message = json.loads(entry["data"])
        if not isinstance(message, list) or not message[-2].startswith("book"):
            continue
        for part in message[1:-2]:
            if "as" in part:
                bids.clear()
                asks.clear()
                first = part["as"][0]
                widths = (len(first[0].split(".")[1]), len(first[1].split(".")[1]))
            for key, side in (("as", asks), ("a", asks), ("bs", bids), ("b", bids)):
                for level in part.get(key, []):
                    if Decimal(level[1]) == 0:
                        side.pop(Decimal(level[0]), None)
                    else:
                        side[Decimal(level[0])] = level[1]
        for side, best_first in ((bids, True), (asks, False)):
            for price in sorted(side, reverse=not best_first)[: max(0, len(side) - 1000)]:
                del side[price]
    p, q = widths

    def fmt(side: dict[Decimal, str], rev: bool) -> list[list[str]]:
        return [
            [f"{price:.{p}f}", f"{Decimal(side[price]):.{q}f}", "0"]
            for price in sorted(side, reverse=rev)
        ]

    frame = [0, {"as": fmt(asks, False), "bs": fmt(bids, True)}, "book-1000", pair]
    return {**entries[upto], "data": json.dumps(frame)}


async def test_v1_capture_with_a_corrupted_checksum_desyncs_then_resyncs() -> None:
    entries = load(KRAKEN_CAPTURE)
    book_frames = [
        i
        for i, e in enumerate(entries)
        if e["t"] == "recv" and '"c":' in e["data"] and '"XBT/CHF"' in e["data"]
    ]
    at = book_frames[5]
    message = json.loads(entries[at]["data"])
    message[-3]["c"] = str((int(message[-3]["c"]) + 1) % 2**32)
    tampered = [dict(e) for e in entries]
    tampered[at] = {**entries[at], "data": json.dumps(message)}
    # what the resubscription brings: a fresh snapshot of the true book at that moment
    tampered.insert(at + 1, v1_snapshot_after(entries, at, "XBT/CHF"))

    transport = ReplayTransport(tampered)
    feed = KrakenFeed(["BTC/CHF"], transport, FeedOptions(stale_after_s=3600), depth=1000, api="v1")
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["checksum"]
    assert feed.checksums_failed == 1
    assert len(events.snapshots) == 2
    every = sum(
        1
        for e in entries
        if e["t"] == "recv" and '"book-1000","XBT/CHF"' in e["data"] and '"c":' in e["data"]
    )
    assert feed.checksums_matched == every - 1  # all but the corrupted one, after the resync too
    assert feed.books["BTC/CHF"].in_sync
    sent = [json.loads(m)["event"] for m in transport.sent]
    assert sent == ["subscribe", "unsubscribe", "subscribe"]
