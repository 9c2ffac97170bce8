"""BitMEX orderBookL2: partial/insert/update/delete frames in the documented (2021) shape.

update and delete rows carry no price: the adapter must take it from the id's insert.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.bitmex.book import BitmexFeed, header_book_symbol, recorded_book_symbols
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.capture import header_symbol
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions
from eip.testing.book_captures import capture
from eip.testing.book_feeds import replay, replay_command, write_capture

INSTRUMENTS_URL = "https://www.bitmex.com/api/v1/instrument/active"
ADDR = "wss://www.bitmex.com/realtime"
# Raw body: tickSize is a JSON number, as BitMEX sends it (1e-8 included).
INSTRUMENTS = (
    '[{"symbol":"XBTUSD","typ":"FFWCSX","underlying":"XBT","quoteCurrency":"USD",'
    '"settlCurrency":"XBt","tickSize":0.5,"lotSize":100,"expiry":null},'
    '{"symbol":"TRXM21","typ":"FFCCSX","underlying":"TRX","quoteCurrency":"XBT",'
    '"settlCurrency":"XBt","tickSize":1e-8,"lotSize":1,"expiry":"2021-06-25T12:00:00.000Z"}]'
)
XBT = "BTC/USD:BTC"
TRX = "TRX/BTC:BTC-210625"


def partial(venue: str = "XBTUSD") -> str:
    if venue == "XBTUSD":
        levels = [
            (8799000000, "Sell", 100, "10000.0"),
            (8799000050, "Sell", 200, "9999.5"),
            (8799000100, "Buy", 300, "9999.0"),
            (8799000150, "Buy", 400, "9998.5"),
        ]
    else:
        levels = [(1, "Sell", 5000, "2.43e-6"), (2, "Buy", 7000, "2.42e-6")]
    data = ",".join(
        f'{{"symbol":"{venue}","id":{i},"side":"{s}","size":{q},"price":{p}}}'
        for i, s, q, p in levels
    )
    return (
        '{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],'
        f'"filter":{{"symbol":"{venue}"}},"data":[{data}]}}'
    )


def rows(action: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"table": "orderBookL2", "action": action, "data": list(items)}


def row(level_id: int, side: str, size: int | None = None, price: float | None = None) -> Any:
    item: dict[str, Any] = {"symbol": "XBTUSD", "id": level_id, "side": side}
    if size is not None:
        item["size"] = size
    if price is not None:
        item["price"] = price
    return item


def bx_capture(frames: list[Any]) -> list[dict[str, Any]]:
    return capture("bitmex", {INSTRUMENTS_URL: INSTRUMENTS}, frames, ADDR)


def feed_of(frames: list[Any], symbols: list[str] | None = None) -> BitmexFeed:
    transport = ReplayTransport(bx_capture(frames))
    return BitmexFeed(symbols or [XBT], transport, FeedOptions(stale_after_s=3600))


async def test_update_and_delete_take_the_price_from_the_inserted_id() -> None:
    frames = [
        {"info": "Welcome to the BitMEX Realtime API."},
        rows("update", row(8799000100, "Buy", 1)),  # before the partial: dropped
        partial(),
        rows("update", row(8799000100, "Buy", 350)),
        rows("insert", row(8799000200, "Buy", 10, 9998.0)),
        rows("delete", row(8799000050, "Sell")),
        {"table": "trade", "action": "insert", "data": [{"symbol": "XBTUSD", "price": 1}]},
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    assert events.desyncs == []
    assert feed.rows_before_partial == 1
    (snap,) = events.snapshots
    assert snap.exchange_sequence == ""  # orderBookL2 carries no sequence
    assert [(d.bids, d.asks) for d in events.deltas] == [
        ([("9999.0", "350")], []),
        ([("9998.0", "10")], []),
        ([], [("9999.5", "0")]),
    ]
    book = feed.books[XBT].book
    assert [(str(p), str(q)) for p, q in book.bids()] == [
        ("9999.0", "350"),
        ("9998.5", "400"),
        ("9998.0", "10"),
    ]
    assert [str(p) for p, _ in book.asks()] == ["10000.0"]
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert sent == [{"op": "subscribe", "args": ["orderBookL2:XBTUSD"]}]


async def test_an_update_of_an_unknown_id_desyncs_and_resubscribes() -> None:
    frames = [
        partial(),
        rows("update", row(8799000777, "Buy", 5)),  # its insert was lost
        rows("update", row(8799000100, "Buy", 1)),  # ignored until the new partial
        partial(),
        rows("update", row(8799000100, "Buy", 2)),
    ]
    feed = feed_of(frames)
    events = await replay(feed)

    (desync,) = events.desyncs
    assert desync.reason == "gap"
    assert "8799000777" in desync.detail
    assert [(d.bids, d.asks) for d in events.deltas] == [([("9999.0", "2")], [])]
    assert feed.books[XBT].in_sync
    sent = [json.loads(m) for m in feed.transport.sent]  # type: ignore[attr-defined]
    assert [m["op"] for m in sent] == ["subscribe", "unsubscribe", "subscribe"]


async def test_an_insert_of_a_held_id_desyncs() -> None:
    feed = feed_of([partial(), rows("insert", row(8799000100, "Buy", 5, 9999.0))])
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["gap"]
    assert "already in the book" in events.desyncs[0].detail
    assert not feed.books[XBT].in_sync
    assert feed.books[XBT].book.bid_count == 0  # a desynced book is emptied, never read


async def test_a_crossing_insert_desyncs() -> None:
    feed = feed_of([partial(), rows("insert", row(8799000010, "Buy", 5, 10000.5))])
    events = await replay(feed)

    assert [d.reason for d in events.desyncs] == ["crossed"]


async def test_exponent_prices_are_exact_at_the_instrument_tick() -> None:
    feed = feed_of([partial("TRXM21")], [TRX])
    events = await replay(feed)

    (snap,) = events.snapshots
    assert snap.book.bid_strings() == [("0.00000242", "7000")]
    assert snap.book.ask_strings() == [("0.00000243", "5000")]


def with_subscriptions(frames: list[Any]) -> list[dict[str, Any]]:
    entries = bx_capture(frames)
    send = {
        "t": "send",
        "conn": "BITMEX.ws.1",
        "ts": 1_700_000_000.0,
        "addr": ADDR,
        "data": json.dumps({"op": "subscribe", "args": ["trade:XBTUSD", "trade:TRXM21"]}),
    }
    book_send = send | {
        "data": json.dumps(
            {"op": "subscribe", "args": ["orderBookL2:TRXM21", "orderBookL2:XBTUSD"]}
        )
    }
    return [*entries[:3], send, book_send, *entries[3:]]


def test_recorded_subscriptions_name_the_books() -> None:
    assert recorded_book_symbols(with_subscriptions([])) == [TRX, XBT]


async def test_replay_command_reads_symbols_from_the_recorded_subscriptions(
    tmp_path: Path,
) -> None:
    entries = with_subscriptions(
        [partial("TRXM21"), partial(), rows("delete", row(8799000150, "Buy"))]
    )
    entries[0]["config"] = {"l2_book": ["TRX-BTC-M21", "BTC-USD"]}  # the recorder's notation
    path = tmp_path / "bitmex.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = io.StringIO()

    status = await replay_file(path, None, err)

    assert status == 0, err.getvalue()
    assert f"bitmex {XBT}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err.getvalue()
    assert f"bitmex {TRX}: snapshots=1 deltas=0 desyncs=0 in_sync=yes" in err.getvalue()


async def test_unknown_symbol_fails_before_connecting() -> None:
    feed = feed_of([partial()], ["ETH/USD:BTC"])
    with pytest.raises(KeyError, match="ETH/USD:BTC"):
        await replay(feed)


def test_header_names_are_bitmex_perpetuals_and_futures() -> None:
    assert header_book_symbol(header_symbol("XBT-USD-PERP")) == XBT
    assert header_book_symbol(header_symbol("ETH-USD-PERP")) == "ETH/USD:BTC"  # quanto, in XBt
    assert header_book_symbol(header_symbol("BTC-USDT-PERP")) == "BTC/USDT:USDT"
    assert header_book_symbol(header_symbol("TRX-BTC-21M25")) == TRX
    with pytest.raises(ValueError, match="spot pairs, perpetuals and futures"):
        header_book_symbol(header_symbol("BTC-USD-50000-21M25-call"))


async def test_a_capture_naming_its_books_only_in_the_header_replays_them(tmp_path: Path) -> None:
    entries = bx_capture([partial(), rows("update", row(8799000100, "Buy", 350))])
    entries[0]["config"] = {"l2_book": ["BTC-USD-PERP", "TRX-BTC-21M25"]}

    status, err = await replay_command(write_capture(tmp_path / "bitmex.jsonl", entries))

    assert status == 0, err
    assert f"bitmex {XBT}: snapshots=1 deltas=1 desyncs=0 in_sync=yes" in err
    assert f"bitmex {TRX}: no data" in err
