"""What every venue's replay parser offers the runner."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.replay.result import Channel


class FrameParser(Protocol):
    def classify(self, message: Any) -> tuple[Channel, str] | None:
        """(channel, the venue's instrument name) when the frame carries trades or a ticker;
        ``None`` for everything else (acks, heartbeats, books, candles)."""
        ...

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        """Fed every frame in order (acks set up state some venues need); raises on a frame
        it cannot read."""
        ...
