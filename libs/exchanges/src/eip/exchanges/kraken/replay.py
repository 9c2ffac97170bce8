"""Kraken WebSocket API v1 frames (``[channelID, payload, "trade"|"ticker", "XBT/USD"]``).

ccxt 4.5.90's kraken handlers speak only API v2 (``{"channel": "trade", ...}``): its
``handle_message`` ignores v1's array frames, so v1 is read here, for replaying 2021
captures only. Live trading data keeps going through ccxt's v2 handlers; a v2 capture is
replayed through ``CcxtReplay`` like any other ccxt venue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.ccxt import parse as ccxt_parse
from eip.exchanges.contract.market_data import TakerSide, Ticker, Trade
from eip.exchanges.machinery.capture import BookCaptureDialect, Capture
from eip.exchanges.machinery.replay.parser import Decoded, ReplayDialect
from eip.exchanges.machinery.replay.result import Channel

EXCHANGE = "kraken"
_CHANNELS: dict[str, Channel] = {"trade": "trades", "ticker": "ticker"}
_SIDES: dict[str, TakerSide] = {"b": "buy", "s": "sell"}


def is_v1(message: Any) -> bool:
    return isinstance(message, list) and len(message) >= 4 and isinstance(message[-1], str)


def _symbol(pair: str) -> str:
    # v1 names pairs "XBT/USD"; ccxt_parse.normalize_symbol applies the asset aliases
    return ccxt_parse.normalize_symbol(pair)


def _seconds(text: Any) -> datetime:
    return datetime.fromtimestamp(float(ccxt_parse.to_decimal(text)), tz=UTC)


def trades(pair: str, rows: list[Any], received: datetime) -> list[Trade]:
    """Rows ``[price, volume, time, side b|s, orderType, misc]``. v1 trades have no id: the
    id is ``time-price-volume`` (the fallback ``ccxt_parse.trade`` uses too)."""
    symbol = _symbol(pair)
    return [
        Trade(
            exchange=EXCHANGE,
            symbol=symbol,
            trade_id=f"{row[2]}-{row[0]}-{row[1]}",
            price=ccxt_parse.to_decimal(row[0]),
            amount=ccxt_parse.to_decimal(row[1]),
            taker_side=_SIDES.get(row[3]),
            exchange_time=_seconds(row[2]),
            received_time=received,
        )
        for row in rows
    ]


def _at(raw: dict[str, Any], key: str, index: int) -> Decimal | None:
    values = raw.get(key)
    return ccxt_parse.to_decimal(values[index]) if values else None


def ticker(pair: str, raw: dict[str, Any], received: datetime) -> Ticker:
    """``a``/``b`` = [price, whole lot volume, lot volume], ``c`` = [price, lot volume],
    ``o``/``h``/``l``/``v`` = [today, last 24 hours]; v1 tickers carry no time and no quote
    volume (``p`` is a VWAP)."""
    return Ticker(
        exchange=EXCHANGE,
        symbol=_symbol(pair),
        bid=_at(raw, "b", 0),
        bid_size=_at(raw, "b", 2),
        ask=_at(raw, "a", 0),
        ask_size=_at(raw, "a", 2),
        last=_at(raw, "c", 0),
        open_24h=_at(raw, "o", 1),
        high_24h=_at(raw, "h", 1),
        low_24h=_at(raw, "l", 1),
        base_volume_24h=_at(raw, "v", 1),
        quote_volume_24h=None,
        exchange_time=None,
        received_time=received,
    )


class KrakenV1Replay:
    def classify(self, message: Any) -> tuple[Channel, str] | None:
        if not is_v1(message):
            return None
        channel = _CHANNELS.get(str(message[-2]).split("-")[0])
        return None if channel is None else (channel, str(message[-1]))

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        found = self.classify(message)
        if found is None:
            return []
        channel, pair = found
        if channel == "trades":
            return list(trades(pair, message[1], received))
        return [ticker(pair, message[1], received)]


def _parser(capture: Capture, frames: list[Decoded]) -> KrakenV1Replay | None:
    """v1 array frames are read here; a v2 capture goes through ccxt like any other venue."""
    return KrakenV1Replay() if any(is_v1(m) for _, _, m in frames) else None


DIALECT = ReplayDialect(parser=_parser)


def book_settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """API version and depth as the recorded book subscription asked for them."""
    settings: dict[str, Any] = {"api": "v1", "depth": 10}
    for entry in entries:
        if entry["t"] == "connect" and entry["addr"].rstrip("/").endswith("/v2"):
            settings["api"] = "v2"
        if entry["t"] == "send":
            try:
                message = json.loads(entry["data"])
            except json.JSONDecodeError:
                continue
            sub = message.get("subscription") or message.get("params") or {}
            if sub.get("name") == "book" or sub.get("channel") == "book":
                settings["depth"] = int(sub.get("depth", 10))
    return settings


BOOK_CAPTURE = BookCaptureDialect(settings=book_settings)
