"""Bybit API v2 ``realtime`` / ``realtime_public`` frames (2021 captures).

Inverse contracts streamed on ``wss://stream.bybit.com/realtime`` and linear (USDT) ones on
``/realtime_public``; both as ``{"topic": "trade.BTCUSD", "data": [...]}`` and
``{"topic": "instrument_info.100ms.BTCUSD", "type": "snapshot"|"delta", "data": ...}``.
ccxt 4.5.90 reads only v5 (``publicTrade.*``, ``tickers.*``), so v2 is read here, for
replaying old captures only; a v5 capture keeps going through ``CcxtReplay``.

Shapes from Bybit's v2 WebSocket docs (inverse "trade" / "instrument_info", linear
"trade" / "instrument_info"): numbers may be JSON numbers, so frames are re-read with
``parse_float=Decimal``; ``*_e4`` prices are integers scaled by 10^4, ``*_e6`` by 10^6.

Amounts are base quantities (the contract's ``Trade.amount``). Linear ``size`` already is;
an inverse contract is worth 1 USD, so ``size`` counts quote: amount = size / price, rounded
half-even to ``INVERSE_PLACES`` decimals (the division rarely terminates). The native BitMEX
adapter does the same for its inverse XBTUSD (it takes BitMEX's ``homeNotional``); ccxt's
v5 parse would report contracts instead, which is not a base quantity.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from eip.exchanges.bybit.book import (
    header_book_symbol,
    recorded_book_groups,
    recorded_book_settings,
    unread_book_topics,
)
from eip.exchanges.ccxt import parse as ccxt_parse
from eip.exchanges.ccxt.classify import bybit as v5_frame
from eip.exchanges.contract.market_data import TakerSide, Ticker, Trade
from eip.exchanges.machinery.capture import BookCaptureDialect, Capture, Entries
from eip.exchanges.machinery.replay.parser import Decoded, ReplayDialect
from eip.exchanges.machinery.replay.result import Channel

EXCHANGE = "bybit"
INVERSE_PLACES = Decimal("1e-12")
_DIVISION = Context(prec=50, rounding=ROUND_HALF_EVEN)
_SIDES: dict[str, TakerSide] = {"Buy": "buy", "Sell": "sell"}
_SCALES = {"_e4": Decimal("1e4"), "_e6": Decimal("1e6"), "_e8": Decimal("1e8")}
_TICKER_FIELDS = (
    "bid1_price",
    "ask1_price",
    "last_price",
    "high_price_24h",
    "low_price_24h",
    "prev_price_24h",
    "volume_24h",
    "turnover_24h",
)
_STABLE = ("USDT", "USDC")


def _topic(message: Any) -> tuple[Channel, str] | None:
    topic = message.get("topic") if isinstance(message, dict) else None
    if not isinstance(topic, str):
        return None
    parts = topic.split(".")
    if parts[0] == "trade" and len(parts) == 2:
        return "trades", parts[1]
    if parts[0] == "instrument_info" and len(parts) == 3:
        return "ticker", parts[2]
    return None


def is_v2(message: Any) -> bool:
    """``trade.X`` / ``instrument_info.100ms.X`` topics; v5 names them ``publicTrade.X`` /
    ``tickers.X``, and v2's ``trade.X`` rows carry ``trade_id`` where v5's carry ``i``."""
    found = _topic(message)
    if found is None:
        return False
    if found[0] == "ticker":
        return True
    rows = message.get("data")
    return (
        isinstance(rows, list)
        and bool(rows)
        and isinstance(rows[0], dict)
        and "trade_id" in rows[0]
    )


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        # a float here means the frame was decoded without parse_float=Decimal
        raise TypeError(f"not an exact number in a Bybit v2 frame: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    return ccxt_parse.to_decimal(value)


def _scaled(raw: dict[str, Any], name: str) -> Decimal | None:
    """``name`` as a decimal, or ``name_e4`` (and the like) divided exactly."""
    if raw.get(name) is not None:
        return _decimal(raw[name])
    for suffix, scale in _SCALES.items():
        value = raw.get(name + suffix)
        if value is not None:
            return _plain(_decimal(value) / scale)
    return None


def _plain(value: Decimal) -> Decimal:
    """611650000 / 10^4 is 61165.0000: trailing zeros dropped, never into exponent form."""
    reduced = value.normalize()
    return reduced.quantize(Decimal(1)) if reduced.as_tuple().exponent > 0 else reduced  # type: ignore[operator]


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _merge(state: dict[str, Any], row: dict[str, Any]) -> None:
    """A delta may change ``last_price_e4`` alone where the snapshot carried ``last_price``
    too: the other form of a changed field is dropped so that no stale value is read."""
    for key in row:
        for suffix in _SCALES:
            if key.endswith(suffix):
                state.pop(key[: -len(suffix)], None)
            else:
                state.pop(key + suffix, None)
    state.update(row)


class Symbols:
    """Venue name → unified symbol. Perpetuals only: ``BTCUSD`` (inverse, settled in BTC) is
    ``BTC/USD:BTC``, ``BTCUSDT`` (linear) ``BTC/USDT:USDT``. Base/quote come from a recorded
    ``/v2/public/symbols`` body, else from the header's ``BTC-USD`` style symbols."""

    def __init__(self, capture: Capture) -> None:
        self.pairs: dict[str, tuple[str, str]] = {}
        for symbols in capture.config.values():
            for name in symbols:
                base, _, quote = name.partition("-")
                if base and quote and "-" not in quote:
                    self.pairs[base + quote] = (base, quote)
        for url, body in capture.http.items():
            if "/v2/public/symbols" in url:
                self._learn(json.loads(body))

    def _learn(self, body: Any) -> None:
        rows = body.get("result") if isinstance(body, dict) else None
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("base_currency") and row.get("quote_currency"):
                self.pairs[str(row["name"])] = (
                    str(row["base_currency"]),
                    str(row["quote_currency"]),
                )

    def inverse(self, name: str) -> bool:
        return self._pair(name)[1] not in _STABLE

    def _pair(self, name: str) -> tuple[str, str]:
        pair = self.pairs.get(name)
        if pair is None:
            raise ValueError(f"Bybit instrument {name!r} not described in the capture")
        if name != pair[0] + pair[1]:
            # dated futures (BTCUSDU21) would need their expiry: not a perpetual
            raise ValueError(f"Bybit instrument {name!r} is not a perpetual")
        return pair

    def unified(self, name: str) -> str:
        base, quote = self._pair(name)
        settle = quote if quote in _STABLE else base
        return ccxt_parse.normalize_symbol(f"{base}/{quote}:{settle}")


def _trade_time(row: dict[str, Any]) -> datetime:
    if row.get("trade_time_ms") is not None:
        return _ms(row["trade_time_ms"])
    return _iso(str(row["timestamp"]))


class BybitV2Replay:
    def __init__(self, capture: Capture) -> None:
        self.symbols = Symbols(capture)
        self.state: dict[str, dict[str, Any]] = {}  # instrument → instrument_info fields

    def classify(self, message: Any) -> tuple[Channel, str] | None:
        # a v5 trade/ticker frame in a v2 capture is still a trade/ticker frame: counted, and
        # reported as not understood by ``parse`` rather than silently skipped
        return _topic(message) if is_v2(message) else v5_frame(message)

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        found = self.classify(message)
        if found is None:
            return []
        if not is_v2(message):
            raise ValueError("not a v2 trade/instrument_info frame (v5 shape?) in a v2 capture")
        channel, name = found
        if channel == "trades":
            return list(self.trades(name, message["data"], received))
        ticker = self.ticker(name, message, received)
        return [] if ticker is None else [ticker]

    def trades(self, name: str, rows: list[Any], received: datetime) -> list[Trade]:
        symbol = self.symbols.unified(name)
        inverse = self.symbols.inverse(name)
        out = []
        for row in rows:
            price = _decimal(row["price"])
            size = _decimal(row["size"])
            if price <= 0:
                raise ValueError(f"non-positive price {price} in trade {row.get('trade_id')}")
            amount = _DIVISION.divide(size, price).quantize(INVERSE_PLACES) if inverse else size
            out.append(
                Trade(
                    exchange=EXCHANGE,
                    symbol=symbol,
                    trade_id=str(row["trade_id"]),
                    price=price,
                    amount=amount,
                    taker_side=_SIDES.get(str(row.get("side"))),
                    exchange_time=_trade_time(row),
                    received_time=received,
                )
            )
        return out

    def ticker(self, name: str, message: dict[str, Any], received: datetime) -> Ticker | None:
        """``snapshot`` replaces the instrument's fields; ``delta`` carries changed rows in
        ``data.update``. A delta before any snapshot has nothing to apply to: an error."""
        data = message.get("data")
        kind = message.get("type")
        if kind == "snapshot" and isinstance(data, dict):
            self.state[name] = dict(data)
        elif kind == "delta" and isinstance(data, dict):
            if name not in self.state:
                raise ValueError(f"instrument_info delta for {name} before its snapshot")
            for row in data.get("update") or []:
                if isinstance(row, dict) and row.get("symbol", name) == name:
                    _merge(self.state[name], row)
        else:
            raise ValueError(f"instrument_info frame of unknown type {kind!r}")
        raw = self.state[name]
        if not any(_scaled(raw, f) is not None for f in _TICKER_FIELDS):
            return None
        inverse = self.symbols.inverse(name)
        volume, turnover = _scaled(raw, "volume_24h"), _scaled(raw, "turnover_24h")
        # inverse: volume counts USD contracts (quote), turnover is in the base coin
        base_volume, quote_volume = (turnover, volume) if inverse else (volume, turnover)
        updated = raw.get("updated_at")
        return Ticker(
            exchange=EXCHANGE,
            symbol=self.symbols.unified(name),
            bid=_scaled(raw, "bid1_price"),
            bid_size=None,
            ask=_scaled(raw, "ask1_price"),
            ask_size=None,
            last=_scaled(raw, "last_price"),
            open_24h=_scaled(raw, "prev_price_24h"),
            high_24h=_scaled(raw, "high_price_24h"),
            low_24h=_scaled(raw, "low_price_24h"),
            base_volume_24h=base_volume,
            quote_volume_24h=quote_volume,
            exchange_time=_iso(updated) if isinstance(updated, str) else None,
            received_time=received,
        )


def _v2(frames: list[Decoded]) -> bool:
    return any(is_v2(m) for _, _, m in frames)


def _parser(capture: Capture, frames: list[Decoded]) -> BybitV2Replay | None:
    """v2 frames are read here; a v5 capture goes through ccxt like any other venue."""
    return BybitV2Replay(capture) if _v2(frames) else None


# v2 sends prices and sizes as JSON numbers: read them as Decimal, never binary float
DIALECT = ReplayDialect(parser=_parser, decimal_numbers=_v2)


def _book_symbols(entries: Entries) -> list[str]:
    return recorded_book_settings(entries)[0]


def _book_settings(entries: Entries) -> dict[str, Any]:
    return dict(recorded_book_settings(entries)[1])


def _book_connections(entries: Entries) -> list[tuple[list[str], dict[str, Any]]]:
    """Inverse and linear books lived on different connections: one feed each."""
    return [
        (group, {"topic": topic, "ws_url": addr})
        for addr, group, topic in recorded_book_groups(entries)
    ]


def _book_refusal(entries: Entries) -> str | None:
    unread = unread_book_topics(entries)
    if not unread:
        return None
    return (
        f"the capture's Bybit book subscriptions ({', '.join(unread[:3])}) are of the v5 "
        "API; the Bybit adapter reads the 2021 realtime API (orderBookL2_25, "
        "orderBook_200.100ms) only"
    )


BOOK_CAPTURE = BookCaptureDialect(
    symbols=_book_symbols,
    settings=_book_settings,
    header_symbol=header_book_symbol,
    connections=_book_connections,
    refusal=_book_refusal,
)
