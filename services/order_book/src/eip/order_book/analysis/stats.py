"""Top-of-book statistics: spread, mid, micro-price, and size imbalance at chosen depths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from eip.book import Level

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Imbalance:
    depth: int
    bid_size: Decimal
    ask_size: Decimal
    # (bid - ask) / (bid + ask), in [-1, 1]; positive when bids outweigh asks; None if both empty
    imbalance: Decimal | None


@dataclass(frozen=True, slots=True)
class BookStats:
    best_bid: Level | None
    best_ask: Level | None
    spread: Decimal | None
    spread_bps: Decimal | None  # spread relative to mid
    mid: Decimal | None
    micro_price: Decimal | None
    imbalances: list[Imbalance]


def spread(bids: Sequence[Level], asks: Sequence[Level]) -> Decimal | None:
    if not bids or not asks:
        return None
    return asks[0][0] - bids[0][0]


def mid(bids: Sequence[Level], asks: Sequence[Level]) -> Decimal | None:
    if not bids or not asks:
        return None
    return (bids[0][0] + asks[0][0]) / 2


def micro_price(bids: Sequence[Level], asks: Sequence[Level]) -> Decimal | None:
    """The mid weighted towards the side with less size at the touch (where the price is more
    likely to move): (bid * ask_size + ask * bid_size) / (bid_size + ask_size)."""
    if not bids or not asks:
        return None
    (bid, bid_size), (ask, ask_size) = bids[0], asks[0]
    return (bid * ask_size + ask * bid_size) / (bid_size + ask_size)


def imbalance(bids: Sequence[Level], asks: Sequence[Level], depth: int) -> Imbalance:
    if depth < 1:
        raise ValueError("depth must be at least 1")
    bid_size = sum((size for _, size in bids[:depth]), Decimal(0))
    ask_size = sum((size for _, size in asks[:depth]), Decimal(0))
    total = bid_size + ask_size
    value = (bid_size - ask_size) / total if total else None
    return Imbalance(depth, bid_size, ask_size, value)


def book_stats(bids: Sequence[Level], asks: Sequence[Level], depths: Sequence[int]) -> BookStats:
    the_spread, the_mid = spread(bids, asks), mid(bids, asks)
    return BookStats(
        best_bid=bids[0] if bids else None,
        best_ask=asks[0] if asks else None,
        spread=the_spread,
        spread_bps=the_spread / the_mid * BPS if the_spread is not None and the_mid else None,
        mid=the_mid,
        micro_price=micro_price(bids, asks),
        imbalances=[imbalance(bids, asks, d) for d in depths],
    )
