"""KuCoin /market/level2: REST snapshot + trade.l2update frames in the documented (2021) shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from eip.exchanges.kucoin.book import KucoinFeed, recorded_book_symbols, recorded_snapshot_path
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

ADDR = "wss://push1-v2.kucoin.com/endpoint?token=x"
REST = "https://api.kucoin.com"
SNAPSHOT = "/api/v2/market/orderbook/level2?symbol=BCHSV-USDT"
BSV = "BSV/USDT"
SYMBOLS = {
    "code": "200000",
    "data": [
        {"symbol": "BCHSV-USDT", "name": "BSV-USDT", "baseCurrency": "BSV",
         "quoteCurrency": "USDT", "baseIncrement": "0.00000001", "priceIncrement": "0.001"},
    ],
}  # fmt: skip


def book(seq: int, bids: Any = (("242.649", "5"), ("242.646", "0.68148185")),
         asks: Any = (("242.951", "4.51280965"),)) -> dict[str, Any]:  # fmt: skip
    return {"code": "200000", "data": {"time": 1619378326628, "sequence": str(seq),
            "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}}  # fmt: skip


def update(start: int, bids: Any = (), asks: Any = (), end: int | None = None) -> dict[str, Any]:
    end = start if end is None else end
    data = {
        "sequenceStart": start,
        "symbol": "BCHSV-USDT",
        "sequenceEnd": end,
        "changes": {"asks": [list(a) for a in asks], "bids": [list(b) for b in bids]},
    }
    return {"data": data, "subject": "trade.l2update", "topic": "/market/level2:BCHSV-USDT",
            "type": "message"}  # fmt: skip


def entries(frames: list[Any], snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = capture("kucoin", {REST + "/api/v1/symbols": SYMBOLS}, frames, ADDR)
    http = [{"t": "http", "conn": "X.http.0", "ts": 1_700_000_000.0, "url": REST + SNAPSHOT,
             "data": json.dumps(body)} for body in snapshots]  # fmt: skip
    return [*result[:2], *http, *result[2:]]


def feed_of(frames: list[Any], snapshots: list[dict[str, Any]]) -> KucoinFeed:
    transport = ReplayTransport(entries(frames, snapshots))
    return KucoinFeed([BSV], transport, FeedOptions(stale_after_s=3600),
                      snapshot_path="/api/v2/market/orderbook/level2")  # fmt: skip


def levels(pairs: list[Any]) -> list[tuple[str, str]]:
    return [(str(p.normalize()), str(q.normalize())) for p, q in pairs]


async def test_snapshot_then_updates_above_its_sequence() -> None:
    frames = [
        {"id": "w", "type": "welcome"},
        update(98, bids=[("242.5", "1", "98")]),  # older than the snapshot: ignored
        update(100, asks=[("0", "0", "100")], bids=[("242.649", "6", "101")], end=101),
        update(102, bids=[("242.646", "0", "102")]),
        update(103, asks=[("0", "0", "103")]),  # a placeholder: changes nothing
    ]
    feed = feed_of(frames, [book(100)])
    events = await replay(feed)

    assert events.desyncs == []
    assert [s.exchange_sequence for s in events.snapshots] == ["100"]
    assert [d.exchange_sequence for d in events.deltas] == ["101", "102", "103"]
    state = feed.books[BSV]
    assert levels(state.book.bids()) == [("242.649", "6")]
    assert levels(state.book.asks()) == [("242.951", "4.51280965")]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert [m["topic"] for m in sent] == ["/market/level2:BCHSV-USDT"]


async def test_a_lost_update_desyncs_and_a_new_snapshot_resyncs() -> None:
    frames = [
        update(101, bids=[("242.649", "6", "101")]),
        update(103, bids=[("242.649", "7", "103")]),  # 102 never came
        update(201, bids=[("242.7", "1", "201")]),
    ]
    feed = feed_of(frames, [book(100), book(200)])
    events = await replay(feed)

    assert [(d.reason, d.detail) for d in events.desyncs] == [
        ("gap", "sequenceStart 103 after 101")
    ]
    assert [s.exchange_sequence for s in events.snapshots] == ["100", "200"]
    state = feed.books[BSV]
    assert state.in_sync
    assert levels(state.book.bids()) == [
        ("242.7", "1"),
        ("242.649", "5"),
        ("242.646", "0.68148185"),
    ]


async def test_without_a_snapshot_the_book_stays_untrusted(tmp_path: Path) -> None:
    frames = [update(101, bids=[("242.649", "6", "101")]), update(103)]
    path = tmp_path / "kucoin.jsonl"
    lines = entries(frames, [book(100)])
    lines[0]["config"] = {"l2_book": ["BSV-USDT"]}
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 1, err.getvalue()
    assert f"kucoin {BSV}: snapshots=1 deltas=1 desyncs=1 in_sync=NO" in err.getvalue()


async def test_replay_command_uses_the_recorded_snapshot_endpoint(tmp_path: Path) -> None:
    frames = [update(101, bids=[("242.649", "6", "101")], asks=[("243", "1", "101")])]
    path = tmp_path / "kucoin.jsonl"
    lines = entries(frames, [book(100)])
    lines[0]["config"] = {"l2_book": ["BSV-USDT"]}
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"kucoin {BSV}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


def test_book_symbols_come_from_the_recorded_subscription() -> None:
    topic = "/market/level2:BCHSV-USDT,NOPE-BTC"
    message = {"id": 1, "type": "subscribe", "topic": topic, "response": True}
    send = {
        "t": "send",
        "conn": "KUCOIN.ws.1",
        "ts": 1.0,
        "addr": ADDR,
        "data": json.dumps(message),
    }
    lines = [*entries([], [book(1)]), send]

    assert recorded_book_symbols(lines) == [BSV]
    assert recorded_snapshot_path(lines) == "/api/v2/market/orderbook/level2"
