"""What a market order would pay: walk the opposite side for a size (or a notional to spend)
and compare the average fill price with the best price and the mid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from eip.book import Level

Side = Literal["buy", "sell"]
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FillEstimate:
    side: Side
    filled_size: Decimal
    filled_notional: Decimal
    average_price: Decimal | None  # None when nothing could be filled
    best_price: Decimal | None
    worst_price: Decimal | None  # the last level touched
    levels_used: int
    # False when the book is too thin for the request; ``shortfall`` says how much is missing
    # (in size, or in notional when a notional was asked for)
    complete: bool
    shortfall: Decimal
    # positive = worse than the reference for the taker (paid more / received less)
    slippage_vs_best: Decimal | None
    slippage_vs_best_bps: Decimal | None
    slippage_vs_mid: Decimal | None
    slippage_vs_mid_bps: Decimal | None


def estimate_fill(
    bids: Sequence[Level],
    asks: Sequence[Level],
    side: Side,
    size: Decimal | None = None,
    notional: Decimal | None = None,
) -> FillEstimate:
    """A buy takes the asks, a sell the bids, best first. Give exactly one of ``size`` (base
    amount) or ``notional`` (quote amount), positive."""
    if (size is None) == (notional is None):
        raise ValueError("give exactly one of size or notional")
    wanted = size if size is not None else notional
    assert wanted is not None
    if not wanted.is_finite() or wanted <= 0:
        raise ValueError("size and notional must be positive")
    levels = asks if side == "buy" else bids
    remaining = wanted
    filled = spent = Decimal(0)
    used = 0
    worst: Decimal | None = None
    for price, available in levels:
        if remaining <= 0:
            break
        if size is not None:
            take = min(available, remaining)
            cost = take * price
            remaining -= take
        elif available * price >= remaining:
            # the last level: spend exactly what is left (a rounded quotient could leave dust)
            take, cost, remaining = remaining / price, remaining, Decimal(0)
        else:
            take, cost = available, available * price
            remaining -= cost
        filled += take
        spent += cost
        used += 1
        worst = price
    remaining = max(remaining, Decimal(0))
    average = spent / filled if filled else None
    best = levels[0][0] if levels else None
    mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else None
    vs_best = _slippage(side, average, best)
    vs_mid = _slippage(side, average, mid)
    return FillEstimate(
        side=side,
        filled_size=filled,
        filled_notional=spent,
        average_price=average,
        best_price=best,
        worst_price=worst,
        levels_used=used,
        complete=remaining == 0,
        shortfall=remaining,
        slippage_vs_best=vs_best,
        slippage_vs_best_bps=_bps(vs_best, best),
        slippage_vs_mid=vs_mid,
        slippage_vs_mid_bps=_bps(vs_mid, mid),
    )


def _slippage(side: Side, average: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if average is None or reference is None:
        return None
    return average - reference if side == "buy" else reference - average


def _bps(slippage: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if slippage is None or not reference:
        return None
    return slippage / reference * BPS
