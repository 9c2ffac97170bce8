"""Binance frames through the native adapter's parse (``eip.exchanges.binance.wire``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eip.exchanges.binance.wire import TickerMerger, agg_trade
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import Capture
from eip.exchanges.machinery.replay.parser import Decoded, ReplayDialect
from eip.exchanges.machinery.replay.result import Channel

_CHANNELS: dict[str, Channel] = {
    "aggTrade": "trades",
    "trade": "trades",
    "bookTicker": "ticker",
    "ticker": "ticker",
}


def symbol_ids(capture: Capture) -> dict[str, str]:
    """Binance id (``NKNUSDT``) → ``NKN/USDT`` from a recorded exchangeInfo, else from the
    header's ``BASE-QUOTE`` symbols (the id is the two glued together)."""
    ids: dict[str, str] = {}
    for url, body in capture.http.items():
        if url.split("?")[0].endswith("/exchangeInfo"):
            for row in json.loads(body).get("symbols", []):
                base, quote = normalize_asset(row["baseAsset"]), normalize_asset(row["quoteAsset"])
                ids[str(row["symbol"]).upper()] = f"{base}/{quote}"
    for symbols in capture.config.values():
        for name in symbols:
            base, _, quote = name.partition("-")
            if quote and "-" not in quote:
                ids.setdefault(
                    f"{base}{quote}".upper(), f"{normalize_asset(base)}/{normalize_asset(quote)}"
                )
    return ids


def _stream_kind(message: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(message, dict):
        return None
    data = message.get("data", message)
    if not isinstance(data, dict):
        return None
    stream = message.get("stream")
    if isinstance(stream, str) and "@" in stream:
        return stream.split("@", 1)[1], data
    event = data.get("e")
    if event == "24hrTicker":
        return "ticker", data
    if isinstance(event, str):
        return event, data
    if {"u", "s", "b", "a"} <= data.keys():  # a raw bookTicker event has no "e"
        return "bookTicker", data
    return None


class BinanceReplay:
    def __init__(self, capture: Capture) -> None:
        self.ids = symbol_ids(capture)
        self.tickers: dict[str, TickerMerger] = {}

    def classify(self, message: Any) -> tuple[Channel, str] | None:
        found = _stream_kind(message)
        if found is None or found[0] not in _CHANNELS:
            return None
        return _CHANNELS[found[0]], str(found[1].get("s", "?"))

    def _symbol(self, raw_id: Any) -> str:
        symbol = self.ids.get(str(raw_id).upper())
        if symbol is None:
            raise ValueError(f"unknown Binance symbol {raw_id!r}")
        return symbol

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        found = _stream_kind(message)
        if found is None:
            return []
        kind, data = found
        if kind == "aggTrade":
            return [agg_trade(self._symbol(data["s"]), data, received)]
        if kind == "trade":
            # the raw @trade event has the aggTrade fields except its id, which is "t"
            return [agg_trade(self._symbol(data["s"]), {**data, "a": data["t"]}, received)]
        if kind in ("bookTicker", "ticker"):
            symbol = self._symbol(data["s"])
            merger = self.tickers.setdefault(symbol, TickerMerger(symbol))
            if kind == "bookTicker":
                return [merger.on_book(data, received)]
            return [merger.on_day(data, received)]
        return []


def _parser(capture: Capture, frames: list[Decoded]) -> BinanceReplay:
    return BinanceReplay(capture)


DIALECT = ReplayDialect(parser=_parser)
