"""Public market data in the platform's vocabulary: the contract between adapters and services.

Every adapter (the generic ccxt / ccxt.pro one, native ones such as Binance on ``websockets``)
turns one venue's dialect into these records; the market-data service sees nothing else.
Prices and amounts are ``Decimal`` (exact, parsed from the venue's text — never via float),
symbols are ``BASE/QUOTE`` with aliases resolved, times are timezone-aware UTC, and every record
carries both the venue's time (``None`` when the venue sends none) and the time we received it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

TakerSide = Literal["buy", "sell"]
Channel = Literal["trades", "ticker"]
Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
TIMEFRAMES: tuple[Timeframe, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
TIMEFRAME_SECONDS: dict[Timeframe, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14_400,
    "1d": 86_400,
}


@dataclass(frozen=True, slots=True)
class Trade:
    exchange: str  # ccxt id: "binance", "kraken", ...
    symbol: str  # "BTC/USDT"
    trade_id: str  # the venue's id, unique per instrument
    price: Decimal
    amount: Decimal  # base quantity
    taker_side: TakerSide | None  # None when the venue does not say
    exchange_time: datetime | None
    received_time: datetime


@dataclass(frozen=True, slots=True)
class Ticker:
    exchange: str
    symbol: str
    bid: Decimal | None
    bid_size: Decimal | None
    ask: Decimal | None
    ask_size: Decimal | None
    last: Decimal | None
    open_24h: Decimal | None
    high_24h: Decimal | None
    low_24h: Decimal | None
    base_volume_24h: Decimal | None
    quote_volume_24h: Decimal | None
    exchange_time: datetime | None
    received_time: datetime


@dataclass(frozen=True, slots=True)
class Ohlcv:
    """A candle as a venue's REST history serves it (always a closed interval)."""

    exchange: str
    symbol: str
    timeframe: Timeframe
    open_time: datetime  # start of the interval, UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    quote_volume: Decimal | None
    trade_count: int | None


MarketEvent = Trade | Ticker
Emit = Callable[[MarketEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ErrorNote:
    """The last error counted: its kind (``rest``, ``stream``, ``parse`` …), text and time."""

    kind: str
    message: str
    time: datetime


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """What ``GET /v1/status`` shows per exchange."""

    exchange: str
    connected: bool
    last_message_age_s: float | None  # None before the first message
    messages_per_second: float  # over the last minute
    errors: int  # since start: disconnects, parse failures, REST errors
    stale: bool  # no message for longer than the staleness threshold
    circuit_open: bool  # the exchange's circuit breaker refuses calls now
    rate_limit_headroom: float | None  # 0..1 of the venue's request budget left; None if unknown
    detail: str = ""
    last_error: ErrorNote | None = None  # the newest of the ``errors`` counted


class MarketDataAdapter(Protocol):
    """One venue. REST history and live streams; reconnects, resubscribes and rate-limits itself.

    ``fetch_*`` return records in ascending time order and raise
    ``eip.exchanges.contract.errors`` exceptions rather than venue or library exceptions.
    """

    exchange: str

    async def load_markets(self) -> list[str]:
        """The normalized symbols the venue lists."""
        ...

    async def fetch_ticker(self, symbol: str) -> Ticker: ...

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        """Trades at or after ``since`` (oldest first), at most ``limit``."""
        ...

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        """Closed candles whose interval starts at or after ``since`` (oldest first)."""
        ...

    async def subscribe(self, channel: Channel, symbol: str) -> None: ...

    async def unsubscribe(self, channel: Channel, symbol: str) -> None: ...

    async def run(self, emit: Emit) -> None:
        """Stream every subscription through ``emit`` until cancelled, reconnecting itself."""
        ...

    def status(self) -> StreamStatus: ...

    async def close(self) -> None: ...
