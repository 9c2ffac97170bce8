"""Kraken book messages of both API versions, parsed into one shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass
class BookMessage:
    pair: str  # as the message names it: v1 wsname "XBT/USD", v2 "BTC/USD"
    snapshot: bool
    # [price, qty, ...] decimal strings, in order; v1 levels carry their time (and "r") after
    bids: list[list[str]] = field(default_factory=list)
    asks: list[list[str]] = field(default_factory=list)
    checksum: int | None = None
    exchange_time: datetime | None = None


def _text(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def parse_v1(message: Any) -> BookMessage | None:
    """``[channelID, {"as"/"bs"} | {"a"}{"b","c"}..., "book-N", "XBT/USD"]``; None otherwise.

    Levels are kept as sent (``[price, volume, timestamp(, "r")]``, read by the book core by
    their first two fields): slicing each level was a fifth of a frame's parsing. The common
    update, one part, is read without building new lists.
    """
    if type(message) is not list or len(message) < 4:
        return None
    name = message[-2]
    if type(name) is not str or not name.startswith("book"):
        return None
    pair = message[-1]
    first = message[1]
    if len(message) == 4 and type(first) is dict:
        if "as" in first or "bs" in first:
            asks, bids = first.get("as", []), first.get("bs", [])
            return BookMessage(pair, True, bids, asks, None, _v1_time(asks, bids))
        asks, bids = first.get("a", []), first.get("b", [])
        checksum = first.get("c")
        return BookMessage(
            pair,
            False,
            bids,
            asks,
            None if checksum is None else int(checksum),
            _v1_time(asks, bids),
        )
    parts = [p for p in message[1:-2] if isinstance(p, dict)]
    if parts and ("as" in parts[0] or "bs" in parts[0]):
        asks, bids = parts[0].get("as", []), parts[0].get("bs", [])
        return BookMessage(pair, True, bids, asks, None, _v1_time(asks, bids))
    result = BookMessage(pair, False)
    for part in parts:
        # Levels keep their order within a side; "r" (republished from beyond the depth) is
        # an ordinary set.
        result.asks += part.get("a", [])
        result.bids += part.get("b", [])
        if "c" in part:
            result.checksum = int(part["c"])
    result.exchange_time = _v1_time(result.asks, result.bids)
    return result


def _v1_time(asks: list[list[str]], bids: list[list[str]]) -> datetime | None:
    # The latest level time; one datetime per message (the maximum of the floats is the same
    # instant fromtimestamp would pick as the maximum of the datetimes).
    latest = -1.0
    for side in (asks, bids):
        for level in side:
            if len(level) > 2:
                when = float(level[2])
                if when > latest:
                    latest = when
    return None if latest < 0 else datetime.fromtimestamp(latest, UTC)


def loads_v2(text: str | bytes) -> Any:
    """v2 sends prices as JSON numbers; read them as exact decimals, never binary floats."""
    return json.loads(text, parse_float=Decimal)


def parse_v2(message: Any) -> list[BookMessage]:
    """``{"channel":"book","type":"snapshot"|"update","data":[{symbol,bids,asks,checksum}]}``."""
    if not isinstance(message, dict) or message.get("channel") != "book":
        return []
    kind = message.get("type")
    if kind not in ("snapshot", "update"):
        return []
    result = []
    for item in message.get("data", []):
        book = BookMessage(
            item["symbol"],
            kind == "snapshot",
            [[_text(lv["price"]), _text(lv["qty"])] for lv in item.get("bids", [])],
            [[_text(lv["price"]), _text(lv["qty"])] for lv in item.get("asks", [])],
            int(item["checksum"]) if "checksum" in item else None,
        )
        if item.get("timestamp"):
            book.exchange_time = datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00"))
        result.append(book)
    return result


def places(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0
