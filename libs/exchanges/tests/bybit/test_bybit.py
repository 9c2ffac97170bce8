"""Bybit realtime orderBookL2_25: snapshot/delta frames in the documented (2021) shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.bybit.book import BybitFeed, header_book_symbol, platform_symbol, venue_symbol
from eip.exchanges.machinery.book_capture import main, replay_file
from eip.exchanges.machinery.capture import header_symbol
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay, replay_command, write_capture

ADDR = "wss://stream.bybit.com/realtime"
BTC = "BTC/USD:BTC"


def row(price: str, side: str, size: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"price": price, "symbol": "BTCUSD", "id": int(float(price) * 1e4),
                            "side": side}  # fmt: skip
    if size is not None:
        item["size"] = size
    return item


def snapshot(seq: int, linear: bool = False) -> dict[str, Any]:
    rows = [row("60616.50", "Buy", 8000), row("60616.00", "Buy", 100),
            row("60617.00", "Sell", 4000), row("60617.50", "Sell", 156)]  # fmt: skip
    data: Any = {"order_book": rows} if linear else rows
    return {"topic": "orderBookL2_25.BTCUSD", "type": "snapshot", "data": data,
            "cross_seq": seq, "timestamp_e6": 1618677785357289}  # fmt: skip


def delta(seq: int, delete: Any = (), update: Any = (), insert: Any = ()) -> dict[str, Any]:
    data = {"delete": list(delete), "update": list(update), "insert": list(insert),
            "transactTimeE6": 0}  # fmt: skip
    return {"topic": "orderBookL2_25.BTCUSD", "type": "delta", "data": data, "cross_seq": seq,
            "timestamp_e6": 1618677785397906}  # fmt: skip


def feed_of(frames: list[Any]) -> BybitFeed:
    transport = ReplayTransport(capture("bybit", {}, frames, ADDR))
    return BybitFeed([BTC], transport, FeedOptions(stale_after_s=3600))


def test_symbols() -> None:
    assert platform_symbol("BTCUSD") == BTC
    assert platform_symbol("EOSUSDT") == "EOS/USDT:USDT"
    assert venue_symbol(BTC) == "BTCUSD"
    assert venue_symbol("EOS/USDT:USDT") == "EOSUSDT"
    with pytest.raises(ValueError, match="not a Bybit perpetual symbol"):
        venue_symbol("BTC/USD")


@pytest.mark.parametrize("linear", [False, True])
async def test_snapshot_then_deltas(linear: bool) -> None:
    frames = [
        {"success": True, "ret_msg": "", "request": {"op": "subscribe"}},
        snapshot(100, linear),
        delta(104, update=[row("60616.50", "Buy", 8100)]),
        delta(107, delete=[row("60616.00", "Buy")], insert=[row("60615.50", "Buy", 7500)]),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert events.desyncs == []
    assert [d.exchange_sequence for d in events.deltas] == ["104", "107"]
    book = feed.books[BTC].book
    assert [(str(p.normalize()), str(q.normalize())) for p, q in book.bids()] == [
        ("60616.5", "8.1E+3"),
        ("60615.5", "7.5E+3"),
    ]
    assert [str(p.normalize()) for p, _ in book.asks()] == ["60617", "60617.5"]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent == [{"op": "subscribe", "args": ["orderBookL2_25.BTCUSD"]}]


async def test_a_repeated_cross_seq_desyncs_and_resubscribes() -> None:
    frames = [
        snapshot(100),
        delta(104, update=[row("60616.50", "Buy", 1)]),
        delta(104, update=[row("60616.50", "Buy", 2)]),
        snapshot(110),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert [(d.reason, d.detail) for d in events.desyncs] == [("gap", "cross_seq 104 after 104")]
    assert feed.books[BTC].in_sync
    ops = [json.loads(m)["op"] for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert ops == ["subscribe", "unsubscribe", "subscribe"]


async def test_replay_command_reads_the_recorded_topic(tmp_path: Path) -> None:
    entries = capture("bybit", {}, [snapshot(1), delta(2, delete=[row("60617.50", "Sell")])],
                      ADDR)  # fmt: skip
    send = {"t": "send", "conn": "BYBIT.ws.1", "ts": 1_700_000_000.0, "addr": ADDR,
            "data": json.dumps({"op": "subscribe", "args": ["orderBookL2_25.BTCUSD"]})}  # fmt: skip
    entries = [*entries[:2], send, *entries[2:]]
    entries[0]["config"] = {"l2_book": ["BTC-USD-PERP"]}
    path = tmp_path / "bybit.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"bybit {BTC}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


async def test_inverse_and_linear_connections_replay_side_by_side(tmp_path: Path) -> None:
    inverse = capture("bybit", {}, [snapshot(1), delta(2, update=[row("60616.50", "Buy", 9)])],
                      ADDR)  # fmt: skip
    linear_addr = ADDR + "_public"
    # Linear frames as documented: cross_seq a string, sizes JSON numbers with decimals.
    linear_frames = [
        '{"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":['
        '{"price":"1053.05","symbol":"BCHUSDT","id":"10530500","side":"Buy","size":2.63},'
        '{"price":"1054.50","symbol":"BCHUSDT","id":"10545000","side":"Sell","size":30}]},'
        '"cross_seq":"864131773","timestamp_e6":"1618677786389362"}',
        '{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"delete":[],"update":[],'
        '"insert":[{"price":"1053.10","symbol":"BCHUSDT","id":"10531000","side":"Buy",'
        '"size":12.849999}]},"cross_seq":"864131802","timestamp_e6":"1618677786430132"}',
    ]
    linear = [
        {**e, "conn": "BYBIT.ws.2"} | ({"addr": linear_addr} if e["t"] == "connect" else {})
        for e in capture("bybit", {}, linear_frames, linear_addr)[1:]
    ]

    def send(conn: str, addr: str, arg: str) -> dict[str, Any]:
        return {"t": "send", "conn": conn, "ts": 1_700_000_000.0, "addr": addr,
                "data": json.dumps({"op": "subscribe", "args": [arg]})}  # fmt: skip

    entries = [
        *inverse[:2],
        send("BYBIT.ws.1", ADDR, "orderBookL2_25.BTCUSD"),
        *inverse[2:],
        linear[0],
        send("BYBIT.ws.2", linear_addr, "orderBookL2_25.BCHUSDT"),
        *linear[1:],
    ]
    path = tmp_path / "bybit.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"bybit {BTC}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()
    assert "bybit BCH/USDT:USDT: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


def perp_capture(tmp_path: Path, l2_book: list[str], sends: tuple[str, ...] = ()) -> Path:
    """BTCUSD book frames; the header names ``l2_book``; the client sent ``sends`` (topics)."""
    entries = capture("bybit", {}, [snapshot(1), delta(2, update=[row("60616.50", "Buy", 9)])],
                      ADDR)  # fmt: skip
    entries[0]["config"] = {"l2_book": l2_book, "trades": l2_book}
    subscriptions = [{"t": "send", "conn": "BYBIT.ws.1", "ts": 1_700_000_000.0, "addr": ADDR,
                      "data": json.dumps({"op": "subscribe", "args": [topic]})}
                     for topic in sends]  # fmt: skip
    return write_capture(tmp_path / "bybit.jsonl", [*entries[:2], *subscriptions, *entries[2:]])


def test_header_perp_names_are_the_venues_perpetuals() -> None:
    assert header_book_symbol(header_symbol("BTC-USD-PERP")) == BTC
    assert header_book_symbol(header_symbol("ETH-USDT-PERP")) == "ETH/USDT:USDT"
    for name in ("BTC-USDC-PERP", "BTC-USD-22K27", "BTC-USDT"):
        with pytest.raises(ValueError, match="USD \\(inverse\\) and USDT \\(linear\\)"):
            header_book_symbol(header_symbol(name))


async def test_a_capture_naming_its_books_only_in_the_header_replays_them(tmp_path: Path) -> None:
    # The client subscribed only trades: the books come from the header's -PERP names.
    path = perp_capture(tmp_path, ["BTC-USD-PERP"], sends=("trade.BTCUSD",))

    status, err = await replay_command(path)

    assert status == 0, err
    assert f"bybit {BTC}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err


def test_symbols_may_be_given_in_the_headers_perp_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = perp_capture(tmp_path, [])

    assert main(["replay", str(path), "--symbols", "BTC-USD-PERP"]) == 0
    assert f"bybit {BTC}: snapshots=1 deltas=1" in capsys.readouterr().err

    assert main(["replay", str(path), "--symbols", "BTC-USDC-PERP"]) == 2
    err = capsys.readouterr().err
    assert "--symbols BTC-USDC-PERP: BTC-USDC-PERP: the Bybit book adapter follows" in err
    assert "Traceback" not in err


def test_a_subscribed_symbol_without_book_messages_is_no_data_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = perp_capture(tmp_path, ["BTC-USD-PERP", "EOS-USD-PERP"])

    assert main(["replay", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"bybit {BTC}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err
    assert "bybit EOS/USD:EOS: no data (subscribed; no book message in the capture)" in err
    assert "RESULT: ok (1 in sync, 0 lost sync, 1 no data)" in err

    assert main(["replay", str(path), "--strict"]) == 1
    assert "RESULT: FAILED (1 in sync, 0 lost sync, 1 no data; --strict" in capsys.readouterr().err


def test_a_v5_capture_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = perp_capture(tmp_path, ["BTC-USDT-PERP"], sends=("orderbook.200.BTCUSDT",))

    assert main(["replay", str(path)]) == 2

    err = capsys.readouterr().err
    assert "(orderbook.200.BTCUSDT) are of the v5 API" in err
    assert "Traceback" not in err
