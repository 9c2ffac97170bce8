"""Binance spot payloads → the market-data contract. Numbers are taken from Binance's strings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.contract.market_data import Ohlcv, Ticker, Timeframe, Trade

EXCHANGE = "binance"


def ms_to_utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def dec(text: Any) -> Decimal:
    if not isinstance(text, str):
        raise ValueError(f"expected a decimal string, got {text!r}")
    return Decimal(text)


def agg_trade(symbol: str, raw: Mapping[str, Any], received: datetime) -> Trade:
    """One ``aggTrade`` (REST ``/api/v3/aggTrades`` row or stream event: same short keys).

    ``m`` is "the buyer is the maker", so the taker sold.
    """
    return Trade(
        exchange=EXCHANGE,
        symbol=symbol,
        trade_id=str(raw["a"]),
        price=dec(raw["p"]),
        amount=dec(raw["q"]),
        taker_side="sell" if raw["m"] else "buy",
        exchange_time=ms_to_utc(int(raw["T"])),
        received_time=received,
    )


def kline(symbol: str, timeframe: Timeframe, row: Sequence[Any]) -> Ohlcv:
    """``[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, ...]``."""
    return Ohlcv(
        exchange=EXCHANGE,
        symbol=symbol,
        timeframe=timeframe,
        open_time=ms_to_utc(int(row[0])),
        open=dec(row[1]),
        high=dec(row[2]),
        low=dec(row[3]),
        close=dec(row[4]),
        base_volume=dec(row[5]),
        quote_volume=dec(row[7]),
        trade_count=int(row[8]),
    )


def _opt(raw: Mapping[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    return None if value is None else dec(value)


def rest_ticker(
    symbol: str,
    day: Mapping[str, Any],
    book: Mapping[str, Any] | None,
    received: datetime,
) -> Ticker:
    """``/api/v3/ticker/24hr`` (FULL) merged with ``/api/v3/ticker/bookTicker`` when given."""
    top = book if book is not None else day
    return Ticker(
        exchange=EXCHANGE,
        symbol=symbol,
        bid=_opt(top, "bidPrice"),
        bid_size=_opt(top, "bidQty"),
        ask=_opt(top, "askPrice"),
        ask_size=_opt(top, "askQty"),
        last=_opt(day, "lastPrice"),
        open_24h=_opt(day, "openPrice"),
        high_24h=_opt(day, "highPrice"),
        low_24h=_opt(day, "lowPrice"),
        base_volume_24h=_opt(day, "volume"),
        quote_volume_24h=_opt(day, "quoteVolume"),
        exchange_time=ms_to_utc(int(day["closeTime"])) if "closeTime" in day else None,
        received_time=received,
    )


class TickerMerger:
    """``@ticker`` (24 h statistics, once a second, with a top of book) and ``@bookTicker``
    (every top-of-book change, no event time on spot) folded into one ``Ticker`` per update."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._day: Mapping[str, Any] | None = None
        self._top: tuple[str, str, str, str] | None = None
        self._top_id = -1
        self._exchange_time: datetime | None = None

    def on_day(self, raw: Mapping[str, Any], received: datetime) -> Ticker:
        self._day = raw
        self._exchange_time = ms_to_utc(int(raw["E"]))
        if self._top_id < 0 and "b" in raw:  # until bookTicker speaks, the ticker's top
            self._top = (raw["b"], raw["B"], raw["a"], raw["A"])
        return self._ticker(received)

    def on_book(self, raw: Mapping[str, Any], received: datetime) -> Ticker:
        update_id = int(raw.get("u", 0))
        if update_id >= self._top_id:
            self._top_id = update_id
            self._top = (raw["b"], raw["B"], raw["a"], raw["A"])
        # bookTicker carries no event time: report none rather than a stale one
        self._exchange_time = None
        return self._ticker(received)

    def _ticker(self, received: datetime) -> Ticker:
        day = self._day or {}
        top = self._top
        return Ticker(
            exchange=EXCHANGE,
            symbol=self.symbol,
            bid=dec(top[0]) if top else None,
            bid_size=dec(top[1]) if top else None,
            ask=dec(top[2]) if top else None,
            ask_size=dec(top[3]) if top else None,
            last=_opt(day, "c"),
            open_24h=_opt(day, "o"),
            high_24h=_opt(day, "h"),
            low_24h=_opt(day, "l"),
            base_volume_24h=_opt(day, "v"),
            quote_volume_24h=_opt(day, "q"),
            exchange_time=self._exchange_time,
            received_time=received,
        )
