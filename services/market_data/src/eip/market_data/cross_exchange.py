"""The cross-exchange view of one symbol: best bid and ask across exchanges, the volume-weighted
price of recent trades, and what each exchange contributes.

Freshness is judged per exchange and symbol by the newest ticker or trade we *received* (our
clock, so a venue with a skewed clock cannot look fresh). An exchange quiet for longer than
``stale_after_s`` is left out of every figure and listed under ``excluded`` with its age.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from eip.exchanges.contract.market_data import Ticker, Trade

RATIO_PLACES = Decimal("1e-12")


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A quotient cut to 12 decimal places: division would otherwise run to 28 digits."""
    if not denominator:
        return None
    return (numerator / denominator).quantize(RATIO_PLACES).normalize()


@dataclass(frozen=True, slots=True)
class Quote:
    exchange: str
    price: Decimal
    size: Decimal | None


@dataclass(frozen=True, slots=True)
class Contribution:
    exchange: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    volume: Decimal  # base volume traded within the window
    volume_share: Decimal | None  # of the symbol's volume across fresh exchanges
    vwap: Decimal | None
    received_time: datetime
    exchange_time: datetime | None
    age_s: float


@dataclass(frozen=True, slots=True)
class Excluded:
    exchange: str
    age_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class CrossView:
    symbol: str
    as_of: datetime
    best_bid: Quote | None
    best_ask: Quote | None
    vwap: Decimal | None
    volume: Decimal
    window_s: float
    contributions: list[Contribution]
    excluded: list[Excluded]


@dataclass(slots=True)
class _Venue:
    ticker: Ticker | None = None
    trades: deque[Trade] = field(default_factory=deque)
    received_time: datetime | None = None
    exchange_time: datetime | None = None


class CrossExchangeView:
    def __init__(self, stale_after_s: float, window_s: float) -> None:
        self.stale_after_s = stale_after_s
        self.window_s = window_s
        self._venues: dict[str, dict[str, _Venue]] = {}  # symbol -> exchange -> venue

    def on_ticker(self, ticker: Ticker) -> None:
        venue = self._venue(ticker.symbol, ticker.exchange)
        venue.ticker = ticker
        self._touch(venue, ticker.received_time, ticker.exchange_time)

    def on_trade(self, trade: Trade) -> None:
        venue = self._venue(trade.symbol, trade.exchange)
        venue.trades.append(trade)
        self._touch(venue, trade.received_time, trade.exchange_time)
        self._prune(venue, trade.received_time)

    def symbols(self) -> list[str]:
        return sorted(self._venues)

    def forget(self, exchange: str, symbol: str) -> None:
        venues = self._venues.get(symbol, {})
        venues.pop(exchange, None)
        if not venues:
            self._venues.pop(symbol, None)

    def view(self, symbol: str, now: datetime) -> CrossView | None:
        """None when no exchange ever sent anything for the symbol."""
        venues = self._venues.get(symbol)
        if not venues:
            return None
        fresh: list[tuple[str, _Venue, float]] = []
        excluded: list[Excluded] = []
        for exchange, venue in sorted(venues.items()):
            assert venue.received_time is not None  # set by whatever created the entry
            age = (now - venue.received_time).total_seconds()
            if age > self.stale_after_s:
                excluded.append(Excluded(exchange, age, f"no data for {age:.1f}s"))
            else:
                self._prune(venue, now)
                fresh.append((exchange, venue, age))
        total_volume = sum((t.amount for _, v, _ in fresh for t in v.trades), Decimal(0))
        total_notional = sum(
            (t.amount * t.price for _, v, _ in fresh for t in v.trades), Decimal(0)
        )
        best_bid: Quote | None = None
        best_ask: Quote | None = None
        contributions = []
        for exchange, venue, age in fresh:
            t = venue.ticker
            bid = t.bid if t else None
            ask = t.ask if t else None
            if t is not None and bid is not None and (best_bid is None or bid > best_bid.price):
                best_bid = Quote(exchange, bid, t.bid_size)
            if t is not None and ask is not None and (best_ask is None or ask < best_ask.price):
                best_ask = Quote(exchange, ask, t.ask_size)
            volume = sum((tr.amount for tr in venue.trades), Decimal(0))
            notional = sum((tr.amount * tr.price for tr in venue.trades), Decimal(0))
            last = venue.trades[-1].price if venue.trades else (t.last if t else None)
            assert venue.received_time is not None
            contributions.append(
                Contribution(
                    exchange,
                    bid,
                    ask,
                    last,
                    volume,
                    _ratio(volume, total_volume),
                    _ratio(notional, volume),
                    venue.received_time,
                    venue.exchange_time,
                    age,
                )
            )
        return CrossView(
            symbol,
            now,
            best_bid,
            best_ask,
            _ratio(total_notional, total_volume),
            total_volume,
            self.window_s,
            contributions,
            excluded,
        )

    def _venue(self, symbol: str, exchange: str) -> _Venue:
        venues = self._venues.get(symbol)
        if venues is None:
            venues = self._venues[symbol] = {}
        venue = venues.get(exchange)
        if venue is None:  # not setdefault: that builds a _Venue (and its deque) per event
            venue = venues[exchange] = _Venue()
        return venue

    @staticmethod
    def _touch(venue: _Venue, received: datetime, exchange_time: datetime | None) -> None:
        if venue.received_time is None or received >= venue.received_time:
            venue.received_time = received
            venue.exchange_time = exchange_time

    def _prune(self, venue: _Venue, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.window_s)
        trades = venue.trades
        while trades and trades[0].received_time < horizon:
            trades.popleft()
