"""Trailing stops, exchange-neutral: a trigger that follows the best trade price since the stop
was activated and fires when the price comes back by a set distance from that extreme.

A sell trails the highest price (it fires on a fall), a buy the lowest (it fires on a rise),
whatever its stop type; the type only decides when an activation price counts as reached (the
same rule as a plain stop of that type). Without an activation price the stop is active from
the last trade before it was placed (or from the next trade if there was none).

The distance is an ``Offset``: an absolute price distance (Kraken ``+50``) or basis points
(Binance ``trailingDelta`` in BIPS, Kraken ``+2%`` = 200 bps). The comparison is exact (Decimal):
a sell with extreme E and offset d fires on the first trade at or below E - d (or E * (1 - d /
10,000)). Every trade price is followed, not only the last one of an operation, so a sweep
that makes a new extreme and retraces from it fires the stop.

A trailing stop-limit gets its limit price either given up front (Binance) or as an offset
from the trigger level when it fires (Kraken ``price2``), rounded to the tick by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

BPS = Decimal(10_000)


class OffsetUnit(StrEnum):
    PRICE = "price"  # an absolute price distance
    BPS = "bps"  # basis points of the reference price (100 bps = 1 %)


@dataclass(frozen=True)
class Offset:
    amount: Decimal
    unit: OffsetUnit = OffsetUnit.PRICE

    def shift(self, price: Decimal, direction: int) -> Decimal:
        """``price`` moved by this offset up (``direction`` 1) or down (-1)."""
        if self.unit is OffsetUnit.BPS:
            return price * (1 + direction * self.amount / BPS)
        return price + direction * self.amount


@dataclass(frozen=True)
class Trailing:
    """How a stop order trails (on top of its stop type, side and quantity)."""

    offset: Offset  # how far the price must come back from the extreme; amount > 0
    activation_price: Decimal | None = None  # tracking starts once a trade reaches it
    # Trailing stop-limit whose limit price is set when it fires: the trigger level moved by
    # this (signed: a negative amount is below the trigger level).
    limit_offset: Offset | None = None

    def trigger_level(self, side: str, extreme: Decimal) -> Decimal:
        """Where a trade fires the stop, for ``side`` "SELL" or "BUY"."""
        return self.offset.shift(extreme, -1 if side == "SELL" else 1)

    def limit_price(self, trigger_level: Decimal) -> Decimal | None:
        if self.limit_offset is None:
            return None
        return self.limit_offset.shift(trigger_level, 1)


def follow(side: str, trailing: Trailing, extreme: Decimal, price: Decimal) -> tuple[Decimal, bool]:
    """One trade at ``price`` seen by an active trailing stop: its new extreme, and whether the
    trade fired it."""
    if side == "SELL":
        if price > extreme:
            return price, False
        return extreme, price <= trailing.trigger_level(side, extreme)
    if price < extreme:
        return price, False
    return extreme, price >= trailing.trigger_level(side, extreme)
