"""The book a Kraken client holds for one subscription depth, and the updates that move it.

Kraken sends only changed levels and expects the client to truncate each side to the subscribed
depth after every message: a level pushed out of range by a better one gets no delete, while a
level that comes into range (because a better one left) is sent as an insert. The view is that
client-side book as last sent, so the next update is the difference to the true top levels.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

ZERO = Decimal(0)
Levels = list[tuple[Decimal, Decimal]]


def _diff(
    held: dict[Decimal, Decimal],
    top: Levels,
    in_book: Callable[[Decimal], bool],
) -> Levels:
    wanted = dict(top)
    changed = [(p, q) for p, q in top if held.get(p) != q]
    # A level still in the book but out of range is left to the client's truncation.
    gone = [(p, ZERO) for p in held if p not in wanted and not in_book(p)]
    return changed + gone


class DepthView:
    def __init__(self, depth: int, bids: Levels, asks: Levels) -> None:
        self.depth = depth
        self.bids = dict(bids)
        self.asks = dict(asks)

    def top_bids(self) -> Levels:
        return sorted(self.bids.items(), key=lambda level: -level[0])

    def top_asks(self) -> Levels:
        return sorted(self.asks.items())

    def advance(
        self,
        bids: Levels,
        asks: Levels,
        bid_in_book: Callable[[Decimal], bool],
        ask_in_book: Callable[[Decimal], bool],
    ) -> tuple[Levels, Levels]:
        """Move to the book's new top levels (best first, at most ``depth``); the levels to send."""
        bid_changes = sorted(_diff(self.bids, bids, bid_in_book), key=lambda level: -level[0])
        ask_changes = sorted(_diff(self.asks, asks, ask_in_book))
        self.bids = dict(bids)
        self.asks = dict(asks)
        return bid_changes, ask_changes
