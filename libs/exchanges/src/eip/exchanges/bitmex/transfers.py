"""BitMEX deposit and withdrawal history (``TransferHistory``): ``GET /api/v1/user/walletHistory``
(``currency=all``), the rows whose ``transactType`` is ``Deposit`` or ``Withdrawal``.

It reads through the connection's ``BitmexTradingAdapter`` (``_signed``: its signing through
the auth service, request budget, breaker and error translation). What is subtle:

- **One history for everything.** The wallet history also lists realised PnL, funding,
  transfers between accounts and more, newest first, paged by offset (``start``, ``count``);
  there is no time filter to rely on. A read pages from the newest row back until it reaches
  the cursor's time (or a short page), and keeps only the kind asked.
- **Amounts are in the currency's smallest unit** (``XBt`` satoshis, ``USDt`` micro-tether,
  ``Gwei``) and signed (a withdrawal is negative): divided by the unit through the package's
  table of codes, the sign dropped. ``fee`` likewise.
- **Statuses**: ``Completed`` is final, ``Canceled`` / ``Rejected`` / ``Failed`` failed; any
  other (``Pending``, ``Confirmed``: approved, not yet sent) is not final. The cursor waits at
  the oldest transfer not final (30 days at most) and never comes closer to now than
  ``SETTLE_MS``, as for Binance (``binance/transfers.py``).
- More than ``MAX_PAGES`` pages newer than the cursor: what was read is returned, the cursor
  stays (the next call reads again and goes no further back than it, never leaving a hole).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from eip.exchanges.bitmex.assets import ASSET_CODES
from eip.exchanges.bitmex.trading import PAGE, BitmexTradingAdapter
from eip.exchanges.bitmex.wire import EXCHANGE, dec, utc
from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.contract.transfers import (
    TransferCursor,
    TransferKind,
    TransferPage,
    TransferStatus,
    VenueTransfer,
    cursor_position,
    epoch_ms,
    resume_time,
)

PATH = "/user/walletHistory"
TYPES = {TransferKind.DEPOSIT: "Deposit", TransferKind.WITHDRAWAL: "Withdrawal"}
MAX_PAGES = 50
_FINAL = {
    "Completed": TransferStatus.COMPLETED,
    "Canceled": TransferStatus.FAILED,
    "Cancelled": TransferStatus.FAILED,
    "Rejected": TransferStatus.FAILED,
    "Failed": TransferStatus.FAILED,
}


class BitmexTransfers:
    exchange = EXCHANGE

    def __init__(
        self, adapter: BitmexTradingAdapter, clock: Callable[[], float] = time.time
    ) -> None:
        self.adapter = adapter
        self._clock = clock

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        now_ms = int(self._clock() * 1000)
        start = cursor_position(EXCHANGE, cursor, 0)
        size = max(1, min(limit or PAGE, PAGE))
        found: dict[str, VenueTransfer] = {}
        reached = False
        for page in range(MAX_PAGES):
            params = {"currency": "all", "count": str(size), "start": str(page * size)}
            # a read: retried by the REST loop like any other
            rows = await self.adapter._signed("GET", PATH, params)
            if not isinstance(rows, list):
                raise BadRequest(EXCHANGE, f"{PATH}: expected a list, got {type(rows)}")
            for row in rows:
                when = epoch_ms(utc(row.get("transactTime") or row["timestamp"]))
                if when < start:
                    reached = True
                    continue
                if row.get("transactType") == TYPES[kind]:
                    item = transfer(kind, row)
                    found[item.id] = item
            if reached or len(rows) < size:
                reached = True
                break
        transfers = sorted(found.values(), key=lambda t: (t.time, t.id))
        if not reached:
            resume = start
        else:
            resume = resume_time(transfers, now_ms, default=start, floor=start)
        next_cursor = TransferCursor(kind, str(resume))
        if cursor is not None and next_cursor.value == cursor.value:
            next_cursor = cursor
        return TransferPage(transfers, next_cursor)

    async def close(self) -> None:
        """Nothing of its own: the trading adapter it reads through is closed by its owner."""


def transfer(kind: TransferKind, row: Mapping[str, Any]) -> VenueTransfer:
    """One ``walletHistory`` row of a deposit or withdrawal."""
    unit = ASSET_CODES.balance_asset(str(row["currency"]))
    status = str(row.get("transactStatus") or "")
    fee = row.get("fee")
    when = utc(row.get("transactTime") or row["timestamp"])
    state = _FINAL.get(status, TransferStatus.PENDING)
    return VenueTransfer(
        id=str(row["transactID"]),
        kind=kind,
        asset=unit.asset,
        amount=_scaled(row["amount"], unit.scale),
        fee=None if fee is None else _scaled(fee, unit.scale),
        status=state,
        venue_status=status,
        network=row.get("network") or None,
        tx_id=row.get("tx") or None,
        address=row.get("address") or None,
        time=when,
        completed_time=utc(row["timestamp"]) if state is TransferStatus.COMPLETED else None,
    )


def _scaled(value: Any, scale: Decimal) -> Decimal:
    return (abs(dec(value)) * scale).normalize() + Decimal(0)


def create_transfers(adapter: TradingAdapter) -> BitmexTransfers:
    """The transfer history of the account ``adapter`` (a BitMEX trading adapter) trades."""
    if not isinstance(adapter, BitmexTradingAdapter):
        raise TypeError(f"a BitMEX trading adapter is needed, got {type(adapter).__name__}")
    return BitmexTransfers(adapter)
