"""What a book feed tells the service: the contract between exchange adapters and the rest.

An adapter (Binance, Kraken, Coinbase, ccxt.pro) owns one ``L2Book`` per instrument and keeps it
exact by the venue's rules. It reports every change as one of the events below, in order, per
instrument. The service never looks at exchange messages; it only sees these:

- ``BookSnapshot``: the book was (re)built from a snapshot and is now in sync. Everything
  published before for this instrument is superseded (the service starts a new epoch).
- ``BookDelta``: levels that changed since the previous event, applied to the adapter's book
  already; size ``"0"`` removes a level. Only sent while in sync.
- ``BookDesync``: the book can no longer be trusted (gap, checksum mismatch, crossed book,
  stale stream, disconnect). The service stops publishing it until the next ``BookSnapshot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from eip.book import L2Book

DesyncReason = Literal["gap", "checksum", "crossed", "stale", "disconnected", "error"]


@dataclass(frozen=True, slots=True)
class BookKey:
    exchange: str  # ccxt id: "binance", "kraken", "coinbase", ...
    symbol: str  # normalized "BASE/QUOTE"


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    key: BookKey
    book: L2Book  # the adapter's live book; read it before awaiting anything
    exchange_sequence: str  # the venue's update id / sequence the book is at ("" if none)
    exchange_time: datetime | None  # UTC; None when the venue sends no time
    received_time: datetime  # UTC


@dataclass(frozen=True, slots=True)
class BookDelta:
    key: BookKey
    book: L2Book
    bids: list[tuple[str, str]]  # (price, size) decimal strings as the book formats them
    asks: list[tuple[str, str]]
    exchange_sequence: str
    exchange_time: datetime | None
    received_time: datetime


@dataclass(frozen=True, slots=True)
class BookDesync:
    key: BookKey
    reason: DesyncReason
    detail: str = ""
    received_time: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


BookEvent = BookSnapshot | BookDelta | BookDesync
