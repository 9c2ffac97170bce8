"""Candle indicators, updated once per closed candle in O(1): SMA, EMA, RSI (Wilder) and Bollinger
bands, all in ``Decimal``.

What is subtle:

- Every figure runs in one decimal context (``CONTEXT``, 40 significant digits) so that a sum of
  prices is exact: the SMA is the exact mean of its window rounded once, and Bollinger's variance
  is ``(n·Σx² - (Σx)²) / n²``, exact until that one division (a running ``Σx²/n - mean²`` would
  cancel digits). Only the EMA and RSI recurrences round at every step, like any implementation
  of them; the reference test allows for that at the 1e-25 level.
- The EMA is seeded with the SMA of its first ``period`` closes (the convention of TA-Lib and of
  most charting tools); RSI follows Wilder: the first averages are plain means of the first
  ``period`` changes, then ``avg = (avg·(period - 1) + x) / period``. An RSI with no loss is 100
  (and 50 when the price never moved).
- ``update`` answers ``None`` until the indicator has enough closes; a condition on it is then
  simply not true yet.
- Only closed candles feed an indicator (an in-progress candle's close is not final): a candle
  must be handed over exactly once, which the rule engine ensures by its open time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Literal, Protocol

CONTEXT = Context(prec=40)
IndicatorKind = Literal["sma", "ema", "rsi", "bb_upper", "bb_middle", "bb_lower"]
_HUNDRED = Decimal(100)


class Indicator(Protocol):
    def update(self, close: Decimal) -> Decimal | None:
        """Take the next closed candle's close; the indicator's value after it, if defined."""
        ...

    @property
    def value(self) -> Decimal | None: ...


class Sma:
    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError("an SMA period is at least 1")
        self.period = period
        self._window: deque[Decimal] = deque()
        self._sum = Decimal(0)
        self.value: Decimal | None = None

    def update(self, close: Decimal) -> Decimal | None:
        c = CONTEXT
        self._window.append(close)
        self._sum = c.add(self._sum, close)
        if len(self._window) > self.period:
            self._sum = c.subtract(self._sum, self._window.popleft())
        if len(self._window) == self.period:
            self.value = c.divide(self._sum, self.period)
        return self.value


class Ema:
    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError("an EMA period is at least 1")
        self.period = period
        self.alpha = CONTEXT.divide(Decimal(2), Decimal(period + 1))
        self._seed = Sma(period)
        self.value: Decimal | None = None

    def update(self, close: Decimal) -> Decimal | None:
        c = CONTEXT
        if self.value is None:
            self.value = self._seed.update(close)
        else:
            self.value = c.add(self.value, c.multiply(self.alpha, c.subtract(close, self.value)))
        return self.value


class Rsi:
    def __init__(self, period: int = 14) -> None:
        if period < 1:
            raise ValueError("an RSI period is at least 1")
        self.period = period
        self._previous: Decimal | None = None
        self._changes = 0
        self._gain = Decimal(0)  # sums until `period` changes were seen, then Wilder averages
        self._loss = Decimal(0)
        self.value: Decimal | None = None

    def update(self, close: Decimal) -> Decimal | None:
        c = CONTEXT
        previous, self._previous = self._previous, close
        if previous is None:
            return None
        change = c.subtract(close, previous)
        gain = change if change > 0 else Decimal(0)
        loss = -change if change < 0 else Decimal(0)
        self._changes += 1
        n = self.period
        if self._changes <= n:
            self._gain = c.add(self._gain, gain)
            self._loss = c.add(self._loss, loss)
            if self._changes < n:
                return None
            self._gain = c.divide(self._gain, n)
            self._loss = c.divide(self._loss, n)
        else:
            self._gain = c.divide(c.add(c.multiply(self._gain, n - 1), gain), n)
            self._loss = c.divide(c.add(c.multiply(self._loss, n - 1), loss), n)
        self.value = rsi_of(self._gain, self._loss)
        return self.value


def rsi_of(average_gain: Decimal, average_loss: Decimal) -> Decimal:
    c = CONTEXT
    if average_loss == 0:
        return _HUNDRED if average_gain > 0 else Decimal(50)
    rs = c.divide(average_gain, average_loss)
    return c.subtract(_HUNDRED, c.divide(_HUNDRED, c.add(Decimal(1), rs)))


@dataclass(frozen=True, slots=True)
class Bands:
    lower: Decimal
    middle: Decimal
    upper: Decimal


class Bollinger:
    """Middle = SMA(period); upper/lower = middle ± width · the population standard deviation of
    the window (Bollinger's own definition divides by n, not n - 1)."""

    def __init__(self, period: int = 20, width: Decimal = Decimal(2)) -> None:
        if period < 1:
            raise ValueError("a Bollinger period is at least 1")
        self.period = period
        self.width = width
        self._window: deque[Decimal] = deque()
        self._sum = Decimal(0)
        self._squares = Decimal(0)
        self.bands: Bands | None = None

    def update_bands(self, close: Decimal) -> Bands | None:
        c = CONTEXT
        self._window.append(close)
        self._sum = c.add(self._sum, close)
        self._squares = c.add(self._squares, c.multiply(close, close))
        if len(self._window) > self.period:
            old = self._window.popleft()
            self._sum = c.subtract(self._sum, old)
            self._squares = c.subtract(self._squares, c.multiply(old, old))
        n = len(self._window)
        if n < self.period:
            return None
        middle = c.divide(self._sum, n)
        spread = c.subtract(c.multiply(self._squares, n), c.multiply(self._sum, self._sum))
        variance = c.divide(max(spread, Decimal(0)), n * n)
        deviation = c.multiply(self.width, variance.sqrt(c))
        self.bands = Bands(c.subtract(middle, deviation), middle, c.add(middle, deviation))
        return self.bands


class BollingerLine:
    """One line of a Bollinger band as an ``Indicator`` (conditions compare one value)."""

    def __init__(
        self,
        line: Literal["lower", "middle", "upper"],
        period: int = 20,
        width: Decimal = Decimal(2),
    ) -> None:
        self.line = line
        self._bands = Bollinger(period, width)
        self.value: Decimal | None = None

    def update(self, close: Decimal) -> Decimal | None:
        bands = self._bands.update_bands(close)
        self.value = None if bands is None else getattr(bands, self.line)
        return self.value


def make_indicator(kind: IndicatorKind, period: int, width: Decimal = Decimal(2)) -> Indicator:
    if kind == "sma":
        return Sma(period)
    if kind == "ema":
        return Ema(period)
    if kind == "rsi":
        return Rsi(period)
    line: Literal["lower", "middle", "upper"] = (
        "lower" if kind == "bb_lower" else "upper" if kind == "bb_upper" else "middle"
    )
    return BollingerLine(line, period, width)
