"""Interval arithmetic on UTC datetimes: candle buckets are aligned to the Unix epoch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Timeframe

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def step(timeframe: Timeframe) -> timedelta:
    return timedelta(seconds=TIMEFRAME_SECONDS[timeframe])


def floor_to(moment: datetime, timeframe: Timeframe) -> datetime:
    seconds = TIMEFRAME_SECONDS[timeframe]
    elapsed = (moment - _EPOCH) // timedelta(seconds=seconds)
    return _EPOCH + timedelta(seconds=elapsed * seconds)


def ceil_to(moment: datetime, timeframe: Timeframe) -> datetime:
    floor = floor_to(moment, timeframe)
    return floor if floor == moment else floor + step(timeframe)


def open_times(start: datetime, end: datetime, timeframe: Timeframe) -> list[datetime]:
    """Open times of the intervals that start in [start, end)."""
    moment, width, times = ceil_to(start, timeframe), step(timeframe), []
    while moment < end:
        times.append(moment)
        moment += width
    return times
