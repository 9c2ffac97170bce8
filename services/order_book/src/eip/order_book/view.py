"""The published book: the top ``depth`` levels per side, exactly as Kafka consumers hold it.

Snapshots carry this view and deltas keep it: a level that surfaces from deeper in the book
(because a better one was removed) is published with its size, one pushed below the top
``depth`` is published with size zero, and a change deeper down publishes nothing. A consumer
applying the deltas therefore holds exactly ``book.bid_strings(depth)``/``ask_strings(depth)``.

Kept incrementally, in O(log n) per changed level: each side holds the exact top ``m`` levels
of the book for some ``depth <= m <= 2 * depth`` (or the whole side when it is shorter). A
removal shrinks ``m``; an insertion above the held worst level grows it; only when ``m`` falls
below ``depth`` is the side reloaded from the book (O(depth), once per ``depth`` removals at
most). Sizes come from the delta, which the adapter applied to the book verbatim; ``matches``
checks the view against the book (the manager does so at every periodic snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from sortedcontainers import SortedDict

from eip.book import L2Book

Levels = list[tuple[str, str]]
TopLevels = Callable[[int], Levels]
Change = tuple[Decimal, str, str, bool]
"""A delta's level, read once: (price, price and size in the book's spelling, size is zero)."""


class _Side:
    def __init__(self, depth: int, best_is_high: bool) -> None:
        self.depth = depth
        self.capacity = 2 * depth
        self.sign = -1 if best_is_high else 1
        # sign * price -> (price, size) in the book's fixed-point strings; index 0 is the best
        self.levels: SortedDict = SortedDict()
        self.complete = True  # the held levels are the whole side of the book

    def load(self, top: TopLevels) -> None:
        levels = top(self.capacity)
        self.levels = SortedDict((self.sign * Decimal(p), (p, s)) for p, s in levels)
        self.complete = len(levels) < self.capacity

    def apply(self, touched: Iterable[Change], top: TopLevels, zero: str) -> Levels:
        """Follow the book after these changes; return the view's changes."""
        n = self.depth
        levels = self.levels
        sign = self.sign
        changes: dict[str, str] = {}  # last write wins: a level pushed out and back ends right
        for value, price, size, removed in touched:
            key = sign * value
            held = key in levels
            if removed:
                if not held:
                    continue  # deeper than the levels held, or already gone
                rank = levels.index(key)
                del levels[key]
                if rank < n:
                    changes[price] = zero
                    if len(levels) >= n:  # the next level surfaces into the view
                        surfaced, surfaced_size = levels.peekitem(n - 1)[1]
                        changes[surfaced] = surfaced_size
                continue
            if not held and not self.complete and (not levels or key > levels.peekitem(-1)[0]):
                continue  # below the exact top we hold: cannot reach the view
            levels[key] = (price, size)
            rank = levels.index(key)
            if rank < n:
                changes[price] = size
                if not held and len(levels) > n:  # the view's worst level is pushed out
                    changes[levels.peekitem(n)[1][0]] = zero
            if len(levels) > self.capacity:
                levels.popitem(-1)
                self.complete = False
        if len(levels) < n and not self.complete:
            kept = len(levels)
            self.load(top)
            # Levels below the ones kept were not in the view (the view only loses levels by
            # removal), so every one of them that now ranks inside it is new to consumers.
            for _, (price, size) in self.levels.items()[kept:n]:
                changes[price] = size
        return list(changes.items())

    def view(self) -> Levels:
        return [level for _, level in self.levels.items()[: self.depth]]


class PublishedView:
    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self._bids = _Side(depth, best_is_high=True)
        self._asks = _Side(depth, best_is_high=False)
        self._price_unit = Decimal(1)
        self._size_unit = Decimal(1)
        self._zero = "0"
        self._price_form = _fixed_point(0)
        self._size_form = _fixed_point(0)

    def reset(self, book: L2Book) -> None:
        self._price_unit = Decimal(1).scaleb(-book.price_decimals)
        self._size_unit = Decimal(1).scaleb(-book.size_decimals)
        self._zero = format(Decimal(0).quantize(self._size_unit), "f")
        self._price_form = _fixed_point(book.price_decimals)
        self._size_form = _fixed_point(book.size_decimals)
        self._bids.load(book.bid_strings)
        self._asks.load(book.ask_strings)

    def update(
        self,
        book: L2Book,
        bids: Sequence[tuple[str, str]],
        asks: Sequence[tuple[str, str]],
    ) -> tuple[Levels, Levels]:
        """Follow a delta the adapter applied to ``book``; return the (bids, asks) changes.

        Raises ``ArithmeticError`` for a level that is not a decimal of the book's precision.
        """
        return (
            self._bids.apply(self._canonical(bids), book.bid_strings, self._zero),
            self._asks.apply(self._canonical(asks), book.ask_strings, self._zero),
        )

    def matches(self, book: L2Book) -> bool:
        return self.bids() == book.bid_strings(self.depth) and self.asks() == book.ask_strings(
            self.depth
        )

    def bids(self) -> Levels:
        """Best first."""
        return self._bids.view()

    def asks(self) -> Levels:
        return self._asks.view()

    def _canonical(self, levels: Sequence[tuple[str, str]]) -> list[Change]:
        """The book's own formatting, so a price has one spelling (and one key). Adapters
        report levels as the book formats them (``L2Book.apply_levels``): those are recognised
        by their shape and only parsed once; anything else is checked and reformatted."""
        out: list[Change] = []
        price_form, size_form, zero = self._price_form, self._size_form, self._zero
        for price, size in levels:
            if price_form(price) is None:
                price = format(_exact(price, self._price_unit), "f")
            if size_form(size) is not None:
                removed = size == zero
            else:
                exact = _exact(size, self._size_unit)
                size, removed = format(exact, "f"), not exact
            out.append((Decimal(price), price, size, removed))
        return out


def _fixed_point(decimals: int) -> Callable[[str], re.Match[str] | None]:
    """Matches exactly the strings ``format(Decimal(x).quantize(10**-decimals), "f")`` gives
    for non-negative ``x``: no sign, no leading zero, exactly ``decimals`` places."""
    fraction = rf"\.[0-9]{{{decimals}}}" if decimals else ""
    return re.compile(rf"(?:0|[1-9][0-9]*){fraction}").fullmatch


def _exact(text: str, unit: Decimal) -> Decimal:
    value = Decimal(text)
    scaled = value.quantize(unit)
    if scaled != value:
        raise ArithmeticError(f"{text!r} has more decimals than the book keeps")
    return scaled
