"""A naive L2 book: the executable specification ``L2Book`` is property-tested against.

Plain dicts, ``sorted()`` on every query, ``Decimal`` for parsing, exact integer arithmetic:
slow and obviously right. It implements the contract of ``eip.book.L2Book`` (queries, errors
and their messages, ``apply_binance_depth``) and nothing else; production code never uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

Level = tuple[Decimal, Decimal]

MAX_TICKS = 2**128
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(r"[+-]?(inf|infinity|s?nan[0-9]*)", re.IGNORECASE)


def to_ticks(text: str, decimals: int) -> int:
    """Signed ticks of a decimal string, exactly (no context rounding), or ``ValueError``."""
    stripped = text.strip(" \t\n\r\v\f")  # ASCII whitespace only
    if _SPECIAL.fullmatch(stripped):
        raise ValueError(f"not a finite decimal: {text!r}")
    if not _NUMBER.fullmatch(stripped):
        raise ValueError(f"not a decimal number: {text!r}")
    sign, digits, exponent = Decimal(stripped).as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    shift = exponent + decimals
    if mantissa == 0:
        return 0
    if shift < 0:
        scale: int = 10**-shift
        mantissa, remainder = divmod(mantissa, scale)
        if remainder:
            raise ValueError(f"{text!r} has more than {decimals} decimal places")
    else:
        mantissa *= 10**shift  # shift >= 0: an int
    if mantissa >= MAX_TICKS:
        raise ValueError(f"{text!r} is out of range for this book")
    return -mantissa if sign else mantissa


def _format(ticks: int, decimals: int) -> str:
    if decimals == 0:
        return str(ticks)
    digits = str(ticks).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


def _limit(depth: int | None) -> int | None:
    if depth is not None and depth < 0:
        raise ValueError(f"depth must not be negative: {depth}")
    return depth


class NaiveL2Book:
    def __init__(self, price_decimals: int, size_decimals: int) -> None:
        if not (0 <= price_decimals <= 18 and 0 <= size_decimals <= 18):
            raise ValueError("decimals must be between 0 and 18")
        self.price_decimals = price_decimals
        self.size_decimals = size_decimals
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}

    def _parse(self, level: Sequence[object]) -> tuple[int, int]:
        if isinstance(level, str | bytes) or len(level) < 2:
            raise ValueError(f"a level needs a price and a size: {level!r}")
        price_text, size_text = str(level[0]), str(level[1])
        price = to_ticks(price_text, self.price_decimals)
        size = to_ticks(size_text, self.size_decimals)
        if price <= 0:
            raise ValueError(f"price must be positive: {price_text!r}")
        if size < 0:
            raise ValueError(f"size must not be negative: {size_text!r}")
        return price, size

    def apply(self, bids: Iterable[Sequence[object]], asks: Iterable[Sequence[object]]) -> None:
        parsed = [[self._parse(level) for level in side] for side in (bids, asks)]
        for book_side, levels in zip((self._bids, self._asks), parsed, strict=True):
            for price, size in levels:
                if size:
                    book_side[price] = size
                else:
                    book_side.pop(price, None)

    def replace(self, bids: Iterable[Sequence[object]], asks: Iterable[Sequence[object]]) -> None:
        parsed = [[self._parse(level) for level in side] for side in (bids, asks)]
        self.clear()
        for book_side, levels in zip((self._bids, self._asks), parsed, strict=True):
            for price, size in levels:
                if size:
                    book_side[price] = size

    def apply_binance_depth(
        self, frame: bytes | str, last_update_id: int | None = None
    ) -> tuple[int, int, int]:
        first, final, _, bids, asks = self.apply_binance_depth_levels(frame, last_update_id)
        return first, final, len(bids) + len(asks)

    def apply_binance_depth_levels(
        self, frame: bytes | str, last_update_id: int | None = None
    ) -> tuple[int, int, int | None, list[tuple[str, str]], list[tuple[str, str]]]:
        message = json.loads(frame)
        if "data" in message:
            message = message["data"]
        first, final, event_time = message["U"], message["u"], message.get("E")
        bids, asks = self.level_strings(message["b"]), self.level_strings(message["a"])
        if last_update_id is not None and not (first <= last_update_id + 1 <= final):
            return first, final, event_time, [], []
        self.apply(message["b"], message["a"])
        return first, final, event_time, bids, asks

    def level_strings(self, levels: Iterable[Sequence[object]]) -> list[tuple[str, str]]:
        parsed = [self._parse(level) for level in levels]
        return [
            (_format(p, self.price_decimals), _format(s, self.size_decimals)) for p, s in parsed
        ]

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def truncate(self, depth: int) -> None:
        _limit(depth)
        self._bids = dict(self._sorted_bids()[:depth])
        self._asks = dict(self._sorted_asks()[:depth])

    def _sorted_bids(self) -> list[tuple[int, int]]:
        return sorted(self._bids.items(), reverse=True)

    def _sorted_asks(self) -> list[tuple[int, int]]:
        return sorted(self._asks.items())

    def _strings(self, levels: list[tuple[int, int]], depth: int | None) -> list[tuple[str, str]]:
        return [
            (_format(p, self.price_decimals), _format(s, self.size_decimals))
            for p, s in levels[: _limit(depth)]
        ]

    def bid_strings(self, depth: int | None = None) -> list[tuple[str, str]]:
        return self._strings(self._sorted_bids(), depth)

    def ask_strings(self, depth: int | None = None) -> list[tuple[str, str]]:
        return self._strings(self._sorted_asks(), depth)

    def bids(self, depth: int | None = None) -> list[Level]:
        return [(Decimal(p), Decimal(s)) for p, s in self.bid_strings(depth)]

    def asks(self, depth: int | None = None) -> list[Level]:
        return [(Decimal(p), Decimal(s)) for p, s in self.ask_strings(depth)]

    def best_bid_ticks(self) -> tuple[int, int] | None:
        return max(self._bids.items(), default=None)

    def best_ask_ticks(self) -> tuple[int, int] | None:
        return min(self._asks.items(), default=None)

    def best_bid(self) -> Level | None:
        levels = self.bids(1)
        return levels[0] if levels else None

    def best_ask(self) -> Level | None:
        levels = self.asks(1)
        return levels[0] if levels else None

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid_ticks(), self.best_ask_ticks()
        return bid is not None and ask is not None and bid[0] >= ask[0]
