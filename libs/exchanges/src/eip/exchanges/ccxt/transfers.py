"""Deposit and withdrawal history (``TransferHistory``) on unmodified ccxt: KuCoin, Bitfinex,
HTX, Bybit, OKX and Gate.io, through ccxt's ``fetch_deposits`` / ``fetch_withdrawals``
(Bitfinex: ``fetch_deposits_withdrawals``, told apart by ccxt's ``type``).

It reads through the connection's ``CcxtTradingAdapter`` (``_call``): the secret asked from
the auth service before every call and cleared after it, every ccxt call in a decimal context
of its own, ccxt's exceptions in the contract's closed set, queries retried. What each venue
adds — how wide a window it answers, its page size, how it pages, where its own status is —
is a ``CcxtTransferProfile`` in the venue's package (``<venue>/transfers.py``). What is subtle:

- **Pages come newest first.** Every time-filtered venue here answers the newest rows of the
  asked range first, so a full page says nothing about the rows older than its oldest. The read
  walks back: the same start, the upper bound moved to the oldest row seen (+1 ms: the venues'
  bounds are not all inclusive), until a page is not full. The union is then the whole range.
  More than a page of transfers in one millisecond would stop the walk (it cannot move); the
  cursor then stays where it was (the next call reads again), never jumps a hole.
- **Windows.** Bybit and Gate.io answer at most 30 days between start and end; KuCoin and OKX
  get the same bound. A read from an old cursor walks forward one window at a time
  (``TransferPage.more``), as Binance's does; without a cursor it starts one window back.
- **HTX pages by id**, not time (``from`` + ``direct=next``, oldest first): its cursor is the
  id to read from, and a read follows the ids up to ``MAX_PAGES`` pages.
- **The cursor waits for pending transfers** (ccxt's ``pending``, or a status ccxt does not
  know) for 30 days at most, and never comes closer to now than ``SETTLE_MS``, as in
  ``binance/transfers.py``: recent transfers are read again and updated by id.
- **Amounts** are ccxt's text (``number = str``) as ``Decimal``; Bitfinex's negative withdrawal
  amounts and fees come out of ccxt positive; Gate.io's withdrawal ``amount`` includes its
  fee and ccxt subtracts it, so ``amount`` is what was sent and the fee on top, as elsewhere.
  Assets are ccxt's codes through the venue's table of balance codes
  (``registry.balance_asset``: Bitfinex ``UST`` → USDT). A deposit without an id of its own
  (KuCoin) is known by its transaction hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eip.exchanges.ccxt.parse import ms_to_utc, opt_decimal, to_decimal
from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.errors import BadRequest, TransientExchangeError
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.contract.transfers import (
    PENDING_HORIZON_MS,
    SETTLE_MS,
    TransferCursor,
    TransferKind,
    TransferPage,
    TransferStatus,
    VenueTransfer,
    cursor_position,
    pending_times,
    resume_time,
)
from eip.exchanges.registry import balance_asset

DAY_MS = 86_400_000
MAX_PAGES = 50

_STATUS = {
    "ok": TransferStatus.COMPLETED,
    "pending": TransferStatus.PENDING,
    "failed": TransferStatus.FAILED,
    "fail": TransferStatus.FAILED,  # Bybit's deposit status 4, as ccxt words it
    "canceled": TransferStatus.FAILED,
    "cancelled": TransferStatus.FAILED,
    "rejected": TransferStatus.FAILED,
}


def status_key(key: str) -> Callable[[Any], str | None]:
    """The venue's own status: field ``key`` of the row ccxt parsed."""

    def read(info: Any) -> str | None:
        value = info.get(key) if isinstance(info, Mapping) else None
        return None if value is None else str(value)

    return read


@dataclass(frozen=True)
class CcxtTransferProfile:
    """What one venue's transfer history needs on top of ccxt (``<venue>/transfers.py``)."""

    page_limit: int  # the most rows the venue answers per call
    # where the venue keeps its own status in the row ccxt got (ccxt's ``info``)
    venue_status: Callable[[Any], str | None]
    window_ms: int | None = 30 * DAY_MS  # the widest range the venue answers; None: any
    # the ccxt param of the range's upper bound in ms (most read ``until``); None: by id (HTX)
    until_param: str | None = "until"
    combined: bool = False  # one call lists both kinds (Bitfinex)
    id_param: str | None = None  # pages by id from this param, oldest first (HTX)
    id_params: Mapping[str, Any] | None = None  # sent with every id-paged call


class CcxtTransfers:
    def __init__(
        self,
        adapter: CcxtTradingAdapter,
        profile: CcxtTransferProfile,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.adapter = adapter
        self.exchange = adapter.exchange
        self.profile = profile
        self._clock = clock

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        now_ms = int(self._clock() * 1000)
        size = max(1, min(limit or self.profile.page_limit, self.profile.page_limit))
        if self.profile.id_param is not None:
            return await self._by_id(kind, cursor, size, now_ms)
        return await self._by_time(kind, cursor, size, now_ms)

    async def _fetch(
        self, kind: TransferKind, since: int | None, size: int, params: dict[str, Any]
    ) -> tuple[list[VenueTransfer], int, int | None]:
        """One call: the transfers of ``kind``, how many rows the venue answered and the
        oldest row's time in ms (of either kind: Bitfinex lists both in one page)."""
        client = self.adapter.client
        if self.profile.combined:
            fetch = client.fetch_deposits_withdrawals
        elif kind is TransferKind.DEPOSIT:
            fetch = client.fetch_deposits
        else:
            fetch = client.fetch_withdrawals
        raws = await self.adapter._call(lambda: fetch(None, since, size, params))
        if not isinstance(raws, list):
            raise BadRequest(self.exchange, f"transfers: expected a list, got {type(raws)}")
        out = []
        times = [int(raw["timestamp"]) for raw in raws if raw.get("timestamp") is not None]
        for raw in raws:
            if self.profile.combined and raw.get("type") != kind.value:
                continue  # the other kind (ccxt's ``type`` is only meant for this there)
            out.append(self._parse(kind, raw))
        return out, len(raws), min(times, default=None)

    def _parse(self, kind: TransferKind, raw: Mapping[str, Any]) -> VenueTransfer:
        try:
            return parse_transfer(self.exchange, kind, raw, self.profile.venue_status)
        except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
            raise TransientExchangeError(self.exchange, f"unreadable transfer: {exc}") from None

    async def _by_time(
        self, kind: TransferKind, cursor: TransferCursor | None, size: int, now_ms: int
    ) -> TransferPage:
        window = self.profile.window_ms
        if cursor is not None:
            start: int | None = cursor_position(self.exchange, cursor, 0)
        else:
            start = now_ms - window if window is not None else None
        end = now_ms if start is None or window is None else min(now_ms, start + window)
        found: dict[str, VenueTransfer] = {}
        upper = end
        stuck = False
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {}
            if self.profile.until_param is not None:
                params[self.profile.until_param] = upper
            got, answered, oldest = await self._fetch(kind, start, size, params)
            for item in got:
                found[item.id] = item
            if answered < size:
                break
            if oldest is None or oldest + 1 >= upper:
                stuck = True  # a full page in one millisecond: do not move past it
                break
            upper = oldest + 1
        else:
            stuck = True  # more than MAX_PAGES pages in the range: read it again next time
        transfers = sorted(found.values(), key=lambda t: (t.time, t.id))
        floor = start or 0
        if stuck:
            resume = floor
            more = False
        else:
            resume = resume_time(transfers, now_ms, default=end, floor=floor)
            more = end < now_ms and not pending_times(transfers, now_ms)
            if more:
                resume = max(resume, end)
        return _page(kind, cursor, transfers, str(resume), more)

    async def _by_id(
        self, kind: TransferKind, cursor: TransferCursor | None, size: int, now_ms: int
    ) -> TransferPage:
        assert self.profile.id_param is not None
        start = cursor_position(self.exchange, cursor, 0)
        found: dict[str, VenueTransfer] = {}
        position = start
        more = False
        for page in range(MAX_PAGES):
            # the first page from one below the cursor: HTX's documentation does not say
            # whether ``from`` is inclusive, and the cursor's own row (a pending transfer)
            # must be read again
            first = max(0, position - 1) if page == 0 else position
            params = {**(self.profile.id_params or {}), self.profile.id_param: first}
            got, answered, _ = await self._fetch(kind, None, size, params)
            for item in got:
                found[item.id] = item
            highest = max((int(t.id) for t in got), default=position)
            if answered < size or highest <= position:
                break
            position = highest
            more = page == MAX_PAGES - 1
        transfers = sorted(found.values(), key=lambda t: (int(t.id), t.time))
        horizon = now_ms - PENDING_HORIZON_MS
        pending = [
            int(t.id)
            for t in transfers
            if t.status is TransferStatus.PENDING and _ms(t.time) > horizon
        ]
        recent = [int(t.id) for t in transfers if _ms(t.time) > now_ms - SETTLE_MS]
        newest = max((int(t.id) for t in transfers), default=start)
        # ids grow with time: the oldest transfer pending or within SETTLE_MS holds the cursor
        resume = min([*pending, *recent]) if pending or recent else newest
        return _page(kind, cursor, transfers, str(max(start, resume)), more and not pending)

    async def close(self) -> None:
        """Nothing of its own: the trading adapter it reads through is closed by its owner."""


def parse_transfer(
    exchange: str,
    kind: TransferKind,
    raw: Mapping[str, Any],
    venue_status: Callable[[Any], str | None],
) -> VenueTransfer:
    """ccxt's unified transaction → the contract's transfer."""
    when = ms_to_utc(raw.get("timestamp"))
    if when is None:
        raise ValueError("a transfer without a time")
    ident = raw.get("id") or raw.get("txid")
    if not ident:
        raise ValueError("a transfer without an id")
    status = str(raw.get("status") or "")
    own = venue_status(raw.get("info"))
    fee = raw.get("fee") or {}
    fee_cost = opt_decimal(fee.get("cost")) if isinstance(fee, Mapping) else None
    updated = ms_to_utc(raw.get("updated"))
    state = _STATUS.get(status, TransferStatus.PENDING)
    return VenueTransfer(
        id=str(ident),
        kind=kind,
        asset=balance_asset(exchange, str(raw["currency"])).asset,
        amount=abs(to_decimal(raw["amount"])),
        fee=None if fee_cost is None else abs(fee_cost),
        status=state,
        venue_status=own if own is not None else status,
        network=raw.get("network") or None,
        tx_id=raw.get("txid") or None,
        # ccxt fills addressTo only on some venues (Bybit): the deposit's or the destination
        address=raw.get("address") or raw.get("addressTo") or None,
        time=when,
        completed_time=updated if state is TransferStatus.COMPLETED else None,
    )


def _page(
    kind: TransferKind,
    cursor: TransferCursor | None,
    transfers: list[VenueTransfer],
    value: str,
    more: bool,
) -> TransferPage:
    next_cursor = TransferCursor(kind, value)
    if cursor is not None and next_cursor.value == cursor.value:
        next_cursor = cursor
    return TransferPage(transfers, next_cursor, more)


def _ms(when: Any) -> int:
    return int(when.timestamp() * 1000)


def transfers_factory(profile: CcxtTransferProfile) -> Callable[[TradingAdapter], CcxtTransfers]:
    """The registry's ``create_transfers`` for a venue served by ccxt."""

    def create_transfers(adapter: TradingAdapter) -> CcxtTransfers:
        if not isinstance(adapter, CcxtTradingAdapter):
            raise TypeError(f"a ccxt trading adapter is needed, got {type(adapter).__name__}")
        return CcxtTransfers(adapter, profile)

    return create_transfers
