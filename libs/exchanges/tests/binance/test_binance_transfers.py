"""Binance deposit and withdrawal history (``binance/transfers.py``) against the exchange
simulator's ledger: the venue's rows in the platform's vocabulary, a pending transfer that holds
the cursor back until it completes, windows walked forward from an old cursor.

Signed with the key's secret in this process (``eip.testing.signers.LocalSigner``, the HMAC
the auth service computes): the account service's end-to-end test signs through a real auth
service (``services/account/tests/test_transfers_e2e.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges import registry
from eip.exchanges.binance.transfers import WINDOW_MS, BinanceTransfers
from eip.exchanges.contract.errors import CredentialRejected
from eip.exchanges.contract.transfers import (
    TransferCursor,
    TransferKind,
    TransferStatus,
)
from eip.testing.signers import LocalSigner

pytestmark = pytest.mark.integration


async def transfers_for(sim: SimulatorClient, key: ApiCredentials) -> BinanceTransfers:
    adapter = registry.create_trading_adapter("binance", LocalSigner(key), base_url=sim.base_url)
    history = registry.create_transfer_history("binance", adapter)
    assert isinstance(history, BinanceTransfers)
    return history


@pytest_asyncio.fixture
async def account(clean_simulator: SimulatorClient) -> AsyncIterator[tuple[str, BinanceTransfers]]:
    account_id = f"tr-{uuid.uuid4().hex[:10]}"
    key = await clean_simulator.create_account_with_key(account_id, {"BTC": "1"}, "read-only")
    history = await transfers_for(clean_simulator, key)
    yield account_id, history
    await history.adapter.close()


async def test_a_deposit_and_a_withdrawal_are_read_with_exact_amounts_fees_and_statuses(
    clean_simulator: SimulatorClient, account: tuple[str, BinanceTransfers]
) -> None:
    account_id, history = account
    sim = clean_simulator
    dep = await sim.record_transfer(
        account_id, "deposit", "USDT", "250.12345678", network="TRX", tx_id="0xdep"
    )
    wd = await sim.record_transfer(
        account_id, "withdrawal", "BTC", "0.1", fee="0.0005", network="BTC", address="bc1qxyz"
    )
    deposits = await history.fetch_transfers(TransferKind.DEPOSIT)
    withdrawals = await history.fetch_transfers(TransferKind.WITHDRAWAL)

    [d] = deposits.transfers
    assert (d.id, d.asset, d.amount, d.fee, d.network, d.tx_id) == (
        dep["id"],
        "USDT",
        Decimal("250.12345678"),
        None,
        "TRX",
        "0xdep",
    )
    assert (d.status, d.venue_status) == (TransferStatus.COMPLETED, "1")
    [w] = withdrawals.transfers
    assert (w.id, w.asset, w.amount, w.fee, w.address) == (
        wd["id"],
        "BTC",
        Decimal("0.1"),
        Decimal("0.0005"),
        "bc1qxyz",
    )
    assert (w.status, w.venue_status) == (TransferStatus.COMPLETED, "6")
    assert w.time.tzinfo is not None
    assert abs(w.time - datetime.now(UTC)) < timedelta(seconds=30)
    balances = await sim.balances(account_id)
    assert balances["BTC"]["free"] == Decimal("0.8995")  # amount + fee left
    assert balances["USDT"]["free"] == Decimal("250.12345678")


async def test_a_pending_deposit_holds_the_cursor_until_it_is_credited(
    clean_simulator: SimulatorClient, account: tuple[str, BinanceTransfers]
) -> None:
    account_id, history = account
    sim = clean_simulator
    pending = await sim.record_transfer(account_id, "deposit", "ETH", "2", status="pending")
    first = await history.fetch_transfers(TransferKind.DEPOSIT)
    [p] = first.transfers
    assert p.status is TransferStatus.PENDING
    assert int(first.next_cursor.value) <= pending["time_ms"]
    assert "ETH" not in await sim.balances(account_id) or (
        (await sim.balances(account_id))["ETH"]["free"] == 0
    )

    await sim.settle_transfer(pending["id"], "completed")
    again = await history.fetch_transfers(TransferKind.DEPOSIT, first.next_cursor)
    assert [(t.id, t.status) for t in again.transfers] == [(p.id, TransferStatus.COMPLETED)]
    assert (await sim.balances(account_id))["ETH"]["free"] == Decimal(2)


async def test_an_old_cursor_walks_forward_one_window_at_a_time(
    account: tuple[str, BinanceTransfers],
) -> None:
    _, history = account
    old = int((datetime.now(UTC) - timedelta(days=200)).timestamp() * 1000)
    page = await history.fetch_transfers(
        TransferKind.WITHDRAWAL, TransferCursor(TransferKind.WITHDRAWAL, str(old))
    )
    assert page.transfers == []
    assert page.more
    assert int(page.next_cursor.value) == old + WINDOW_MS
    page = await history.fetch_transfers(TransferKind.WITHDRAWAL, page.next_cursor)
    page = await history.fetch_transfers(TransferKind.WITHDRAWAL, page.next_cursor)
    assert not page.more


async def test_a_revoked_key_is_a_credential_rejection(clean_simulator: SimulatorClient) -> None:
    account_id = f"tr-{uuid.uuid4().hex[:10]}"
    key = await clean_simulator.create_account_with_key(account_id, {}, "read-only")
    history = await transfers_for(clean_simulator, key)
    await clean_simulator.revoke_key(key.api_key)
    try:
        with pytest.raises(CredentialRejected):
            await history.fetch_transfers(TransferKind.DEPOSIT)
    finally:
        await history.adapter.close()
