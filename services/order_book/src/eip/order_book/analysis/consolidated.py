"""One book for a symbol across exchanges: levels at the same price merged, each attributed to
the exchanges resting there with their sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from eip.book import Level


@dataclass(frozen=True, slots=True)
class ConsolidatedLevel:
    price: Decimal
    size: Decimal
    venues: dict[str, Decimal]  # exchange -> size at this price


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    bids: list[ConsolidatedLevel]  # best first
    asks: list[ConsolidatedLevel]
    # the best bid of one venue at or above the best ask of another: an arbitrage or a stale book
    crossed: bool


def consolidate(
    books: Mapping[str, tuple[Sequence[Level], Sequence[Level]]], depth: int
) -> ConsolidatedBook:
    """``books``: exchange -> (bids, asks), best first. Any level in the top ``depth`` of the
    result is within its exchange's top ``depth``, so callers may pass only those."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    bids = _merge({ex: b[:depth] for ex, (b, _) in books.items()}, depth, best_is_high=True)
    asks = _merge({ex: a[:depth] for ex, (_, a) in books.items()}, depth, best_is_high=False)
    crossed = bool(bids and asks and bids[0].price >= asks[0].price)
    return ConsolidatedBook(bids, asks, crossed)


def _merge(
    sides: Mapping[str, Sequence[Level]], depth: int, best_is_high: bool
) -> list[ConsolidatedLevel]:
    merged: dict[Decimal, dict[str, Decimal]] = {}
    for exchange, levels in sides.items():
        for price, size in levels:
            venues = merged.setdefault(price, {})
            venues[exchange] = venues.get(exchange, Decimal(0)) + size
    prices = sorted(merged, reverse=best_is_high)[:depth]
    return [
        ConsolidatedLevel(p, sum(merged[p].values(), Decimal(0)), dict(sorted(merged[p].items())))
        for p in prices
    ]
