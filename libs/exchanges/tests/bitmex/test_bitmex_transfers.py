"""BitMEX deposits and withdrawals (``bitmex/transfers.py``) from ``/user/walletHistory`` as
its API documentation lays the rows out (``payloads/bitmex/trading/wallet_history.json``),
served by the BitMEX stand-in that checks every signature: only ``Deposit`` / ``Withdrawal``
rows, amounts out of the currency's smallest unit, offset pages followed until the cursor's
time, the cursor waiting at a pending deposit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest_asyncio

from eip.exchanges import registry
from eip.exchanges.bitmex.trading import BitmexTradingAdapter, create_adapter
from eip.exchanges.bitmex.transfers import BitmexTransfers
from eip.exchanges.bitmex.wire import utc
from eip.exchanges.contract.transfers import TransferKind, TransferStatus
from eip.resilience import RetryPolicy
from eip.testing.bitmex_venue import BitmexVenue, SchemeSigner, Seen

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex" / "trading"
NOW = utc("2023-11-14T22:13:20.000Z").timestamp()
HISTORY: list[dict[str, Any]] = BitmexVenue(PAYLOADS).payload("wallet_history.json")["rows"]


def paged(seen: Seen) -> tuple[int, Any]:
    """Newest first, ``start`` rows skipped, ``count`` rows at most: as BitMEX pages."""
    start, count = int(seen.query.get("start", 0)), int(seen.query.get("count", 100))
    assert seen.query["currency"] == "all"
    return 200, HISTORY[start : start + count]


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[BitmexVenue]:
    double = BitmexVenue(PAYLOADS)
    double.routes[("GET", "/api/v1/user/walletHistory")] = paged
    await double.start()
    yield double
    await double.close()


@pytest_asyncio.fixture
async def history(venue: BitmexVenue) -> AsyncIterator[BitmexTransfers]:
    adapter = create_adapter(
        SchemeSigner(),
        base_url=venue.url,
        timeout_s=0.5,
        retry_policy=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02),
    )
    assert isinstance(adapter, BitmexTradingAdapter)
    made = registry.create_transfer_history("bitmex", adapter)
    assert isinstance(made, BitmexTransfers)
    yield BitmexTransfers(adapter, clock=lambda: NOW)
    await adapter.close()


async def test_deposits_and_withdrawals_come_out_of_the_wallet_history_in_whole_units(
    venue: BitmexVenue, history: BitmexTransfers
) -> None:
    deposits = await history.fetch_transfers(TransferKind.DEPOSIT, limit=2)
    withdrawals = await history.fetch_transfers(TransferKind.WITHDRAWAL)

    old, pending = deposits.transfers
    assert (old.asset, old.amount, old.status, old.venue_status, old.tx_id) == (
        "BTC",
        Decimal("0.05"),
        TransferStatus.COMPLETED,
        "Completed",
        "9d0c61e8a4c0b7f2",
    )
    assert (pending.id, pending.asset, pending.amount, pending.status) == (
        "5c2f9a10-44d8-4c1b-9a8e-1f0c7b2d3e41",
        "BTC",
        Decimal("0.0125"),
        TransferStatus.PENDING,
    )
    [sent] = withdrawals.transfers
    assert (sent.asset, sent.amount, sent.fee, sent.status, sent.address) == (
        "USDT",
        Decimal(25),
        Decimal(1),
        TransferStatus.COMPLETED,
        "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c",
    )
    assert sent.kind is TransferKind.WITHDRAWAL
    # the pending deposit holds the deposits' cursor; the withdrawal's time the other
    assert deposits.next_cursor.value == str(int(pending.time.timestamp() * 1000))
    assert withdrawals.next_cursor.value == str(int(sent.time.timestamp() * 1000))
    reads = venue.seen("GET", "/api/v1/user/walletHistory")
    assert all(r.signed for r in reads)
    assert [r.query["start"] for r in reads[:3]] == ["0", "2", "4"]  # pages of two, in order


async def test_a_read_from_the_cursor_stops_at_its_time(
    venue: BitmexVenue, history: BitmexTransfers
) -> None:
    first = await history.fetch_transfers(TransferKind.DEPOSIT, limit=2)
    before = len(venue.requests)
    again = await history.fetch_transfers(TransferKind.DEPOSIT, first.next_cursor, limit=2)
    # the pending deposit and what is newer: the first page reaches the cursor's time
    assert [t.id for t in again.transfers] == ["5c2f9a10-44d8-4c1b-9a8e-1f0c7b2d3e41"]
    assert len(venue.requests) - before == 2
    assert again.next_cursor == first.next_cursor
