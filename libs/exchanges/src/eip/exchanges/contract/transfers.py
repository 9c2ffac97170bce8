"""Deposits and withdrawals of one venue account, in the platform's vocabulary: the contract a
venue implements where it reports them (``registry.create_transfer_history``).

Kept apart from ``TradingAdapter`` (``trading.py``): it is read-only history, needs the venue's
wallet permission rather than trading, and only some venues report it.

The subtle parts:

- **A transfer changes after it is first seen.** A deposit is listed while it waits for
  confirmations and again when credited; a withdrawal goes through approval and processing.
  A cursor that moved past a transfer not final yet would never see its end, so a page's
  ``next_cursor`` never passes the oldest transfer that is still ``pending``: that one and
  everything after it are read again by the next call. Consumers keep one row per
  (kind, id) and update it (the venue's id is stable across those reads).
- **Reading again is normal.** Venues filter by time with second or millisecond resolution and
  inclusive bounds, so a page may repeat transfers the last one had; the id de-duplicates.
- **Amounts** are ``Decimal`` from the venue's text, in ``asset`` (the platform's code, through
  the venue's table of balance codes). ``amount`` is what the venue reports as the transfer's
  amount; ``fee`` is charged on top of a withdrawal's amount (None when the venue does not
  say).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from eip.exchanges.contract.errors import BadRequest


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class TransferStatus(StrEnum):
    PENDING = "pending"  # not final: confirming, awaiting approval, processing
    COMPLETED = "completed"  # credited (deposit) or sent (withdrawal)
    FAILED = "failed"  # rejected, failed or cancelled: no balance moved for good


@dataclass(frozen=True, slots=True)
class VenueTransfer:
    id: str  # the venue's id of the transfer, unique per kind and account
    kind: TransferKind
    asset: str
    amount: Decimal
    fee: Decimal | None
    status: TransferStatus
    venue_status: str  # the venue's own status, as sent
    network: str | None
    tx_id: str | None
    address: str | None
    time: datetime  # when the venue registered it (deposit insert / withdrawal apply time)
    completed_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class TransferCursor:
    """Where a transfer history read stopped; opaque to callers, stored by them to resume.
    ``value`` is the venue's own position (here a time in ms)."""

    kind: TransferKind
    value: str


SETTLE_MS = 10 * 60_000  # a transfer may be listed a little after its own time
PENDING_HORIZON_MS = 30 * 86_400_000  # a transfer pending longer than this holds no cursor


def epoch_ms(when: datetime) -> int:
    return int((when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def pending_times(transfers: list[VenueTransfer], now_ms: int) -> list[int]:
    """The times of the transfers still pending, for at most ``PENDING_HORIZON_MS``."""
    horizon = now_ms - PENDING_HORIZON_MS
    return [
        epoch_ms(t.time)
        for t in transfers
        if t.status is TransferStatus.PENDING and epoch_ms(t.time) > horizon
    ]


def resume_time(transfers: list[VenueTransfer], now_ms: int, *, default: int, floor: int) -> int:
    """Where a time-keyed history read resumes: at the oldest transfer still pending (so its
    final status is read), else at the newest read (``default`` when none); never nearer to now
    than ``SETTLE_MS`` and never before ``floor``, where this read started."""
    pending = pending_times(transfers, now_ms)
    newest = max((epoch_ms(t.time) for t in transfers), default=default)
    resume = min(pending) if pending else newest
    return max(floor, min(resume, now_ms - SETTLE_MS))


def cursor_position(exchange: str, cursor: TransferCursor | None, default: int) -> int:
    """The venue position a cursor holds (a time or an id, an integer for every venue so far),
    or ``default`` without one. A cursor that holds none was not made by a reader: the caller's
    mistake (BadRequest), never a ValueError escaping as a 500."""
    if cursor is None:
        return default
    try:
        return int(cursor.value)
    except ValueError:
        raise BadRequest(exchange, f"not a transfer cursor: {cursor.value!r}") from None


@dataclass(frozen=True, slots=True)
class TransferPage:
    transfers: list[VenueTransfer]  # oldest first
    next_cursor: TransferCursor  # resume here; equal to the input cursor when nothing moved
    more: bool = False  # the venue has more after this page now: call again at once


class TransferHistory(Protocol):
    """One venue account's deposit and withdrawal history. Errors are
    ``eip.exchanges.contract.errors`` classes (``CredentialRejected``, transient ones)."""

    exchange: str

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        """Transfers of ``kind`` at or after ``cursor`` (from as far back as the venue keeps
        when None), oldest first; see the module for what may repeat."""
        ...

    async def close(self) -> None: ...
