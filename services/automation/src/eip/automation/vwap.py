"""VWAP slicing: a parent quantity cut into slices weighted by the market's usual volume at those
times of day, so the order trades more when the market usually does.

The volume profile comes from the candles the platform publishes: the closed 1-minute candles
of ``md.candles.v1`` (the market-data service's candle stage; the topic keeps 30 days), read
back as the indicators' warm-up does. Slice ``i``'s weight is the base volume of the candles
that opened inside slice ``i``'s window of time on each of the ``profile_days`` days before the
schedule started (the same clock times, one, two … days earlier).

What is subtle:

- The weights are fixed once per schedule (stored with it), so every instance — and every
  restart — cuts the same slices; the first instance to compute them stores them
  (compare-and-set on an empty column).
- A slice is the remaining quantity times its weight over the weight still to come, not the
  parent times its weight: what a participation cap held back, or a slice sent late, is made up
  by the later slices in proportion, and the last slice takes exactly what is left.
- No candles in the window (a new market, a topic emptied): the weights are equal, i.e. TWAP,
  and the schedule says so (``profile``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from eip.market_data.candles.builder import Candle

PROFILE_TIMEFRAME = "1m"
_DAY = timedelta(days=1)


def volume_profile(
    candles: Iterable[tuple[datetime, Decimal]],
    start: datetime,
    interval_s: Decimal,
    slices: int,
    days: int,
) -> list[Decimal]:
    """Each slice's weight: the volume of ``candles`` (open time, base volume) that opened in
    the slice's window shifted back by 1 … ``days`` days."""
    weights = [Decimal(0)] * slices
    span = interval_s * slices
    for opened, volume in candles:
        for day in range(1, days + 1):
            offset = Decimal(str((opened + day * _DAY - start).total_seconds()))
            if 0 <= offset < span:
                weights[int(offset / interval_s)] += volume
    return weights


def slice_quantity(remaining: Decimal, weights: list[Decimal], index: int, lot: Decimal) -> Decimal:
    """Slice ``index``'s share of ``remaining``: its weight over the weight of it and every
    later slice (equal shares when those weigh nothing), cut down to a multiple of ``lot``
    (the venue's quantity step); the last slice takes all."""
    if index >= len(weights) - 1:
        return remaining
    ahead = sum(weights[index:], Decimal(0))
    # nothing weighs from here on: equal shares of what is left
    share = remaining * weights[index] / ahead if ahead > 0 else remaining / (len(weights) - index)
    return (share / lot).to_integral_value(ROUND_DOWN) * lot


class VolumeCandles:
    """Of a read-back of ``md.candles.v1``: the closed 1-minute candles of one market, as
    (open time, base volume), the last record of an interval winning."""

    def __init__(self, exchange: str, symbol: str) -> None:
        self.market = (exchange, symbol)
        self._volumes: dict[datetime, Decimal] = {}

    def add(self, candle: Candle) -> None:
        key = candle.key
        market = (key.exchange, key.symbol)
        if candle.closed and market == self.market and key.timeframe == PROFILE_TIMEFRAME:
            self._volumes[candle.open_time] = candle.base_volume

    def candles(self) -> list[Candle]:
        return []  # only volumes() is read

    def volumes(self) -> list[tuple[datetime, Decimal]]:
        return sorted(self._volumes.items())
