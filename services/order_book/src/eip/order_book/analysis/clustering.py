"""Where liquidity concentrates: levels aggregated into price buckets, and "walls".

Buckets: each level goes to the bucket of width ``width`` that contains it, bids rounded down
and asks rounded up to a multiple of the width (so a bucket's price is never better than the
levels in it). ``ticks`` converts a number of the book's price increments into a width.

Walls: a level whose size is at least ``factor`` times the median size of its neighbours, the
``window`` levels on each side of it on the same book side (fewer at the ends; the level itself
excluded). The median is robust to the wall's own size and to a second wall nearby.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from eip.book import Level

BookSide = Literal["bids", "asks"]


@dataclass(frozen=True, slots=True)
class Bucket:
    price: Decimal  # the bucket boundary nearest the other side of the book
    size: Decimal
    notional: Decimal
    levels: int


@dataclass(frozen=True, slots=True)
class Wall:
    price: Decimal
    size: Decimal
    neighbour_median: Decimal
    ratio: Decimal  # size / neighbour_median


def tick_width(price_decimals: int, ticks: int) -> Decimal:
    if ticks < 1:
        raise ValueError("ticks must be at least 1")
    return Decimal(ticks).scaleb(-price_decimals)


def buckets(levels: Sequence[Level], width: Decimal, side: BookSide) -> list[Bucket]:
    """Best first; total size is conserved."""
    if not width.is_finite() or width <= 0:
        raise ValueError("bucket width must be positive")
    rounding = ROUND_FLOOR if side == "bids" else ROUND_CEILING
    out: list[Bucket] = []
    for price, size in levels:
        boundary = (price / width).to_integral_value(rounding=rounding) * width
        if out and out[-1].price == boundary:
            last = out[-1]
            out[-1] = Bucket(
                boundary, last.size + size, last.notional + price * size, last.levels + 1
            )
        else:
            out.append(Bucket(boundary, size, price * size, 1))
    return out


def walls(levels: Sequence[Level], window: int, factor: Decimal) -> list[Wall]:
    """Best first."""
    if window < 1:
        raise ValueError("window must be at least 1")
    if not factor.is_finite() or factor <= 0:
        raise ValueError("factor must be positive")
    found: list[Wall] = []
    for i, (price, size) in enumerate(levels):
        neighbours = [s for _, s in levels[max(0, i - window) : i]]
        neighbours += [s for _, s in levels[i + 1 : i + 1 + window]]
        if not neighbours:
            continue
        median = statistics.median(neighbours)
        if median > 0 and size >= factor * median:
            found.append(Wall(price, size, median, size / median))
    return found
