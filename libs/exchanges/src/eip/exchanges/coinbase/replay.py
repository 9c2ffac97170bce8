"""Which ccxt class replays a Coinbase capture's trade and ticker frames: Advanced Trade
frames carry ``channel`` (ccxt ``coinbase``); the older Exchange (Pro) feed, which cryptofeed's
2021 captures hold, only ``type`` (ccxt ``coinbaseexchange``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eip.exchanges.ccxt.replay import CcxtReplay
from eip.exchanges.machinery.capture import Capture
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
