"""Coinbase deposit and withdrawal history (``TransferHistory``): the Coinbase App API's
``GET /v2/accounts/{account_id}/transactions``, which Advanced Trade keys may read.

It reads through the connection's ``CoinbaseTradingAdapter`` (``_signed`` with the ``/v2``
prefix: the same ES256 JWT per request, signed through the auth service, over method, host and
path). What is subtle:

- **One history per currency.** Coinbase keeps an account (wallet) per currency, and its
  transactions are listed per account. The accounts are Advanced Trade's ``accounts`` (their
  ``uuid`` is the v2 account id, ``limit`` up to 250 a page, every account's balances in it).
  Reading every account's transactions at every sync cost a v2 call per currency per kind: a
  real account with hundreds of wallets synced every minute neared the v2 API's 10,000 calls
  an hour. So a read lists the accounts (one v3 call per 250) and reads the transactions only
  of those whose balance (available, hold) moved since their last read, that still hold a
  pending transfer of the kind, or that were never read by this reader; every
  ``full_read_s`` (an hour) it reads them all, for a transfer that moves no balance (one
  pending that then fails). A transfer is listed at most ``SETTLE_MS`` after its own time, so
  the cursor never passes the last read of an account skipped, less ``SETTLE_MS``: what such
  an account lists later is still after the cursor when it is read.
- **Which rows are transfers.** The list also holds trades, conversions, staking rewards and
  more. Deposits: ``receive``, ``fiat_deposit``, and ``send`` with a positive amount (funds
  received from another Coinbase user or address); withdrawals: ``send`` with a negative amount
  and ``fiat_withdrawal``. Amounts come signed; the sign is dropped. A send's network fee is
  ``network.transaction_fee`` (None elsewhere: a fiat withdrawal's fee is in a resource this
  list does not carry), its destination ``to.address``.
- **Paging** is newest first (``order=desc``) after ``starting_after`` (the last row's id,
  ``pagination.next_starting_after``); no time filter, so a read pages back from the newest row
  until it passes the cursor's time.
- **Statuses**: ``completed`` final; ``failed`` / ``expired`` / ``canceled`` failed; the others
  (``pending``, ``waiting_for_clearing``, ``waiting_for_signature``) not final. The cursor
  waits at the oldest transfer not final (30 days at most) and never comes closer to now than
  ``SETTLE_MS``, as for Binance (``binance/transfers.py``); an account read cut short by
  ``MAX_PAGES`` keeps the cursor where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eip.exchanges.coinbase.assets import ASSET_CODES
from eip.exchanges.coinbase.trading import CoinbaseTradingAdapter
from eip.exchanges.coinbase.trading_wire import EXCHANGE, dec, when
from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.contract.transfers import (
    SETTLE_MS,
    TransferCursor,
    TransferKind,
    TransferPage,
    TransferStatus,
    VenueTransfer,
    cursor_position,
    epoch_ms,
    resume_time,
)

PAGE = 100  # the v2 API's largest ``limit``
MAX_PAGES = 50  # per account and read
FULL_READ_S = 3600.0  # every account's transactions read at least this often
_STATUS = {
    "completed": TransferStatus.COMPLETED,
    "failed": TransferStatus.FAILED,
    "expired": TransferStatus.FAILED,
    "canceled": TransferStatus.FAILED,
    "cancelled": TransferStatus.FAILED,
}
_DEPOSITS = frozenset({"receive", "fiat_deposit"})
_WITHDRAWALS = frozenset({"fiat_withdrawal"})


@dataclass(frozen=True, slots=True)
class _Read:
    """An account's transactions as last read for one kind."""

    balance: tuple[str, str]  # (available, hold) as listed then
    at_ms: int  # when
    pending: bool  # a transfer of the kind still pending in it


class CoinbaseTransfers:
    exchange = EXCHANGE

    def __init__(
        self,
        adapter: CoinbaseTradingAdapter,
        clock: Callable[[], float] = time.time,
        full_read_s: float = FULL_READ_S,
    ) -> None:
        self.adapter = adapter
        self._clock = clock
        self._full_read_s = full_read_s
        self._reads: dict[TransferKind, dict[str, _Read]] = {}
        self._full_at: dict[TransferKind, float] = {}  # the last read of every account

    async def _accounts(self) -> list[tuple[str, tuple[str, str]]]:
        """(uuid, (available, hold)) of every currency's account (Advanced Trade
        ``accounts``, 250 a page)."""
        out: list[tuple[str, tuple[str, str]]] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            query = [("limit", "250")] + ([("cursor", cursor)] if cursor else [])
            body = await self.adapter._signed("GET", "/accounts", query)
            for a in body.get("accounts", []):
                balance = (
                    str((a.get("available_balance") or {}).get("value", "")),
                    str((a.get("hold") or {}).get("value", "")),
                )
                out.append((str(a["uuid"]), balance))
            cursor = body.get("cursor") or ""
            if not body.get("has_next") or not cursor:
                break
        return out

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        now_s = self._clock()
        now_ms = int(now_s * 1000)
        start = cursor_position(EXCHANGE, cursor, 0)
        size = max(1, min(limit or PAGE, PAGE))
        found: dict[str, VenueTransfer] = {}
        complete = True
        full = now_s - self._full_at.get(kind, float("-inf")) >= self._full_read_s
        reads = self._reads.setdefault(kind, {})
        listed = await self._accounts()
        skipped: list[int] = []  # when each account left unread was read last
        for account, balance in listed:
            last = reads.get(account)
            if not full and last is not None and last.balance == balance and not last.pending:
                skipped.append(last.at_ms)
                continue
            mine: dict[str, VenueTransfer] = {}
            if await self._read_account(account, kind, start, size, mine):
                pending = any(t.status is TransferStatus.PENDING for t in mine.values())
                reads[account] = _Read(balance, now_ms, pending)
            else:
                complete = False
                reads.pop(account, None)
            found.update(mine)
        for gone in reads.keys() - {account for account, _ in listed}:
            del reads[gone]
        if full and complete:
            self._full_at[kind] = now_s
        transfers = sorted(found.values(), key=lambda t: (t.time, t.id))
        # an account read cut short keeps the cursor where it was
        resume = resume_time(transfers, now_ms, default=start, floor=start) if complete else start
        if skipped:  # what a skipped account lists later may be this old
            resume = max(start, min(resume, min(skipped) - SETTLE_MS))
        next_cursor = TransferCursor(kind, str(resume))
        if cursor is not None and next_cursor.value == cursor.value:
            next_cursor = cursor
        return TransferPage(transfers, next_cursor)

    async def _read_account(
        self,
        account: str,
        kind: TransferKind,
        start: int,
        size: int,
        found: dict[str, VenueTransfer],
    ) -> bool:
        """One account's transfers of ``kind`` from ``start`` into ``found``; False when the
        read was cut short by ``MAX_PAGES``."""
        path = f"/v2/accounts/{account}/transactions"
        after = ""
        for _ in range(MAX_PAGES):
            query = [("limit", str(size)), ("order", "desc")]
            if after:
                query.append(("starting_after", after))
            # a read: retried by the REST loop like any other
            body = await self.adapter._signed("GET", path, query, prefix="")
            rows = body.get("data") if isinstance(body, Mapping) else None
            if not isinstance(rows, list):
                raise BadRequest(EXCHANGE, f"{path}: unexpected answer {type(body)}")
            passed = False
            for row in rows:
                item = transfer(row)
                if item is None:
                    continue
                if epoch_ms(item.time) < start:
                    passed = True
                elif item.kind is kind:
                    found[item.id] = item
            after = str((body.get("pagination") or {}).get("next_starting_after") or "")
            if passed or not after or not rows:
                return True
        return False

    async def close(self) -> None:
        """Nothing of its own: the trading adapter it reads through is closed by its owner."""


def transfer(row: Mapping[str, Any]) -> VenueTransfer | None:
    """One v2 transaction as a deposit or withdrawal; None for any other transaction."""
    money = row.get("amount") or {}
    amount = dec(money.get("amount"))
    created = when(row.get("created_at"))
    if amount is None or created is None:
        return None
    kind_text = str(row.get("type") or "")
    if kind_text in _DEPOSITS or (kind_text == "send" and amount > 0):
        kind = TransferKind.DEPOSIT
    elif kind_text in _WITHDRAWALS or (kind_text == "send" and amount < 0):
        kind = TransferKind.WITHDRAWAL
    else:
        return None
    status = str(row.get("status") or "")
    state = _STATUS.get(status, TransferStatus.PENDING)
    network = row.get("network") or {}
    fee = dec((network.get("transaction_fee") or {}).get("amount"))
    code = ASSET_CODES.balance_asset(str(money["currency"]))
    return VenueTransfer(
        id=str(row["id"]),
        kind=kind,
        asset=code.asset,
        amount=abs(amount) * code.scale,
        fee=None if fee is None else abs(fee) * code.scale,
        status=state,
        venue_status=status,
        network=network.get("name") or None,
        tx_id=network.get("hash") or None,
        address=(row.get("to") or {}).get("address") or None,
        time=created,
        completed_time=when(row.get("updated_at")) if state is TransferStatus.COMPLETED else None,
    )


def create_transfers(adapter: TradingAdapter) -> CoinbaseTransfers:
    """The transfer history of the account ``adapter`` (a Coinbase trading adapter) trades."""
    if not isinstance(adapter, CoinbaseTradingAdapter):
        raise TypeError(f"a Coinbase trading adapter is needed, got {type(adapter).__name__}")
    return CoinbaseTransfers(adapter)
