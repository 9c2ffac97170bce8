"""How Coinbase captures replay. Trades and tickers: through ccxt, whose class depends on the
feed recorded — Advanced Trade frames carry ``channel`` (ccxt ``coinbase``), the older Exchange
(Pro) feed, which cryptofeed's 2021 captures hold, only ``type`` (ccxt ``coinbaseexchange``).
Books: the Exchange dialect when the capture connected to that feed's host."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from eip.exchanges.ccxt.replay import CcxtReplay
from eip.exchanges.coinbase.book_exchange import WS_HOSTS
from eip.exchanges.machinery.capture import BookCaptureDialect, Capture
from eip.exchanges.machinery.replay.parser import Decoded, ReplayDialect


def _coinbase_class(frames: Iterable[tuple[str, float, Any]]) -> str:
    """Advanced Trade frames carry ``channel``; the older Exchange (Pro) feed only ``type``."""
    for _, _, message in frames:
        if isinstance(message, dict) and "channel" in message:
            return "coinbase"
        if isinstance(message, dict) and message.get("type") in (
            "match",
            "ticker",
            "subscriptions",
        ):
            return "coinbaseexchange"
    return "coinbase"


def _parser(capture: Capture, frames: list[Decoded]) -> CcxtReplay:
    return CcxtReplay("coinbase", _coinbase_class(frames), capture)


DIALECT = ReplayDialect(parser=_parser)


def book_settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The Exchange (ex-Pro) dialect when the capture connected to its feed host."""
    hosts = WS_HOSTS
    for entry in entries:
        if entry["t"] == "connect" and urlsplit(entry["addr"]).hostname in hosts:
            return {"api": "exchange"}
    return {}


BOOK_CAPTURE = BookCaptureDialect(settings=book_settings)
