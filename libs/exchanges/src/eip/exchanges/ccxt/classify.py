"""Which ccxt-venue frames carry trades or tickers, from each venue's documented envelope.

Only the envelope is read (topic, channel, subscription id), never the payload: whether the
payload is understood is left to ccxt, so a frame classified here that ccxt cannot turn into
records is reported as not understood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eip.exchanges.machinery.replay.result import Channel

Classifier = Callable[[Any], tuple[Channel, str] | None]


def _get(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, dict) else None


def _topic(prefixes: dict[str, Channel], sep: str, value: Any) -> tuple[Channel, str] | None:
    if not isinstance(value, str):
        return None
    for prefix, channel in prefixes.items():
        if value.startswith(prefix):
            return channel, value[len(prefix) :].split(sep)[0] or "?"
    return None


def kucoin(message: Any) -> tuple[Channel, str] | None:
    if _get(message, "type") != "message":
        return None
    prefixes: dict[str, Channel] = {"/market/match:": "trades", "/market/ticker:": "ticker"}
    return _topic(prefixes, ",", _get(message, "topic"))


def okx(message: Any) -> tuple[Channel, str] | None:
    arg = _get(message, "arg")
    if not isinstance(arg, dict) or "data" not in message:
        return None
    channel = {"trades": "trades", "trades-all": "trades", "tickers": "ticker"}.get(
        str(arg.get("channel"))
    )
    return None if channel is None else (channel, str(arg.get("instId", "?")))  # type: ignore[return-value]


def bybit(message: Any) -> tuple[Channel, str] | None:
    prefixes: dict[str, Channel] = {
        "publicTrade.": "trades",
        "trade.": "trades",
        "tickers.": "ticker",
    }
    return _topic(prefixes, ".", _get(message, "topic"))


def gateio(message: Any) -> tuple[Channel, str] | None:
    if _get(message, "event") != "update":
        return None
    channel = {"spot.trades": "trades", "spot.tickers": "ticker"}.get(str(_get(message, "channel")))
    if channel is None:
        return None
    result = _get(message, "result")
    pair = result.get("currency_pair", "?") if isinstance(result, dict) else "?"
    return channel, str(pair)  # type: ignore[return-value]


def htx(message: Any) -> tuple[Channel, str] | None:
    ch = _get(message, "ch")
    if not isinstance(ch, str) or "tick" not in message:
        return None
    parts = ch.split(".")  # market.btcusdt.trade.detail / market.btcusdt.ticker
    if len(parts) >= 3 and parts[0] == "market":
        if parts[2:] == ["trade", "detail"]:
            return "trades", parts[1]
        if parts[2:] == ["ticker"]:
            return "ticker", parts[1]
    return None


def coinbase(message: Any) -> tuple[Channel, str] | None:
    channel = _get(message, "channel")  # Advanced Trade
    if channel in ("market_trades", "ticker", "ticker_batch"):
        events = _get(message, "events") or []
        first = events[0] if events and isinstance(events[0], dict) else {}
        rows = first.get("trades") or first.get("tickers") or [{}]
        product = rows[0].get("product_id", "?") if isinstance(rows[0], dict) else "?"
        return ("trades" if channel == "market_trades" else "ticker"), str(product)
    # the 2021 Pro / Exchange feed; "last_match" (the trade before subscribing) is ignored by
    # ccxt's handler, so live never publishes it: not counted as a trade frame here either
    kind = _get(message, "type")
    if kind == "match":
        return "trades", str(_get(message, "product_id"))
    if kind == "ticker":
        return "ticker", str(_get(message, "product_id"))
    return None


def kraken(message: Any) -> tuple[Channel, str] | None:  # API v2
    channel = {"trade": "trades", "ticker": "ticker"}.get(str(_get(message, "channel")))
    data = _get(message, "data")
    if channel is None or not isinstance(data, list) or not data:
        return None
    return channel, str(data[0].get("symbol", "?")) if isinstance(data[0], dict) else "?"  # type: ignore[return-value]


SEQ_ALL = 65536  # Bitfinex conf flag: every frame gets a trailing sequence number


class Bitfinex:
    """v2 frames are ``[chanId, ...]``; the channel and pair come from the earlier
    ``{"event": "subscribed"}`` ack. ``tu`` repeats a ``te`` trade and heartbeats are ``hb``.

    A recording client may have sent ``{"event": "conf", "flags": 65536}`` (cryptofeed does):
    Bitfinex then appends a sequence number to every channel frame. ccxt never asks for it
    and tells a snapshot from an update by the frame's length, so ``prepare`` drops that
    number once the venue has confirmed the flag."""

    def __init__(self) -> None:
        self.channels: dict[Any, tuple[Channel, str]] = {}
        self.sequenced = False

    def prepare(self, message: Any) -> Any:
        if _get(message, "event") == "conf" and message.get("status") == "OK":
            self.sequenced = bool(int(message.get("flags", 0)) & SEQ_ALL)
        if self.sequenced and isinstance(message, list) and message[0] in self.channels:
            return message[:-1] if isinstance(message[-1], int) else message
        return message

    def __call__(self, message: Any) -> tuple[Channel, str] | None:
        if _get(message, "event") == "subscribed":
            channel = {"trades": "trades", "ticker": "ticker"}.get(str(message.get("channel")))
            if channel is not None:
                pair = message.get("symbol") or message.get("pair") or "?"
                self.channels[message.get("chanId")] = (channel, str(pair))  # type: ignore[assignment]
            return None
        if not isinstance(message, list) or not message or message[0] not in self.channels:
            return None
        if len(message) > 1 and message[1] in ("hb", "tu"):
            return None
        return self.channels[message[0]]


_STATELESS: dict[str, Classifier] = {
    "kucoin": kucoin,
    "okx": okx,
    "bybit": bybit,
    "gateio": gateio,
    "gate": gateio,
    "htx": htx,
    "coinbase": coinbase,
    "coinbaseexchange": coinbase,
    "kraken": kraken,
}


def classifier(ccxt_id: str) -> Classifier:
    if ccxt_id == "bitfinex":
        return Bitfinex()
    found = _STATELESS.get(ccxt_id)
    if found is None:
        raise ValueError(f"no frame classifier for ccxt venue {ccxt_id!r}")
    return found
