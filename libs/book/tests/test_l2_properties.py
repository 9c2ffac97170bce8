"""L2Book against the naive model (eip.book.reference): random sequences of every update, with
valid and invalid levels written in every way exchanges (and people) write decimals; after each
step every query and every error must agree, and a failed update must change nothing."""

from __future__ import annotations

import json
import re
import zlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eip.book import L2Book
from eip.book.reference import NaiveL2Book

GARBAGE = ["", " ", "abc", "1e", ".", "1.2.3", "--1", "1_000", "0x10", "NaN", "-inf", "Infinity"]


@st.composite
def decimal_text(draw: st.DrawFn, ticks: int, decimals: int) -> str:
    """``ticks`` scaled by 10**-decimals, written one of many equivalent ways."""
    value = Decimal(ticks).scaleb(-decimals)
    style = draw(st.sampled_from(["fixed", "padded", "short", "exponent", "sci"]))
    if style == "fixed":
        text = f"{value:.{decimals}f}"
    elif style == "padded":  # more decimals than the book keeps, all zeros: accepted
        text = f"{value:.{decimals + draw(st.integers(1, 12))}f}"
    elif style == "short":
        text = format(value.normalize(), "f")
    elif style == "exponent":
        text = str(value.normalize())  # e.g. "1E+1"
    else:
        text = f"{value:e}"
    if draw(st.booleans()):
        text = draw(st.sampled_from(["+", "0", "00", " ", "\t"])) + text
    if draw(st.booleans()):
        text += draw(st.sampled_from([" ", "\n"]))
    return text


@st.composite
def field(draw: st.DrawFn, decimals: int, low: int, high: int) -> object:
    """A price or size: mostly valid, sometimes each kind of invalid."""
    kind = draw(st.sampled_from(["valid"] * 12 + ["precise", "negative", "garbage", "decimal"]))
    ticks = draw(st.integers(low, high))
    if kind == "precise":  # one digit beyond the book's decimals
        return f"{Decimal(ticks).scaleb(-decimals):.{decimals}f}".rstrip(".") + (
            "1" if decimals else ".1"
        )
    if kind == "negative":
        return "-" + draw(decimal_text(max(ticks, 1), decimals))
    if kind == "garbage":
        return draw(st.sampled_from(GARBAGE))
    if kind == "decimal":  # non-str input goes through str()
        return Decimal(ticks).scaleb(-decimals)
    return draw(decimal_text(ticks, decimals))


@st.composite
def level(draw: st.DrawFn, pd: int, sd: int) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.sampled_from([[], ["1"], "12", ("1",)]))
    # A small price universe so updates hit existing levels; size 0 removes.
    price = draw(field(pd, 1, 40))
    size = draw(st.one_of(st.just("0"), field(sd, 0, 5)))
    extra = draw(st.lists(st.just("x"), max_size=1))
    return draw(st.sampled_from([list, tuple]))([price, size, *extra])


@st.composite
def operation(draw: st.DrawFn, pd: int, sd: int) -> tuple[str, Any]:
    levels = st.lists(level(pd, sd), max_size=6)
    name = draw(
        st.sampled_from(
            ["apply"] * 6 + ["replace", "truncate", "clear", "binance", "query", "format"]
        )
    )
    if name in ("apply", "replace"):
        return name, (draw(levels), draw(levels))
    if name == "format":
        return name, draw(levels)
    if name == "truncate":
        return name, draw(st.integers(-1, 8))
    if name == "binance":
        # Only str prices and sizes can travel in JSON.
        def texts(side: list[Any]) -> list[Any]:
            return [[str(x) for x in lv] for lv in side if not isinstance(lv, str)]

        first = draw(st.integers(1, 20))
        frame: dict[str, Any] = {
            "e": "depthUpdate",
            "E": 1,
            "s": "X",
            "U": first,
            "u": first + draw(st.integers(0, 3)),
            "b": texts(draw(levels)),
            "a": texts(draw(levels)),
        }
        if draw(st.booleans()):
            frame = {"stream": "x@depth@100ms", "data": frame}
        last = draw(st.one_of(st.none(), st.integers(0, 25)))
        raw = json.dumps(frame)
        method = draw(st.sampled_from(["apply_binance_depth", "apply_binance_depth_levels"]))
        return name, (method, raw.encode() if draw(st.booleans()) else raw, last)
    return name, draw(st.sampled_from([None, 0, 1, 3, 50, -1]))


def snapshot(book: L2Book | NaiveL2Book) -> dict[str, Any]:
    return {
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
        "best_bid_ticks": book.best_bid_ticks(),
        "best_ask_ticks": book.best_ask_ticks(),
        "bids": book.bids(),
        "asks": book.asks(),
        "bid_strings": book.bid_strings(),
        "ask_strings": book.ask_strings(),
        "bid_count": book.bid_count,
        "ask_count": book.ask_count,
        "is_crossed": book.is_crossed(),
    }


def run(book: L2Book | NaiveL2Book, name: str, args: Any) -> object:
    """The result of one operation, or the ValueError message it raised."""
    try:
        if name in ("apply", "replace"):
            return getattr(book, name)(*args)
        if name == "truncate":
            return book.truncate(args)
        if name == "clear":
            return book.clear()
        if name == "binance":
            method, frame, last = args
            return getattr(book, method)(frame, last)
        if name == "format":
            return book.level_strings(args)
        return (book.bids(args), book.asks(args), book.bid_strings(args), book.ask_strings(args))
    except ValueError as error:
        # A malformed frame is reported by the JSON reader, in its own words.
        return ("ValueError", "" if name == "binance" else str(error))


@st.composite
def scenario(draw: st.DrawFn) -> tuple[int, int, list[tuple[str, Any]]]:
    pd = draw(st.sampled_from([0, 1, 2, 8, 18]))
    sd = draw(st.sampled_from([0, 3, 8, 18]))
    return pd, sd, draw(st.lists(operation(pd, sd), max_size=25))


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_book_matches_the_naive_model(case: tuple[int, int, list[tuple[str, Any]]]) -> None:
    pd, sd, operations = case
    book, model = L2Book(pd, sd), NaiveL2Book(pd, sd)
    for name, args in operations:
        expected = run(model, name, args)
        assert run(book, name, args) == expected, (name, args)
        assert snapshot(book) == snapshot(model), (name, args)


@settings(max_examples=300, deadline=None)
@given(
    decimals=st.integers(0, 18),
    text=st.one_of(
        st.from_regex(r"\A\s?[+-]?[0-9]{0,12}\.?[0-9]{0,20}([eE][+-]?[0-9]{1,2})?\s?\Z"),
        # more significant digits than 128 bits hold: "out of range" or "too precise"
        st.from_regex(r"\A[1-9][0-9]{30,45}(\.[0-9]{0,30})?([eE]-?[0-9]{1,2})?\Z"),
        st.text(alphabet="0123456789.eE+- _naifNIF", max_size=12),
    ),
)
def test_decimal_parsing_matches_the_model(decimals: int, text: str) -> None:
    """Any short string: the same ticks or the same error as the exact Python model."""
    book, model = L2Book(decimals, decimals), NaiveL2Book(decimals, decimals)
    level = [text, text]
    assert run(book, "apply", ([level], [])) == run(model, "apply", ([level], []))
    assert book.bid_strings() == model.bid_strings()


def _quantized(book: L2Book, levels: list[Any]) -> list[tuple[str, str]]:
    """What feeds put in a ``BookDelta`` before ``apply_levels``: each level through Decimal,
    quantized to the book's decimals."""
    p, s = Decimal(1).scaleb(-book.price_decimals), Decimal(1).scaleb(-book.size_decimals)
    return [
        (f"{Decimal(str(lv[0])).quantize(p):f}", f"{Decimal(str(lv[1])).quantize(s):f}")
        for lv in levels
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 6).flatmap(
        lambda pd: st.integers(0, 6).flatmap(
            lambda sd: st.tuples(
                st.just(pd),
                st.just(sd),
                st.lists(
                    st.tuples(
                        st.lists(level(pd, sd), max_size=8), st.lists(level(pd, sd), max_size=8)
                    ),
                    max_size=8,
                ),
                st.one_of(st.none(), st.integers(0, 6)),
            )
        )
    )
)
def test_apply_levels_is_apply_then_the_levels_formatted_and_the_overflow_truncated(
    case: tuple[int, int, list[tuple[list[Any], list[Any]]], int | None],
) -> None:
    pd, sd, updates, depth = case
    fast, slow = L2Book(pd, sd), L2Book(pd, sd)
    for bids, asks in updates:
        refused = run(slow, "apply", (bids, asks))
        if refused is not None:  # the ValueError's message: apply_levels refuses it alike
            assert isinstance(refused, tuple)
            with pytest.raises(ValueError, match=re.escape(refused[1])):
                fast.apply_levels(bids, asks, depth)
            assert snapshot(fast) == snapshot(slow)  # and changed nothing
            continue
        expected_bids, expected_asks = _quantized(slow, bids), _quantized(slow, asks)
        if depth is not None:
            zero = f"{Decimal(0):.{sd}f}"
            expected_bids += [(p, zero) for p, _ in slow.bid_strings()[depth:]]
            expected_asks += [(p, zero) for p, _ in slow.ask_strings()[depth:]]
            slow.truncate(depth)
        assert fast.apply_levels(bids, asks, depth) == (expected_bids, expected_asks)
        assert snapshot(fast) == snapshot(slow)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 8),
    st.integers(0, 8),
    st.lists(st.tuples(st.integers(1, 10**9), st.integers(1, 10**9)), max_size=30),
    st.lists(st.tuples(st.integers(1, 10**9), st.integers(1, 10**9)), max_size=30),
)
def test_kraken_checksum_from_ticks_equals_the_documented_string_crc32(
    pd: int, sd: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    book = L2Book(pd, sd)
    as_text = [
        [[f"{Decimal(p).scaleb(-pd):.{pd}f}", f"{Decimal(s).scaleb(-sd):.{sd}f}"] for p, s in side]
        for side in (bids, asks)
    ]
    book.replace(as_text[0], as_text[1])

    def digits(text: str) -> str:
        return text.replace(".", "").lstrip("0")

    documented = "".join(
        digits(p) + digits(q) for p, q in (*book.ask_strings(10), *book.bid_strings(10))
    )
    assert book.kraken_checksum() == zlib.crc32(documented.encode())
