"""Binance deposit and withdrawal history (``TransferHistory``): ``GET
/sapi/v1/capital/deposit/hisrec`` and ``GET /sapi/v1/capital/withdraw/history``.

It reads through the connection's ``BinanceTradingAdapter`` — its signing through the auth
service, server clock, weight budget, circuit breaker and error translation — so one account
has one REST client and one budget. What is subtle:

- **Windows of less than 90 days.** Both calls filter on ``startTime``/``endTime`` (deposit
  ``insertTime``, withdrawal ``applyTime``), at most 90 days apart, newest first, ``offset`` /
  ``limit`` (1,000 at most) paging inside the window. A read from an old cursor walks forward
  one window at a time (``TransferPage.more``); without a cursor it starts 90 days back, what
  Binance answers by default.
- **The cursor waits for pending transfers.** It never passes the oldest transfer not final yet
  (deposit ``status`` 0 or 8; withdrawal 0, 2 or 4; for 30 days at most), and never comes
  closer to now than ``SETTLE_MS`` (a transfer may be listed a little after its own time), so
  recent transfers are read again and updated by id.
- **Times.** Deposits carry ms; a withdrawal's ``applyTime`` is ``"YYYY-MM-DD HH:MM:SS"`` in
  UTC, whole seconds.
- **Amounts.** A withdrawal's ``amount`` is what was sent, ``transactionFee`` charged on top;
  deposits carry no fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from eip.exchanges.binance.assets import ASSET_CODES
from eip.exchanges.binance.trading import BinanceTradingAdapter
from eip.exchanges.binance.trading_wire import dec, ms_to_utc
from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.contract.transfers import (
    TransferCursor,
    TransferKind,
    TransferPage,
    TransferStatus,
    VenueTransfer,
    cursor_position,
    pending_times,
    resume_time,
)

EXCHANGE = "binance"
PATHS = {
    TransferKind.DEPOSIT: "/sapi/v1/capital/deposit/hisrec",
    TransferKind.WITHDRAWAL: "/sapi/v1/capital/withdraw/history",
}
MAX_LIMIT = 1000
WINDOW_MS = 90 * 86_400_000 - 60_000  # "less than 90 days" between startTime and endTime
MAX_PAGES = 50  # per window: 50,000 transfers; more than that is read on the next call

_DEPOSIT_STATUS = {
    "0": TransferStatus.PENDING,
    "8": TransferStatus.PENDING,  # waiting for the user's confirmation
    "1": TransferStatus.COMPLETED,
    "6": TransferStatus.COMPLETED,  # credited, not withdrawable yet
    "2": TransferStatus.FAILED,  # rejected
    "7": TransferStatus.FAILED,  # wrong deposit
}
_WITHDRAWAL_STATUS = {
    "0": TransferStatus.PENDING,  # email sent
    "2": TransferStatus.PENDING,  # awaiting approval
    "4": TransferStatus.PENDING,  # processing
    "6": TransferStatus.COMPLETED,
    "1": TransferStatus.FAILED,  # cancelled
    "3": TransferStatus.FAILED,  # rejected
    "5": TransferStatus.FAILED,  # failure
}


class BinanceTransfers:
    exchange = EXCHANGE

    def __init__(self, adapter: BinanceTradingAdapter) -> None:
        self.adapter = adapter

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        now_ms = await self.adapter.clock.now_ms()
        start = cursor_position(EXCHANGE, cursor, now_ms - WINDOW_MS)
        end = min(now_ms, start + WINDOW_MS)
        size = max(1, min(limit or MAX_LIMIT, MAX_LIMIT))
        rows: list[Mapping[str, Any]] = []
        for page in range(MAX_PAGES):
            params = {"startTime": start, "endTime": end, "offset": page * size, "limit": size}
            # a read: retried by the REST loop like any other (adapter._signed is the
            # package's one signed call)
            got = await self.adapter._signed("GET", PATHS[kind], params)
            if not isinstance(got, list):
                raise BadRequest(EXCHANGE, f"{PATHS[kind]}: expected a list, got {type(got)}")
            rows.extend(got)
            if len(got) < size:
                break
        parse = deposit if kind is TransferKind.DEPOSIT else withdrawal
        found: dict[str, VenueTransfer] = {}
        for row in rows:
            item = parse(row)
            found[item.id] = item
        transfers = sorted(found.values(), key=lambda t: (t.time, t.id))
        resume = resume_time(transfers, now_ms, default=end, floor=start)
        more = end < now_ms and not pending_times(transfers, now_ms)
        if more:
            resume = max(resume, end)
        next_cursor = TransferCursor(kind, str(resume))
        if cursor is not None and next_cursor.value == cursor.value:
            next_cursor = cursor
        return TransferPage(transfers, next_cursor, more)

    async def close(self) -> None:
        """Nothing of its own: the trading adapter it reads through is closed by its owner."""


def deposit(row: Mapping[str, Any]) -> VenueTransfer:
    """One ``deposit/hisrec`` row."""
    status = str(row.get("status"))
    complete = row.get("completeTime")
    return VenueTransfer(
        id=str(row.get("id") or row["txId"]),
        kind=TransferKind.DEPOSIT,
        asset=ASSET_CODES.balance_asset(str(row["coin"])).asset,
        amount=dec(row["amount"]),
        fee=None,
        status=_DEPOSIT_STATUS.get(status, TransferStatus.PENDING),
        venue_status=status,
        network=row.get("network") or None,
        tx_id=row.get("txId") or None,
        address=row.get("address") or None,
        time=ms_to_utc(int(row["insertTime"])),
        completed_time=ms_to_utc(int(complete)) if complete else None,
    )


def withdrawal(row: Mapping[str, Any]) -> VenueTransfer:
    """One ``withdraw/history`` row."""
    status = str(row.get("status"))
    fee = row.get("transactionFee")
    complete = row.get("completeTime")
    return VenueTransfer(
        id=str(row["id"]),
        kind=TransferKind.WITHDRAWAL,
        asset=ASSET_CODES.balance_asset(str(row["coin"])).asset,
        amount=dec(row["amount"]),
        fee=dec(fee) if fee is not None else None,
        status=_WITHDRAWAL_STATUS.get(status, TransferStatus.PENDING),
        venue_status=status,
        network=row.get("network") or None,
        tx_id=row.get("txId") or None,
        address=row.get("address") or None,
        time=_utc_text(str(row["applyTime"])),
        completed_time=_utc_text(str(complete)) if complete else None,
    )


def _utc_text(text: str) -> datetime:
    """``2019-10-12 11:12:02`` (UTC, as Binance writes withdrawal times)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def create_transfers(adapter: TradingAdapter) -> BinanceTransfers:
    """The transfer history of the account ``adapter`` (a Binance trading adapter) trades."""
    if not isinstance(adapter, BinanceTradingAdapter):
        raise TypeError(f"a Binance trading adapter is needed, got {type(adapter).__name__}")
    return BinanceTransfers(adapter)
