"""The published book: the top ``depth`` levels per side, exactly as Kafka consumers hold it.

Snapshots carry this view and deltas keep it: after each adapter delta the view is compared
with the book's new top levels, so a level that surfaces from deeper in the book is published
with its size and one pushed below the top ``depth`` is published with size zero. A consumer
applying the deltas therefore holds exactly ``book.bid_strings(depth)``/``ask_strings(depth)``,
whatever happens beyond the top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from eip.book import L2Book

Levels = list[tuple[str, str]]


class _Side:
    def __init__(self, depth: int, best_is_high: bool) -> None:
        self.depth = depth
        self.best_is_high = best_is_high
        self.levels: dict[str, str] = {}  # price -> size, the book's fixed-point strings
        self.worst: Decimal | None = None

    def load(self, levels: Levels) -> None:
        self.levels = dict(levels)
        self.worst = Decimal(levels[-1][0]) if levels else None

    def changes(self, touched: Iterable[str], top: Callable[[int], Levels], zero: str) -> Levels:
        prices = [Decimal(p) for p in touched]
        if not prices:
            return []
        if len(self.levels) >= self.depth and self.worst is not None:
            # A full view changes only if a touch is at or better than its worst level; touches
            # deeper down (most updates of a deep book) leave the top as it is.
            worst = self.worst
            if self.best_is_high:
                inside = any(p >= worst for p in prices)
            else:
                inside = any(p <= worst for p in prices)
            if not inside:
                return []
        new = top(self.depth)
        new_levels = dict(new)
        out = [(p, s) for p, s in new if self.levels.get(p) != s]
        out.extend((p, zero) for p in self.levels if p not in new_levels)
        self.load(new)
        return out

    def best_first(self) -> Levels:
        return sorted(self.levels.items(), key=lambda lv: Decimal(lv[0]), reverse=self.best_is_high)


class PublishedView:
    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self._bids = _Side(depth, best_is_high=True)
        self._asks = _Side(depth, best_is_high=False)
        self._zero = "0"

    def reset(self, book: L2Book) -> None:
        self._zero = "0" if book.size_decimals == 0 else "0." + "0" * book.size_decimals
        self._bids.load(book.bid_strings(self.depth))
        self._asks.load(book.ask_strings(self.depth))

    def update(
        self,
        book: L2Book,
        touched_bids: Iterable[str],
        touched_asks: Iterable[str],
    ) -> tuple[Levels, Levels]:
        """Bring the view to the book's top levels; return the (bids, asks) changes."""
        return (
            self._bids.changes(touched_bids, book.bid_strings, self._zero),
            self._asks.changes(touched_asks, book.ask_strings, self._zero),
        )

    def bids(self) -> Levels:
        """Best first."""
        return self._bids.best_first()

    def asks(self) -> Levels:
        return self._asks.best_first()
