"""Cumulative depth: how much rests at each price or better (a depth chart's points)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from eip.book import Level


@dataclass(frozen=True, slots=True)
class DepthPoint:
    price: Decimal
    size: Decimal
    cumulative_size: Decimal
    cumulative_notional: Decimal  # sum of price * size up to and including this level


def cumulative(levels: Sequence[Level]) -> list[DepthPoint]:
    """One point per level, best first."""
    points: list[DepthPoint] = []
    total = Decimal(0)
    notional = Decimal(0)
    for price, size in levels:
        total += size
        notional += price * size
        points.append(DepthPoint(price, size, total, notional))
    return points
