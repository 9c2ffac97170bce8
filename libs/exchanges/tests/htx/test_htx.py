"""HTX (ex-Huobi) depth.step0: gzip frames carrying a whole book each, in the 2021 shape."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.htx.book import HtxFeed, recorded_book_symbols
from eip.exchanges.htx.wire import frame_text
from eip.exchanges.machinery.book_capture import main, replay_file
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay, write_capture

ADDR = "wss://api.huobi.pro/ws"
REST = "https://api.huobi.pro"
OMG = "OMG/BTC"
SYMBOLS = {"status": "ok", "data": [
    {"base-currency": "omg", "quote-currency": "btc", "price-precision": 8,
     "amount-precision": 2, "symbol": "omgbtc", "state": "online"},
]}  # fmt: skip


def book(version: int, bids: Any, asks: Any) -> str:
    tick = {"bids": bids, "asks": asks, "version": version, "ts": 1618678070700}
    return json.dumps({"ch": "market.omgbtc.depth.step0", "ts": 1618678070703, "tick": tick})


def gz(text: str) -> str:
    """As cryptofeed recorded binary frames: the Python repr of the gzip bytes."""
    return repr(gzip.compress(text.encode()))


def entries(frames: list[Any]) -> list[dict[str, Any]]:
    return capture("huobi", {REST + "/v1/common/symbols": SYMBOLS}, frames, ADDR)


def feed_of(frames: list[Any]) -> HtxFeed:
    return HtxFeed([OMG], ReplayTransport(entries(frames)), FeedOptions(stale_after_s=3600))


def levels(pairs: list[Any]) -> list[tuple[str, str]]:
    return [(f"{p.normalize():f}", f"{q.normalize():f}") for p, q in pairs]


def test_frames_in_every_recorded_form() -> None:
    text = '{"ping":1618678075000}'
    raw = gzip.compress(text.encode())
    assert frame_text(repr(raw)) == text
    assert frame_text(raw.decode("latin-1")) == text
    assert frame_text(text) == text


async def test_each_message_replaces_the_book_and_reports_the_difference() -> None:
    frames = [
        gz('{"id":"1","status":"ok","subbed":"market.omgbtc.depth.step0","ts":1}'),
        gz(book(100, [[0.000137, 12.5], [0.000136, 3]], [[0.000138, 7]])),
        gz('{"ping":1618678075000}'),
        gz(book(101, [[0.000137, 10]], [[0.000138, 7], [0.000139, 1.25]])),
        gz(book(99, [[0.0001, 1]], [[0.0002, 1]])),  # older than the book held: ignored
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert events.desyncs == []
    assert [s.exchange_sequence for s in events.snapshots] == ["100"]
    (delta,) = events.deltas
    assert delta.exchange_sequence == "101"
    assert sorted((p.rstrip("0"), q.rstrip("0").rstrip(".")) for p, q in delta.bids) == [
        ("0.000136", "0"),
        ("0.000137", "10"),
    ]
    book_now = feed.books[OMG].book
    assert levels(book_now.bids()) == [("0.000137", "10")]
    assert levels(book_now.asks()) == [("0.000138", "7"), ("0.000139", "1.25")]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent == [{"sub": "market.omgbtc.depth.step0", "id": 1}, {"pong": 1618678075000}]


async def test_a_bad_book_desyncs_and_the_next_one_resyncs() -> None:
    frames = [
        gz(book(1, [[0.000137, 1]], [[0.000138, 1]])),
        gz(book(2, [[0.000139, 1]], [[0.000138, 1]])),  # crossed
        gz(book(3, [[0.000136, 2]], [[0.000138, 1]])),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["crossed"]
    assert [s.exchange_sequence for s in events.snapshots] == ["1", "3"]
    assert feed.books[OMG].in_sync
    assert levels(feed.books[OMG].book.bids()) == [("0.000136", "2")]


async def test_a_huobi_capture_replays_through_the_htx_dialect(tmp_path: Path) -> None:
    lines = entries([gz(book(1, [[0.000137, 1]], [[0.000138, 1]])),
                     gz(book(2, [[0.000137, 2]], [[0.000138, 1]]))])  # fmt: skip
    lines[0]["config"] = {"l2_book": ["OMG-BTC"]}
    path = tmp_path / "huobi.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"htx {OMG}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


def test_book_symbols_come_from_the_recorded_subscriptions() -> None:
    sends = [{"t": "send", "conn": "HUOBI.ws.1", "ts": 1_700_000_000.0, "addr": ADDR,
              "data": json.dumps({"sub": sub, "id": 1})}
             for sub in ("market.omgbtc.depth.step0", "market.omgbtc.trade.detail")]  # fmt: skip

    assert recorded_book_symbols([*entries([]), *sends]) == [OMG]


async def test_a_capture_of_binary_gzip_frames_replays_through_the_same_htx_code(
    tmp_path: Path,
) -> None:
    """Binary frames recorded as ``b64`` reach the adapter as the gzip bytes the venue sent."""
    lines = entries(
        [
            gzip.compress(b'{"id":"1","status":"ok","subbed":"market.omgbtc.depth.step0","ts":1}'),
            gzip.compress(book(1, [[0.000137, 1]], [[0.000138, 1]]).encode()),
            gzip.compress(b'{"ping":1618678075000}'),
            gzip.compress(book(2, [[0.000137, 2]], [[0.000138, 1]]).encode()),
        ]
    )
    assert sum("b64" in e for e in lines) == 4
    assert not any("data" in e for e in lines[2:])
    lines[0]["config"] = {"l2_book": ["OMG-BTC"]}
    path = write_capture(tmp_path / "htx.jsonl", lines)
    out, err = io.StringIO(), io.StringIO()

    status = await replay_file(path, out, err)

    assert status == 0, err.getvalue()
    assert f"htx {OMG}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()
    (final,) = [json.loads(x) for x in out.getvalue().splitlines() if '"type":"book"' in x]
    assert final["bids"][0][1].rstrip("0").rstrip(".") == "2"


def test_a_b64_frame_that_is_not_gzip_stops_the_replay_naming_its_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = entries([gzip.compress(book(1, [[0.000137, 1]], [[0.000138, 1]]).encode()),
                     b"\x8b\x00\xff not gzip, not UTF-8"])  # fmt: skip
    lines[0]["config"] = {"l2_book": ["OMG-BTC"]}
    path = write_capture(tmp_path / "htx.jsonl", lines)

    assert main(["replay", str(path)]) == 2

    err = capsys.readouterr().err
    assert "the htx adapter stopped after entry 5 (recv)" in err
    assert "neither gzip nor UTF-8" in err
    assert "Traceback" not in err
