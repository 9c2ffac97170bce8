"""BitMEX payloads → the market-data contract.

BitMEX sends numbers as JSON numbers, so bodies are decoded with ``parse_float=Decimal``: the
digits on the wire become the Decimal, never a binary float. Amounts are base quantities:
``homeNotional`` (in the underlying, e.g. XBT) rather than ``size``, which counts contracts (USD
for the inverse ``XBTUSD``). Bucket timestamps are the bucket's CLOSE time; ``open_time`` is
that minus the bin.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eip.exchanges.contract.market_data import (
    TIMEFRAME_SECONDS,
    Ohlcv,
    TakerSide,
    Ticker,
    Timeframe,
    Trade,
)

EXCHANGE = "bitmex"


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def utc(text: Any) -> datetime:
    """``2024-01-02T03:04:05.678Z`` → aware UTC datetime."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO timestamp, got {text!r}")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without zone: {text!r}")
    return parsed.astimezone(UTC)


def dec(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise ValueError(f"expected a number, got {value!r}")
    return Decimal(value)


def opt(raw: Mapping[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    return None if value is None else dec(value)


def _side(value: Any) -> TakerSide | None:
    if value == "Buy":
        return "buy"
    if value == "Sell":
        return "sell"
    return None


def trade(symbol: str, raw: Mapping[str, Any], received: datetime) -> Trade:
    """A ``/trade`` row or a ``trade`` table row (same fields)."""
    home = raw.get("homeNotional")
    return Trade(
        exchange=EXCHANGE,
        symbol=symbol,
        trade_id=str(raw["trdMatchID"]),
        price=dec(raw["price"]),
        amount=dec(home) if home is not None else dec(raw["size"]),
        taker_side=_side(raw.get("side")),
        exchange_time=utc(raw["timestamp"]),
        received_time=received,
    )


def bucket(symbol: str, timeframe: Timeframe, raw: Mapping[str, Any]) -> Ohlcv:
    """A ``/trade/bucketed`` row; its ``timestamp`` closes the interval."""
    close_time = utc(raw["timestamp"])
    trades = raw.get("trades")
    return Ohlcv(
        exchange=EXCHANGE,
        symbol=symbol,
        timeframe=timeframe,
        open_time=close_time - timedelta(seconds=TIMEFRAME_SECONDS[timeframe]),
        open=dec(raw["open"]),
        high=dec(raw["high"]),
        low=dec(raw["low"]),
        close=dec(raw["close"]),
        base_volume=dec(raw["homeNotional"]) if raw.get("homeNotional") is not None else dec(0),
        quote_volume=opt(raw, "foreignNotional"),
        trade_count=None if trades is None else int(trades),
    )


class TickerState:
    """One instrument's ``instrument`` row (partial, then field updates) and latest ``quote``,
    folded into a ``Ticker``. REST ``/instrument`` rows go through the same fold."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.fields: dict[str, Any] = {}
        self._exchange_time: datetime | None = None

    def on_instrument(self, raw: Mapping[str, Any], received: datetime) -> Ticker:
        self.fields.update(raw)
        if "timestamp" in raw:
            self._exchange_time = utc(raw["timestamp"])
        return self.ticker(received)

    def on_quote(self, raw: Mapping[str, Any], received: datetime) -> Ticker:
        for key in ("bidPrice", "askPrice"):
            if key in raw:
                self.fields[key] = raw[key]
        self._exchange_time = utc(raw["timestamp"])
        return self.ticker(received)

    def ticker(self, received: datetime) -> Ticker:
        f = self.fields
        # sizes on the book are contracts, not base quantity: reported as unknown
        return Ticker(
            exchange=EXCHANGE,
            symbol=self.symbol,
            bid=opt(f, "bidPrice"),
            bid_size=None,
            ask=opt(f, "askPrice"),
            ask_size=None,
            last=opt(f, "lastPrice"),
            open_24h=opt(f, "prevPrice24h"),
            high_24h=opt(f, "highPrice"),
            low_24h=opt(f, "lowPrice"),
            base_volume_24h=opt(f, "homeNotional24h"),
            quote_volume_24h=opt(f, "foreignNotional24h"),
            exchange_time=self._exchange_time,
            received_time=received,
        )
