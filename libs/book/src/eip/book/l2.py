"""L2 book: the contract every adapter and the service code against.

This first implementation keeps each side in a ``SortedDict`` keyed by integer ticks. It is
the API the rest of the platform uses; a faster implementation may replace the internals, never
the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from sortedcontainers import SortedDict

Level = tuple[Decimal, Decimal]


def _to_ticks(text: str, decimals: int) -> int:
    """Exact scaling of a decimal string; refuses more fractional digits than the book keeps."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {decimals} decimal places")
    return int(scaled)


def _format(ticks: int, decimals: int) -> str:
    if decimals == 0:
        return str(ticks)
    sign = "-" if ticks < 0 else ""
    digits = str(abs(ticks)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


class L2Book:
    """Aggregated price levels per side. A size of zero removes the level."""

    def __init__(self, price_decimals: int, size_decimals: int) -> None:
        if not (0 <= price_decimals <= 18 and 0 <= size_decimals <= 18):
            raise ValueError("decimals must be between 0 and 18")
        self.price_decimals = price_decimals
        self.size_decimals = size_decimals
        self._bids: SortedDict = SortedDict()  # key: -price ticks, so index 0 is the best bid
        self._asks: SortedDict = SortedDict()  # key: price ticks

    # -- updates -----------------------------------------------------------------------------

    def apply(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Set levels; each item is ``[price, size, ...]`` (extra fields ignored).

        All levels are validated before any is applied, so a bad update changes nothing.
        """
        parsed_bids = [self._parse(level) for level in bids]
        parsed_asks = [self._parse(level) for level in asks]
        for price, size in parsed_bids:
            if size:
                self._bids[-price] = size
            else:
                self._bids.pop(-price, None)
        for price, size in parsed_asks:
            if size:
                self._asks[price] = size
            else:
                self._asks.pop(price, None)

    def replace(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Load a snapshot: the book becomes exactly these levels."""
        parsed_bids = [self._parse(level) for level in bids]
        parsed_asks = [self._parse(level) for level in asks]
        self._bids.clear()
        self._asks.clear()
        for price, size in parsed_bids:
            if size:
                self._bids[-price] = size
        for price, size in parsed_asks:
            if size:
                self._asks[price] = size

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def truncate(self, depth: int) -> None:
        """Keep only the ``depth`` best levels per side (for venues that maintain depth N)."""
        for side in (self._bids, self._asks):
            while len(side) > depth:
                side.popitem(-1)

    # -- queries -----------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        if not self._bids:
            return None
        key, size = self._bids.peekitem(0)
        return self._price(-key), self._size(size)

    def best_ask(self) -> Level | None:
        if not self._asks:
            return None
        key, size = self._asks.peekitem(0)
        return self._price(key), self._size(size)

    def bids(self, depth: int | None = None) -> list[Level]:
        """Best first."""
        items = self._bids.items()[:depth] if depth is not None else self._bids.items()
        return [(self._price(-k), self._size(v)) for k, v in items]

    def asks(self, depth: int | None = None) -> list[Level]:
        """Best first."""
        items = self._asks.items()[:depth] if depth is not None else self._asks.items()
        return [(self._price(k), self._size(v)) for k, v in items]

    def bid_strings(self, depth: int | None = None) -> list[tuple[str, str]]:
        """Best first, fixed-point strings with the book's exact decimals (checksums use them)."""
        items = self._bids.items()[:depth] if depth is not None else self._bids.items()
        return [
            (_format(-k, self.price_decimals), _format(v, self.size_decimals)) for k, v in items
        ]

    def ask_strings(self, depth: int | None = None) -> list[tuple[str, str]]:
        items = self._asks.items()[:depth] if depth is not None else self._asks.items()
        return [(_format(k, self.price_decimals), _format(v, self.size_decimals)) for k, v in items]

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a book that cannot be real)."""
        if not self._bids or not self._asks:
            return False
        return bool(-self._bids.peekitem(0)[0] >= self._asks.peekitem(0)[0])

    # -- helpers -----------------------------------------------------------------------------

    def _parse(self, level: Sequence[str]) -> tuple[int, int]:
        if len(level) < 2:
            raise ValueError(f"a level needs a price and a size: {level!r}")
        price = _to_ticks(str(level[0]), self.price_decimals)
        size = _to_ticks(str(level[1]), self.size_decimals)
        if price <= 0:
            raise ValueError(f"price must be positive: {level[0]!r}")
        if size < 0:
            raise ValueError(f"size must not be negative: {level[1]!r}")
        return price, size

    def _price(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(-self.price_decimals)

    def _size(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(-self.size_decimals)
