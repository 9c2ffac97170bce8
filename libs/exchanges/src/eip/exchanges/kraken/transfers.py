"""Kraken deposit and withdrawal history (``TransferHistory``): ``POST /0/private/DepositStatus``
and ``/0/private/WithdrawStatus``.

It reads through the connection's ``KrakenTradingAdapter`` — its signing through the auth
service, nonce order, rate counter, breaker and error translation. What is subtle:

- **Paging.** With ``cursor=true`` both calls answer ``{"deposit"|"withdrawal": [...],
  "next_cursor": ...}`` (newest first); ``next_cursor`` is sent back until it is empty. Without
  it Kraken answers a bare list of recent transfers only, so the cursor form is always used.
- **Times are unix seconds.** ``start`` is the stored cursor in seconds; rows of that very
  second are read again (the id — Kraken's ``refid`` — de-duplicates).
- **Statuses**: ``Initial`` / ``Pending`` / ``Settled`` are not final (``Settled``: credited to
  the account, not yet confirmed on chain; still pending for the cursor), ``Success`` is, and
  ``Failure``; a ``status-prop`` of ``canceled`` or ``return`` is a failure whatever the
  status says.
- The cursor never passes a transfer still pending (30 days at most) and never comes closer to
  now than ``SETTLE_S``, as for Binance (``binance/transfers.py``).
- Assets are Kraken's names (``XXBT``, ``ZUSD``), through the package's table of codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.contract.transfers import (
    TransferCursor,
    TransferKind,
    TransferPage,
    TransferStatus,
    VenueTransfer,
    cursor_position,
)
from eip.exchanges.kraken.assets import ASSET_CODES
from eip.exchanges.kraken.trading import KrakenTradingAdapter
from eip.exchanges.kraken.trading_wire import dec

EXCHANGE = "kraken"
METHODS = {TransferKind.DEPOSIT: "DepositStatus", TransferKind.WITHDRAWAL: "WithdrawStatus"}
KEYS = {TransferKind.DEPOSIT: "deposit", TransferKind.WITHDRAWAL: "withdrawal"}
MAX_LIMIT = 500
SETTLE_S = 10 * 60
PENDING_HORIZON_S = 30 * 86_400
MAX_PAGES = 100
_STATUS = {
    "Initial": TransferStatus.PENDING,
    "Pending": TransferStatus.PENDING,
    "Settled": TransferStatus.PENDING,
    "Success": TransferStatus.COMPLETED,
    "Failure": TransferStatus.FAILED,
}
_FAILED_PROPS = frozenset({"canceled", "return"})


class KrakenTransfers:
    exchange = EXCHANGE

    def __init__(
        self, adapter: KrakenTradingAdapter, clock: Callable[[], float] = time.time
    ) -> None:
        self.adapter = adapter
        self._clock = clock

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        now_s = int(self._clock())
        start = cursor_position(EXCHANGE, cursor, 0)
        size = max(1, min(limit or MAX_LIMIT, MAX_LIMIT))
        rows: list[Mapping[str, Any]] = []
        page_cursor: str = "true"
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"cursor": page_cursor, "limit": size}
            if start:
                params["start"] = start
            # a read: retried by the REST loop like any other (adapter._private is the
            # package's one signed call)
            got = await self.adapter._private(METHODS[kind], params)
            if not isinstance(got, Mapping) or not isinstance(got.get(KEYS[kind]), list):
                raise BadRequest(EXCHANGE, f"{METHODS[kind]}: unexpected answer {type(got)}")
            rows.extend(got[KEYS[kind]])
            following = got.get("next_cursor")
            if not following or not got[KEYS[kind]]:
                break
            page_cursor = str(following)
        found: dict[str, VenueTransfer] = {}
        for row in rows:
            item = transfer(kind, row)
            found[item.id] = item
        transfers = sorted(found.values(), key=lambda t: (t.time, t.id))
        pending = [
            int(t.time.timestamp())
            for t in transfers
            if t.status is TransferStatus.PENDING
            and int(t.time.timestamp()) > now_s - PENDING_HORIZON_S
        ]
        newest = max((int(t.time.timestamp()) for t in transfers), default=start)
        resume = min(pending) if pending else newest
        resume = max(start, min(resume, now_s - SETTLE_S))
        next_cursor = TransferCursor(kind, str(resume))
        if cursor is not None and next_cursor.value == cursor.value:
            next_cursor = cursor
        return TransferPage(transfers, next_cursor)

    async def close(self) -> None:
        """Nothing of its own: the trading adapter it reads through is closed by its owner."""


def transfer(kind: TransferKind, row: Mapping[str, Any]) -> VenueTransfer:
    """One ``DepositStatus`` / ``WithdrawStatus`` row."""
    status = str(row.get("status", ""))
    prop = str(row.get("status-prop") or "")
    state = _STATUS.get(status, TransferStatus.PENDING)
    if prop in _FAILED_PROPS:
        state = TransferStatus.FAILED
    fee = row.get("fee")
    return VenueTransfer(
        id=str(row["refid"]),
        kind=kind,
        asset=ASSET_CODES.balance_asset(str(row["asset"])).asset,
        amount=dec(row["amount"]),
        fee=dec(fee) if fee not in (None, "") else None,
        status=state,
        venue_status=f"{status}/{prop}" if prop else status,
        network=row.get("network") or row.get("method") or None,
        tx_id=row.get("txid") or None,
        address=row.get("info") or None,
        time=datetime.fromtimestamp(int(Decimal(str(row["time"]))), tz=UTC),
    )


def create_transfers(adapter: TradingAdapter) -> KrakenTransfers:
    """The transfer history of the account ``adapter`` (a Kraken trading adapter) trades."""
    if not isinstance(adapter, KrakenTradingAdapter):
        raise TypeError(f"a Kraken trading adapter is needed, got {type(adapter).__name__}")
    return KrakenTransfers(adapter)
