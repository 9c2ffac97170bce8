"""What every venue's replay parser offers the runner, and what a venue's package tells the
runner about its captures (``ReplayDialect``, named in the venue's registry entry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import Capture
from eip.exchanges.machinery.replay.result import Channel

# one received frame: (connection, recorded time, the frame decoded as JSON, or its text)
Decoded = tuple[str, float, Any]


class FrameParser(Protocol):
    def classify(self, message: Any) -> tuple[Channel, str] | None:
        """(channel, the venue's instrument name) when the frame carries trades or a ticker;
        ``None`` for everything else (acks, heartbeats, books, candles)."""
        ...

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        """Fed every frame in order (acks set up state some venues need); raises on a frame
        it cannot read."""
        ...


def _ccxt_reads_it(capture: Capture, frames: list[Decoded]) -> FrameParser | None:
    return None


def _never(frames: list[Decoded]) -> bool:
    return False


@dataclass(frozen=True)
class ReplayDialect:
    """How one venue's trade and ticker frames replay. A venue without one (or whose
    ``parser`` gives ``None`` for a capture) is replayed through the generic ccxt replay."""

    # the venue's own parser for what this capture holds, or None for the ccxt replay
    parser: Callable[[Capture, list[Decoded]], FrameParser | None] = _ccxt_reads_it
    # whether the frames must be read again with JSON numbers as Decimal, as live reads them
    decimal_numbers: Callable[[list[Decoded]], bool] = _never
