"""OKX v5 books: snapshot/update frames in the documented shape, CRC32 checksum, seqId."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.capture import header_symbol
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.exchanges.okx.book import OkxFeed, recorded_book_channel, recorded_book_symbols
from eip.exchanges.okx.checksum import checksum, checksum_string
from eip.exchanges.okx.symbols import header_book_symbol, instrument_queries
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

SPOT_URL = "https://www.okx.com/api/v5/public/instruments?instType=SPOT"
OPTION_URL = "https://www.okx.com/api/v5/public/instruments?instType=OPTION&uly=BTC-USD"
SPOT = {
    "code": "0",
    "msg": "",
    "data": [
        {"instType": "SPOT", "instId": "ZEN-USDT", "baseCcy": "ZEN", "quoteCcy": "USDT",
         "tickSz": "0.01", "lotSz": "0.000001", "uly": "", "settleCcy": ""},
    ],
}  # fmt: skip
OPTION = {
    "code": "0",
    "msg": "",
    "data": [
        {"instType": "OPTION", "instId": "BTC-USD-220325-40000-C", "baseCcy": "",
         "quoteCcy": "", "uly": "BTC-USD", "settleCcy": "BTC", "expTime": "1648195200000",
         "stk": "40000", "optType": "C", "tickSz": "0.0005", "lotSz": "1"},
    ],
}  # fmt: skip
ZEN = "ZEN/USDT"
CALL = "BTC/USD:BTC-220325-40000-C"
ADDR = "wss://ws.okx.com:8443/ws/v5/public"


def test_checksum_interleaves_the_best_levels_as_sent() -> None:
    bids = [("32.49", "8.500345"), ("32.48", "1")]
    asks = [("32.52", "0.377508")]
    assert checksum_string(bids, asks) == "32.49:8.500345:32.52:0.377508:32.48:1"
    assert checksum(bids, asks) == -1235974762  # signed CRC32 of that string
    many = [(str(100 - i), "1") for i in range(30)]
    assert checksum_string(many, []).count(":") == 2 * 25 - 1  # only the best 25


Level = tuple[str, str]


class Venue:
    """Keeps the venue-side book to stamp each frame with the checksum OKX would send."""

    def __init__(self, inst: str = "ZEN-USDT", channel: str = "books") -> None:
        self.inst, self.channel = inst, channel
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def _sum(self) -> int:
        bids = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))
        asks = sorted(self.asks.items(), key=lambda kv: float(kv[0]))
        return checksum(bids, asks)

    def _frame(self, action: str, bids: list[Level], asks: list[Level], **extra: Any) -> Any:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if size == "0":
                    side.pop(price, None)
                else:
                    side[price] = size
        data = {
            "asks": [[p, s, "0", "1"] for p, s in asks],
            "bids": [[p, s, "0", "1"] for p, s in bids],
            "ts": "1646003667575",
            "checksum": self._sum(),
            **extra,
        }
        return {"arg": {"channel": self.channel, "instId": self.inst}, "action": action,
                "data": [data]}  # fmt: skip

    def snapshot(self, **extra: Any) -> Any:
        self.bids, self.asks = {}, {}
        return self._frame(
            "snapshot", [("32.49", "8.500345"), ("32.48", "1")], [("32.52", "0.377508")], **extra
        )

    def update(self, bids: list[Level], asks: list[Level], **extra: Any) -> Any:
        return self._frame("update", bids, asks, **extra)


def ok_capture(frames: list[Any]) -> list[dict[str, Any]]:
    return capture("okx", {SPOT_URL: SPOT, OPTION_URL: OPTION}, frames, ADDR)


def feed_of(frames: list[Any], symbols: list[str] | None = None, channel: str = "books") -> OkxFeed:
    transport = ReplayTransport(ok_capture(frames))
    return OkxFeed(symbols or [ZEN], transport, FeedOptions(stale_after_s=3600), channel=channel)


async def test_snapshot_and_updates_pass_every_checksum() -> None:
    venue = Venue()
    frames = [
        {"event": "subscribe", "arg": {"channel": "books", "instId": "ZEN-USDT"}},
        venue.snapshot(),
        venue.update([("32.49", "0"), ("32.50", "2.1")], []),
        venue.update([], [("32.51", "0.5"), ("32.52", "0")]),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert events.desyncs == []
    assert feed.checksums_matched == 3
    assert feed.checksums_failed == 0
    assert [(d.bids, d.asks) for d in events.deltas] == [
        ([("32.49", "0.00000000"), ("32.50", "2.10000000")], []),
        ([], [("32.51", "0.50000000"), ("32.52", "0.00000000")]),
    ]
    book = feed.books[ZEN].book
    assert book.bid_strings() == [("32.50", "2.10000000"), ("32.48", "1.00000000")]
    assert book.ask_strings() == [("32.51", "0.50000000")]
    assert events.deltas[0].exchange_time is not None
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent == [{"op": "subscribe", "args": [{"channel": "books", "instId": "ZEN-USDT"}]}]


async def test_a_lost_update_fails_the_next_checksum_and_resubscribes() -> None:
    venue = Venue()
    snapshot = venue.snapshot()
    venue.update([("32.47", "3")], [])  # sent by the venue, lost on the way
    frames = [
        snapshot,
        venue.update([("32.49", "9")], []),  # its checksum covers 32.47 too
        venue.update([("32.46", "1")], []),  # ignored until the new snapshot
        venue.snapshot(),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    (desync,) = events.desyncs
    assert desync.reason == "checksum"
    assert feed.checksums_failed == 1
    assert events.deltas == []
    assert len(events.snapshots) == 2
    assert feed.books[ZEN].in_sync
    sent = [json.loads(m)["op"] for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent == ["subscribe", "unsubscribe", "subscribe"]


async def test_a_seq_id_jump_is_a_gap() -> None:
    venue = Venue()
    frames = [
        venue.snapshot(seqId=10, prevSeqId=-1),
        venue.update([("32.50", "1")], [], seqId=11, prevSeqId=10),
        venue.update([("32.47", "1")], [], seqId=13, prevSeqId=12),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["gap"]
    assert "prevSeqId 12 after seqId 11" in events.desyncs[0].detail
    assert [d.exchange_sequence for d in events.deltas] == ["11"]


def with_sends(frames: list[Any], channel: str) -> list[dict[str, Any]]:
    entries = ok_capture(frames)
    args = [{"channel": "trades", "instId": "ZEN-USDT"}] + [
        {"channel": channel, "instId": i} for i in ("BTC-USD-220325-40000-C", "ZEN-USDT", "X-Y")
    ]
    send = {"t": "send", "conn": "OKX.ws.1", "ts": 1_700_000_000.0, "addr": ADDR,
            "data": json.dumps({"op": "subscribe", "args": args})}  # fmt: skip
    return [*entries[:4], send, *entries[4:]]


def test_recorded_subscriptions_name_channel_and_books() -> None:
    entries = with_sends([], "books-l2-tbt")
    assert recorded_book_channel(entries) == "books-l2-tbt"
    assert recorded_book_symbols(entries) == [CALL, ZEN]  # X-Y: not in the recorded lists


async def test_replay_command_uses_the_recorded_channel(tmp_path: Path) -> None:
    zen, call = Venue(channel="books-l2-tbt"), Venue("BTC-USD-220325-40000-C", "books-l2-tbt")
    call_snapshot = call._frame("snapshot", [("0.05", "601")], [("0.0515", "29")])
    frames = [zen.snapshot(), call_snapshot, zen.update([("32.50", "1")], [])]
    entries = with_sends(frames, "books-l2-tbt")
    entries[0]["config"] = {"l2_book": ["ZEN-USDT", "BTC-USD-40000-22H25-call"]}
    path = tmp_path / "okx.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"okx {ZEN}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()
    assert f"okx {CALL}: snapshots=1 deltas=0 desyncs=0 in_sync=yes" in err.getvalue()
    assert "checksums: matched=3 failed=0" in err.getvalue()


def test_instrument_queries_cover_options_per_underlying() -> None:
    assert instrument_queries([ZEN, "SOL/USD:SOL-220325-100-P", "UNI/USD:UNI"]) == [
        "instType=SPOT",
        "instType=SWAP",
        "instType=FUTURES",
        "instType=OPTION&uly=BTC-USD",
        "instType=OPTION&uly=ETH-USD",
        "instType=OPTION&uly=SOL-USD",
    ]


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("ZEN-USDT", ZEN),
        ("BTC-USDT-PERP", "BTC/USDT:USDT"),  # BTC-USDT-SWAP
        ("BTC-USD-PERP", "BTC/USD:BTC"),  # BTC-USD-SWAP, inverse
        ("BTC-USD-22K27", "BTC/USD:BTC-220527"),  # BTC-USD-220527
        ("BTC-USD-40000-22H25-call", CALL),
    ],
)
def test_header_names_are_okx_instruments(name: str, symbol: str) -> None:
    assert header_book_symbol(header_symbol(name)) == symbol
