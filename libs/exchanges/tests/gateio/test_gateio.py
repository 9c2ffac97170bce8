"""Gate.io v4 spot.order_book_update: REST snapshot with id + U/u updates, 2021 shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from eip.exchanges.gateio.book import SNAPSHOT_LIMIT, GateioFeed, recorded_book_venues
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

ADDR = "wss://api.gateio.ws/ws/v4/"
SNAPSHOT = (
    "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=OMG_USDT&limit=100&with_id=true"
)
OMG = "OMG/USDT"


def book(book_id: int, bids: Any = (("7.898", "65.888"), ("7.897", "288")),
         asks: Any = (("7.927", "316.6"),)) -> dict[str, Any]:  # fmt: skip
    return {"id": book_id, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}


def update(first: int, last: int, bids: Any = (), asks: Any = ()) -> dict[str, Any]:
    result = {
        "t": 1619093533023,
        "e": "depthUpdate",
        "E": 1619093533,
        "s": "OMG_USDT",
        "U": first,
        "u": last,
        "b": [list(b) for b in bids],
        "a": [list(a) for a in asks],
    }
    return {"time": 1619093533, "channel": "spot.order_book_update", "event": "update",
            "result": result}  # fmt: skip


def entries(frames: list[Any], snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = capture("gateio", {}, frames, ADDR)
    http = [{"t": "http", "conn": "X.http.0", "ts": 1_700_000_000.0, "url": SNAPSHOT,
             "data": json.dumps(body)} for body in snapshots]  # fmt: skip
    return [result[0], *http, *result[1:]]


def feed_of(frames: list[Any], snapshots: list[dict[str, Any]]) -> GateioFeed:
    transport = ReplayTransport(entries(frames, snapshots))
    return GateioFeed([OMG], transport, FeedOptions(stale_after_s=3600))


def levels(pairs: list[Any]) -> list[tuple[str, str]]:
    return [(f"{p.normalize():f}", f"{q.normalize():f}") for p, q in pairs]


async def test_snapshot_then_the_straddling_update_then_a_chain() -> None:
    frames = [
        update(90, 100, bids=[("7.5", "1")]),  # covered by the snapshot: ignored
        update(95, 103, bids=[("7.898", "60")]),  # straddles id 100
        update(104, 104, bids=[("7.897", "0")], asks=[("7.93", "5")]),
    ]
    feed = feed_of(frames, [book(100)])
    events = await replay(feed)

    assert events.desyncs == []
    assert [d.exchange_sequence for d in events.deltas] == ["103", "104"]
    state = feed.books[OMG]
    assert levels(state.book.bids()) == [("7.898", "60")]
    assert levels(state.book.asks()) == [("7.927", "316.6"), ("7.93", "5")]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert [m["payload"] for m in sent] == [["OMG_USDT", "100ms"]]


async def test_a_lost_update_desyncs_and_a_new_snapshot_resyncs() -> None:
    frames = [
        update(101, 102, bids=[("7.898", "60")]),
        update(104, 105, bids=[("7.898", "61")]),  # 103 never came
        update(201, 201, bids=[("7.9", "1")]),
    ]
    feed = feed_of(frames, [book(100), book(200)])
    events = await replay(feed)

    assert [(d.reason, d.detail) for d in events.desyncs] == [("gap", "U=104 after u=102")]
    assert [s.exchange_sequence for s in events.snapshots] == ["100", "200"]
    assert feed.books[OMG].in_sync
    assert levels(feed.books[OMG].book.bids())[0] == ("7.9", "1")


async def test_changes_beyond_a_full_snapshot_are_dropped() -> None:
    bids = [(f"{7 - i / 1000:.3f}", "1") for i in range(SNAPSHOT_LIMIT)]  # 7.000 .. 6.901
    frames = [update(101, 101, bids=[("6.95", "0"), ("6.5", "9"), ("6.9505", "2")])]
    feed = feed_of(frames, [book(100, bids=bids)])
    events = await replay(feed)

    assert events.desyncs == []
    held = dict(levels(feed.books[OMG].book.bids()))
    assert "6.95" not in held
    assert held["6.9505"] == "2"
    assert "6.5" not in held  # below the snapshot's worst bid 6.901: levels in between unknown
    assert min(held, key=float) == "6.901"


async def test_a_gateio_capture_replays_through_the_gate_dialect(tmp_path: Path) -> None:
    lines = entries([update(101, 101, bids=[("7.898", "1")])], [book(100)])
    lines[0]["config"] = {"l2_book": ["OMG-USDT"]}
    path = tmp_path / "gateio.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"gate {OMG}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


def test_book_pairs_come_from_the_recorded_subscriptions() -> None:
    def send(channel: str, payload: list[str]) -> dict[str, Any]:
        data = {"time": 1, "channel": channel, "event": "subscribe", "payload": payload}
        return {"t": "send", "conn": "GATEIO.ws.1", "ts": 1.0, "addr": ADDR,
                "data": json.dumps(data)}  # fmt: skip

    lines = [
        send("spot.trades", ["INK_USDT"]),
        send("spot.order_book_update", ["OMG_USDT", "100ms"]),
    ]

    assert recorded_book_venues(lines) == {OMG: "OMG_USDT"}


async def test_a_bad_number_in_an_update_desyncs_the_book() -> None:
    bids = [(f"{7 - i / 1000:.3f}", "1") for i in range(SNAPSHOT_LIMIT)]
    frames = [update(101, 101, bids=[("abc", "1")])]
    feed = feed_of(frames, [book(100, bids=bids)])
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["error"]
    assert not feed.books[OMG].in_sync
