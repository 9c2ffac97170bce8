"""Which BitMEX bin serves each platform timeframe, and exact roll-ups for the rest.

BitMEX buckets only 1m, 5m, 1h and 1d. 15m is three 5m buckets and 4h four 1h buckets, aligned
to UTC multiples of the timeframe; a group is emitted only when every constituent bucket is
present, so a rolled candle is exactly what the venue would have bucketed (volumes and trade
counts add, open/close from the first/last, high/low the extremes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Ohlcv, Timeframe

# platform timeframe -> (BitMEX binSize, buckets per candle)
SOURCE: dict[Timeframe, tuple[Timeframe, int]] = {
    "1m": ("1m", 1),
    "5m": ("5m", 1),
    "15m": ("5m", 3),
    "1h": ("1h", 1),
    "4h": ("1h", 4),
    "1d": ("1d", 1),
}


def align_up(when: datetime, timeframe: Timeframe) -> datetime:
    """The first interval start of ``timeframe`` at or after ``when``."""
    step = TIMEFRAME_SECONDS[timeframe]
    seconds = when.timestamp()
    start = -(-int(seconds) // step) * step
    return datetime.fromtimestamp(start, tz=UTC)


def roll_up(buckets: Sequence[Ohlcv], timeframe: Timeframe) -> list[Ohlcv]:
    """Complete, aligned groups of ``buckets`` (ascending, one bin) as ``timeframe`` candles."""
    source, per = SOURCE[timeframe]
    if per == 1:
        return list(buckets)
    step = TIMEFRAME_SECONDS[timeframe]
    child = timedelta(seconds=TIMEFRAME_SECONDS[source])
    groups: dict[datetime, list[Ohlcv]] = {}
    for candle in buckets:
        start = datetime.fromtimestamp(int(candle.open_time.timestamp()) // step * step, tz=UTC)
        groups.setdefault(start, []).append(candle)
    result: list[Ohlcv] = []
    for start in sorted(groups):
        group = sorted(groups[start], key=lambda c: c.open_time)
        expected = [start + i * child for i in range(per)]
        if [c.open_time for c in group] != expected:
            continue  # incomplete (edge of the page, or a missing bucket): never a guess
        quote = [c.quote_volume for c in group]
        counts = [c.trade_count for c in group]
        result.append(
            replace(
                group[0],
                timeframe=timeframe,
                open_time=start,
                high=max(c.high for c in group),
                low=min(c.low for c in group),
                close=group[-1].close,
                base_volume=sum((c.base_volume for c in group), Decimal(0)),
                quote_volume=None
                if None in quote
                else sum((q for q in quote if q is not None), Decimal(0)),
                trade_count=None if None in counts else sum(n for n in counts if n is not None),
            )
        )
    return result
