"""The Binance fast paths on real recorded frames, checked against the generic ``apply``."""

from __future__ import annotations

import json

import pytest

from eip.book import L2Book
from eip.exchanges.machinery.capture import frame_payload, iter_entries, payload_text
from eip.testing.recorded import recorded_capture

RECORDING = "binance-spot-2021-10.jsonl"


def recorded() -> tuple[dict[str, str], list[str]]:
    snapshots: dict[str, str] = {}
    frames: list[str] = []
    for _, record in iter_entries(recorded_capture(RECORDING)):
        if record["t"] == "http" and "/depth?symbol=" in record["url"]:
            symbol = record["url"].split("symbol=")[1].split("&")[0]
            snapshots[symbol] = record["data"]
        elif record["t"] == "recv":
            frame = payload_text(frame_payload(record))
            if "@depth@" in frame[:64]:
                frames.append(frame)
    return snapshots, frames


def test_recorded_stream_matches_generic_apply() -> None:
    snapshots, frames = recorded()
    assert len(snapshots) == 4
    assert len(frames) > 100
    fast = {s: L2Book(8, 8) for s in snapshots}
    slow = {s: L2Book(8, 8) for s in snapshots}
    last: dict[str, int] = {}
    for symbol, body in snapshots.items():
        last[symbol] = fast[symbol].replace_binance_depth_snapshot(body.encode())
        parsed = json.loads(body)
        slow[symbol].replace(parsed["bids"], parsed["asks"])
        assert fast[symbol].top_strings(1000) == (
            slow[symbol].bid_strings(),
            slow[symbol].ask_strings(),
        )
        assert fast[symbol].bid_count > 100
        assert fast[symbol].ask_count > 100
    applied = 0
    for frame in frames:
        data = json.loads(frame)["data"]
        symbol = data["s"]
        first, final, levels = fast[symbol].apply_binance_depth(frame, last[symbol])
        assert (first, final) == (data["U"], data["u"])
        if levels:
            slow[symbol].apply(data["b"], data["a"])
            last[symbol] = final
            applied += levels
    assert applied > 300
    for symbol in snapshots:
        assert fast[symbol].top_strings(1000) == (
            slow[symbol].bid_strings(),
            slow[symbol].ask_strings(),
        )
        assert not fast[symbol].is_crossed()


def test_sequence_rule_skips_stale_and_gapped_events() -> None:
    book = L2Book(2, 2)
    frame = b'{"e":"depthUpdate","U":11,"u":13,"b":[["1.00","2"]],"a":[]}'
    assert book.apply_binance_depth(frame, last_update_id=13) == (11, 13, 0)  # stale
    assert book.apply_binance_depth(frame, last_update_id=9) == (11, 13, 0)  # gap: 10 missing
    assert book.bid_count == 0
    assert book.apply_binance_depth(frame, last_update_id=10) == (11, 13, 1)
    assert book.best_bid_ticks() == (100, 200)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b'{"e":"kline","U":1,"u":2,"b":[],"a":[]}', "event type"),
        (b'{"u":1,"s":"X","b":"1.0","B":"2","a":"3","A":"4"}', "depth update"),
        (b'{"e":"depthUpdate","U":3,"u":2,"b":[],"a":[]}', "backwards"),
        (b'{"e":"depthUpdate","U":1,"u":2,"b":[["1"]],"a":[]}', "price and a size"),
        (b'{"e":"depthUpdate","U":1,"u":2,"b":[["1","1"]],"a":[["2","1.001"]]}', "decimal places"),
        (b"[1, 2", "depth update"),
    ],
)
def test_bad_frames_change_nothing(frame: bytes, message: str) -> None:
    book = L2Book(2, 2)
    book.replace([["1", "1"]], [["3", "1"]])
    with pytest.raises(ValueError, match=message):
        book.apply_binance_depth(frame)
    assert book.top_strings(5) == ([("1.00", "1.00")], [("3.00", "1.00")])


def test_memory_grows_with_levels() -> None:
    book = L2Book(2, 2)
    empty = book.memory_bytes()
    book.replace([[str(p), "1"] for p in range(1, 1001)], [])
    assert book.memory_bytes() >= empty + 1000 * 32  # two u128 per level


def test_errors_are_value_errors_with_the_culprit() -> None:
    book = L2Book(2, 2)
    with pytest.raises(ValueError, match="decimals must be between 0 and 18"):
        L2Book(19, 2)
    with pytest.raises(ValueError, match="not a finite decimal: 'NaN'"):
        book.apply([["NaN", "1"]], [])
    with pytest.raises(ValueError, match="size must not be negative: '-1'"):
        book.apply([["1", "-1"]], [])
    with pytest.raises(ValueError, match="out of range"):
        book.apply([["1e40", "1"]], [])
    with pytest.raises(ValueError, match="a level needs a price and a size"):
        book.apply(["12"], [])
    with pytest.raises(ValueError, match="depth must not be negative"):
        book.bids(-1)
    assert book.bid_count == 0


def test_levels_variant_returns_what_a_book_delta_needs() -> None:
    _, frames = recorded()
    frame = frames[1]
    data = json.loads(frame)["data"]
    book = L2Book(8, 8)
    first, final, event_time, bids, asks = book.apply_binance_depth_levels(frame)
    assert (first, final, event_time) == (data["U"], data["u"], data["E"])
    assert bids == book.level_strings(data["b"])
    assert asks == book.level_strings(data["a"])
    assert bids + asks  # the recorded frame changes something
    assert book.apply_binance_depth_levels(frame, last_update_id=final) == (
        first,
        final,
        event_time,
        [],
        [],
    )
