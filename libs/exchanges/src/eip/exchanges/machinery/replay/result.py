"""What a replay produced: records, per symbol/channel counts, and the checks that fail it."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from eip.exchanges.contract.market_data import Ticker, Trade

Channel = Literal["trades", "ticker"]
CHANNELS: tuple[Channel, ...] = ("trades", "ticker")
# BASE/QUOTE, optionally :SETTLE[-YYMMDD[-STRIKE-C|P]] (ccxt's unified derivative forms);
# upper-case assets as normalize_asset leaves them
_SYMBOL = re.compile(r"^[A-Z0-9.]+/[A-Z0-9.]+(:[A-Z0-9.]+(-\d{6}(-[0-9.]+-[CP])?)?)?$")
UNKNOWN = "?"


def received_at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def problems(record: Trade | Ticker) -> list[str]:
    """Why a record may not leave the adapter; empty when it is fine."""
    found: list[str] = []
    if not _SYMBOL.match(record.symbol):
        found.append(f"unnormalized symbol {record.symbol!r}")
    if isinstance(record, Trade):
        if record.price <= 0:
            found.append(f"non-positive price {record.price}")
        if record.amount < 0:
            found.append(f"negative amount {record.amount}")
    else:
        for name in ("bid", "ask", "last"):
            value = getattr(record, name)
            if value is not None and value <= 0:
                found.append(f"non-positive {name} {value}")
        for name in ("bid_size", "ask_size", "base_volume_24h", "quote_volume_24h"):
            value = getattr(record, name)
            if value is not None and value < 0:
                found.append(f"negative {name} {value}")
    return found


@dataclass
class Summary:
    frames: Counter[tuple[str, Channel]] = field(default_factory=Counter)
    records: Counter[tuple[str, Channel]] = field(default_factory=Counter)
    failed: Counter[tuple[str, Channel]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # first few, for the reader

    @property
    def ok(self) -> bool:
        return not self.failed

    def fail(self, symbol: str, channel: Channel, why: str) -> None:
        self.failed[(symbol, channel)] += 1
        if len(self.errors) < 20:
            self.errors.append(f"{channel} {symbol}: {why}")

    def rows(self) -> list[dict[str, Any]]:
        keys = sorted(set(self.frames) | set(self.records) | set(self.failed))
        return [
            {
                "symbol": symbol,
                "channel": channel,
                "frames": self.frames[(symbol, channel)],
                "records": self.records[(symbol, channel)],
                "not_understood": self.failed[(symbol, channel)],
            }
            for symbol, channel in keys
        ]


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # str() would write 0.000000454 as 4.54E-7
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def as_json(record: Trade | Ticker) -> dict[str, Any]:
    kind = "trade" if isinstance(record, Trade) else "ticker"
    values = {f.name: _text(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return {"type": kind, **values}
