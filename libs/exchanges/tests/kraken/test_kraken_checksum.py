"""Kraken's checksum algorithm on documented values, and the v1/v2 message parsers."""

from __future__ import annotations

import zlib

import pytest

from eip.book import L2Book
from eip.exchanges.kraken.checksum import book_checksum, checksum_string
from eip.exchanges.kraken.wire import loads_v2, parse_v1, parse_v2


def test_level_formatting_follows_the_documented_steps() -> None:
    # docs.kraken.com/api/docs/guides/spot-ws-book-v2: "45285.2" -> "452852",
    # "0.00100000" -> "100000"; spot-ws-book-v1: "0.05000" / "0.00000304" -> "5000304".
    assert checksum_string([("45285.2", "0.00100000")], []) == "452852100000"
    assert checksum_string([("0.05000", "0.00000304")], []) == "5000304"


def test_worked_vector_of_the_protocol_brief() -> None:
    # shared/protocols/EXCHANGE_PROTOCOLS.md section 3.2 (price precision 1, qty precision 8).
    book = L2Book(1, 8)
    book.replace(
        bids=[["45283.5", "0.2"], ["45280.0", "3"]], asks=[["45285.2", "0.001"], ["45286.4", "1.5"]]
    )
    assert book_checksum(book) == 2020639291


def test_only_the_top_ten_levels_count_and_bids_come_after_asks() -> None:
    book = L2Book(2, 4)
    book.replace(
        bids=[[f"{100 - i}.00", "1"] for i in range(15)],
        asks=[[f"{101 + i}.00", "2"] for i in range(15)],
    )
    asks = "".join(f"{101 + i}00" + "20000" for i in range(10))
    bids = "".join(f"{100 - i}00" + "10000" for i in range(10))
    assert book_checksum(book) == zlib.crc32((asks + bids).encode())
    book.apply(bids=[["80.00", "5"]], asks=[["130.00", "5"]])  # beyond the top 10: no change
    assert book_checksum(book) == zlib.crc32((asks + bids).encode())


def test_v1_update_with_both_sides_and_a_checksum() -> None:
    # The documented v1 update (docs.kraken.com/api/docs/guides/spot-ws-book-v1).
    message = [
        0,
        {
            "a": [
                ["0.05120", "0.00000500", "1582905486.493008"],
                ["0.05275", "0.00000500", "1582905486.493034"],
            ]
        },
        {
            "b": [
                ["0.04765", "0.00000500", "1582905486.493008"],
                ["0.04940", "0.00000500", "1582905486.493034", "r"],
            ],
            "c": "974947235",
        },
        "book-1000",
        "BTC/USD",
    ]
    parsed = parse_v1(message)
    assert parsed is not None
    assert not parsed.snapshot
    # levels as sent: the book reads price and volume, the first two fields
    assert [lv[:2] for lv in parsed.asks] == [["0.05120", "0.00000500"], ["0.05275", "0.00000500"]]
    assert [lv[:2] for lv in parsed.bids] == [["0.04765", "0.00000500"], ["0.04940", "0.00000500"]]
    assert parsed.checksum == 974947235
    assert parsed.exchange_time is not None
    assert parsed.exchange_time.timestamp() == pytest.approx(1582905486.493034)
    single = parse_v1([0, {"b": [["0.04765", "0", "1582905487.000001"]], "c": "7"}, "book-10", "X"])
    assert single is not None
    assert (single.snapshot, single.asks, single.checksum) == (False, [], 7)
    assert [lv[:2] for lv in single.bids] == [["0.04765", "0"]]
    assert single.exchange_time is not None
    assert single.exchange_time.timestamp() == pytest.approx(1582905487.000001)
    snapshot = parse_v1([0, {"as": [["1.5", "2.0", "1.25"]], "bs": []}, "book-10", "X"])
    assert snapshot is not None
    assert (snapshot.snapshot, snapshot.bids, snapshot.checksum) == (True, [], None)
    assert [lv[:2] for lv in snapshot.asks] == [["1.5", "2.0"]]
    assert parse_v1([0, {"a": []}, "trade", "BTC/USD"]) is None
    assert parse_v1({"event": "heartbeat"}) is None


def test_v2_numbers_stay_exact() -> None:
    # Shape of the documented v2 snapshot (docs.kraken.com/api/docs/websocket-v2/book, quoted
    # in ccxt's python/ccxt/pro/kraken.py); 0.1 + 0.2 style floats must not leak in.
    text = (
        '{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD",'
        '"bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739}],'
        '"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487}],'
        '"checksum":2439117997}]}'
    )
    (parsed,) = parse_v2(loads_v2(text))
    assert parsed.snapshot
    assert parsed.pair == "MATIC/USD"
    assert parsed.bids == [["0.5666", "4831.75496356"], ["0.5665", "6658.22734739"]]
    assert parsed.asks[0] == ["0.5668", "4410.79769741"]
    assert parsed.checksum == 2439117997
    update = loads_v2(
        '{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":'
        '[{"price":0.5657,"qty":1098.3947558}],"asks":[{"price":0.567,"qty":0}],'
        '"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
    )
    (parsed,) = parse_v2(update)
    assert parsed.asks == [["0.567", "0"]]
    assert parsed.exchange_time is not None
    assert parsed.exchange_time.isoformat() == "2023-10-06T17:35:55.440295+00:00"
    assert parse_v2({"channel": "heartbeat"}) == []
