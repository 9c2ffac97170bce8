"""Bitfinex v2 book channel: frames in the documented shape, SEQ_ALL gaps, symbols."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.bitfinex.book import BitfinexFeed
from eip.exchanges.bitfinex.symbols import header_book_symbol, platform_symbol, venue_symbol
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.capture import header_symbol
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay

ADDR = "wss://api.bitfinex.com/ws/2"


def subscribed(chan: int, pair: str, channel: str = "book") -> dict[str, Any]:
    return {"event": "subscribed", "channel": channel, "chanId": chan, "symbol": f"t{pair}",
            "prec": "P0", "freq": "F0", "len": "25", "pair": pair}  # fmt: skip


def raw(text: str) -> str:
    """A frame as the venue sends it: JSON numbers, never strings."""
    return text


SNAPSHOT = "[17,[[0.0010261,2,168.5],[0.001026,1,20],[0.0010274,1,-19.2],[0.0010281,3,-7]],{seq}]"


def bf_capture(frames: list[Any]) -> list[dict[str, Any]]:
    return capture("bitfinex", {}, frames, ADDR)


def feed_of(frames: list[Any], symbols: list[str] | None = None) -> BitfinexFeed:
    transport = ReplayTransport(bf_capture(frames))
    return BitfinexFeed(symbols or ["IOTA/ETH"], transport, FeedOptions(stale_after_s=3600),
                        length="25")  # fmt: skip


def test_pairs_map_both_ways() -> None:
    assert platform_symbol("tIOTETH") == "IOTA/ETH"
    assert platform_symbol("tBTCUST") == "BTC/USDT"
    assert platform_symbol("tTESTBTC:TESTUSD") == "TESTBTC/TESTUSD"
    assert venue_symbol("IOTA/ETH") == "tIOTETH"
    assert venue_symbol("BTC/USDT") == "tBTCUST"
    assert venue_symbol("TESTBTC/TESTUSD") == "tTESTBTC:TESTUSD"
    with pytest.raises(ValueError, match="not a Bitfinex trading pair"):
        platform_symbol("tBTCUSDT")


async def test_snapshot_and_updates_follow_the_connection_sequence() -> None:
    frames = [
        {"event": "info", "version": 2},
        {"event": "conf", "status": "OK", "flags": 65536},
        subscribed(9, "IOTETH", "ticker"),
        raw("[9,[0.0010261,168.7,0.0010274,19.2,0.0000097,0.0096,0.0010245,254458.4,1,1],1]"),
        subscribed(17, "IOTETH"),
        raw(SNAPSHOT.format(seq=2)),
        raw("[17,[0.0010261,0,1],3]"),  # count 0, amount 1: remove that bid
        raw("[17,[0.0010275,1,-2.5e-3],4]"),  # exponent notation is still exact
        raw('[17,"hb",5]'),
        raw("[9,[0.0010262,1,0.001027,1,0,0,0.001,1,0.002,0.0009],6]"),
    ]  # fmt: skip
    feed = feed_of(frames)
    events = await replay(feed)

    assert events.desyncs == []
    (snap,) = events.snapshots
    assert snap.exchange_sequence == "2"
    assert [d.exchange_sequence for d in events.deltas] == ["3", "4"]
    book = feed.books["IOTA/ETH"].book
    assert [(str(p.normalize()), str(q.normalize())) for p, q in book.bids()] == [
        ("0.001026", "2E+1")
    ]
    assert [(str(p.normalize()), str(q.normalize())) for p, q in book.asks()] == [
        ("0.0010274", "19.2"),
        ("0.0010275", "0.0025"),
        ("0.0010281", "7"),
    ]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent[0] == {"event": "conf", "flags": 65536}
    assert sent[1] == {"event": "subscribe", "channel": "book", "symbol": "tIOTETH",
                       "prec": "P0", "freq": "F0", "len": "25"}  # fmt: skip


async def test_a_sequence_jump_on_any_channel_desyncs_and_resubscribes() -> None:
    frames = [
        subscribed(17, "IOTETH"),
        raw(SNAPSHOT.format(seq=1)),
        raw("[17,[0.0010262,1,3],2]"),
        raw("[9,[1,1,1,1,0,0,1,1,1,1],4]"),  # 3 was lost: it could have been a book update
        raw("[17,[0.0010263,1,3],5]"),  # old channel: ignored
        subscribed(18, "IOTETH"),
        raw(SNAPSHOT.replace("17", "18").format(seq=6)),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    (desync,) = events.desyncs
    assert desync.reason == "gap"
    assert desync.detail == "sequence 4 after 2"
    assert feed.gaps == 1
    assert [d.exchange_sequence for d in events.deltas] == ["2"]
    assert feed.books["IOTA/ETH"].in_sync
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent[2] == {"event": "unsubscribe", "chanId": 17}
    assert sent[3]["event"] == "subscribe"


async def test_replay_command_takes_books_and_length_from_the_recorded_subscriptions(
    tmp_path: Path,
) -> None:
    entries = bf_capture([subscribed(17, "IOTETH"), raw(SNAPSHOT.format(seq=1)),
                          raw("[17,[0.0010261,0,1],2]")])  # fmt: skip
    send = {"t": "send", "conn": "BITFINEX.ws.1", "ts": 1_700_000_000.0, "addr": ADDR,
            "data": json.dumps({"event": "subscribe", "channel": "book", "symbol": "tIOTETH",
                                "prec": "P0", "freq": "F0", "len": "100"})}  # fmt: skip
    entries = [*entries[:2], send, *entries[2:]]
    entries[0]["config"] = {"l2_book": ["IOT-ETH"]}
    path = tmp_path / "bitfinex.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert "bitfinex IOTA/ETH: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()


def test_perpetuals_and_header_names() -> None:
    assert platform_symbol("tBTCF0:USTF0") == "BTC/USDT:USDT"
    assert venue_symbol("BTC/USDT:USDT") == "tBTCF0:USTF0"
    assert venue_symbol("TESTBTC/TESTUSDT:TESTUSDT") == "tTESTBTCF0:TESTUSDTF0"
    assert header_book_symbol(header_symbol("BTC-USDT-PERP")) == "BTC/USDT:USDT"
    assert header_book_symbol(header_symbol("BTC-USD")) == "BTC/USD"
    with pytest.raises(ValueError, match="settled in its quote"):
        venue_symbol("BTC/USD:BTC")
    with pytest.raises(ValueError, match="Bitfinex lists no futures"):
        header_book_symbol(header_symbol("BTC-USD-22K27"))
