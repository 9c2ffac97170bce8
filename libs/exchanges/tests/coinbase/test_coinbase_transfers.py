"""Coinbase deposits and withdrawals (``coinbase/transfers.py``): v2 transactions in the layout
of Coinbase's API reference told apart from the other transactions; and against the exchange
simulator's ledger (its Coinbase dialect serves ``/v2/accounts/{id}/transactions``), every
currency's account read, pages followed, a pending deposit holding the cursor until it
completes.

Signed in this process with the package's own ``coinbase-jwt`` signature
(``coinbase.credentials.sign_rest``, what the auth service computes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges import registry
from eip.exchanges.coinbase.credentials import sign_rest
from eip.exchanges.coinbase.transfers import CoinbaseTransfers, transfer
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.transfers import TransferKind, TransferStatus


def row(kind: str, amount: str, currency: str, status: str = "completed", **more: Any) -> Any:
    """A v2 transaction as Coinbase's reference lays it out (values ours)."""
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "status": status,
        "amount": {"amount": amount, "currency": currency},
        "native_amount": {"amount": "-10.00", "currency": "USD"},
        "description": None,
        "created_at": "2026-12-01T13:13:35-07:00",
        "updated_at": "2026-12-01T13:55:43-07:00",
        "resource": "transaction",
        "resource_path": "/v2/accounts/2bbf394c-193b-5b2a-9155-3b4732659ede/transactions/x",
        **more,
    }


def test_sends_receives_and_fiat_transfers_are_told_apart_from_other_transactions() -> None:
    sent = transfer(
        row(
            "send",
            "-0.00100000",
            "BTC",
            network={
                "status": "confirmed",
                "hash": "a1b2c3",
                "name": "bitcoin",
                "transaction_fee": {"amount": "0.00002", "currency": "BTC"},
            },
            to={"resource": "bitcoin_address", "address": "1AUJ8z5RuHRTqD1eikyfUUetzGmdWLGkpT"},
        )
    )
    assert sent is not None
    assert (sent.kind, sent.asset, sent.amount, sent.fee, sent.tx_id, sent.network) == (
        TransferKind.WITHDRAWAL,
        "BTC",
        Decimal("0.001"),
        Decimal("0.00002"),
        "a1b2c3",
        "bitcoin",
    )
    assert sent.address == "1AUJ8z5RuHRTqD1eikyfUUetzGmdWLGkpT"
    assert sent.time.utcoffset() is not None
    assert sent.time.isoformat() == "2026-12-01T20:13:35+00:00"
    received = transfer(row("send", "0.5", "ETH", status="pending"))  # from another user
    assert received is not None
    assert (received.kind, received.status, received.venue_status) == (
        TransferKind.DEPOSIT,
        TransferStatus.PENDING,
        "pending",
    )
    fiat = transfer(row("fiat_withdrawal", "-250.00", "USD", status="canceled"))
    assert fiat is not None
    assert (fiat.kind, fiat.amount, fiat.fee, fiat.status) == (
        TransferKind.WITHDRAWAL,
        Decimal(250),
        None,
        TransferStatus.FAILED,
    )
    assert transfer(row("buy", "0.01", "BTC")) is None
    assert transfer(row("staking_reward", "0.0001", "ETH")) is None


class CoinbaseSigner:
    exchange = "coinbase"

    def __init__(self, key: ApiCredentials) -> None:
        self._secret = ExchangeSecret(key.api_key, key.secret)

    async def sign(self, request: SigningRequest) -> SignedRequest:
        signed = sign_rest(self._secret, request.fields)
        return SignedRequest(self._secret.api_key, signed.signature, signed.headers)

    async def aclose(self) -> None:
        pass


@pytest_asyncio.fixture
async def account(
    clean_simulator: SimulatorClient,
) -> AsyncIterator[tuple[str, CoinbaseTransfers]]:
    sim = clean_simulator
    account_id = f"cbt-{uuid.uuid4().hex[:10]}"
    await sim.create_account(account_id, {"USD": "1000", "BTC": "1"})
    key = await sim.create_key(account_id, "read-only", venue="coinbase")
    signer = CoinbaseSigner(key)
    adapter = registry.create_trading_adapter("coinbase", signer, base_url=sim.base_url)
    history = registry.create_transfer_history("coinbase", adapter)
    assert isinstance(history, CoinbaseTransfers)
    yield account_id, history
    await adapter.close()


@pytest.mark.integration
async def test_every_currencys_transactions_are_read_and_a_pending_deposit_holds_the_cursor(
    clean_simulator: SimulatorClient, account: tuple[str, CoinbaseTransfers]
) -> None:
    account_id, history = account
    sim = clean_simulator
    made = [
        await sim.record_transfer(account_id, "deposit", "ETH", "0.5", network="ethereum")
        for _ in range(3)
    ]
    pending = await sim.record_transfer(account_id, "deposit", "BTC", "0.25", status="pending")
    usd = await sim.record_transfer(account_id, "deposit", "USD", "100")
    wd = await sim.record_transfer(
        account_id, "withdrawal", "BTC", "0.1", fee="0.0001", address="bc1qdest", tx_id="h1"
    )

    page = await history.fetch_transfers(TransferKind.DEPOSIT, limit=2)  # pages of two
    assert sorted(t.id for t in page.transfers) == sorted(
        [m["id"] for m in made] + [pending["id"], usd["id"]]
    )
    by_id = {t.id: t for t in page.transfers}
    eth = by_id[made[0]["id"]]
    assert (eth.asset, eth.amount, eth.status, eth.venue_status, eth.network) == (
        "ETH",
        Decimal("0.5"),
        TransferStatus.COMPLETED,
        "completed",
        "ethereum",
    )
    assert (by_id[usd["id"]].asset, by_id[usd["id"]].amount) == ("USD", Decimal(100))
    assert by_id[pending["id"]].status is TransferStatus.PENDING
    assert int(page.next_cursor.value) <= pending["time_ms"]

    await sim.settle_transfer(pending["id"], "completed")
    again = await history.fetch_transfers(TransferKind.DEPOSIT, page.next_cursor)
    assert {t.id: t.status for t in again.transfers}[pending["id"]] is TransferStatus.COMPLETED

    [w] = (await history.fetch_transfers(TransferKind.WITHDRAWAL)).transfers
    assert (w.id, w.asset, w.amount, w.fee, w.address, w.tx_id, w.status) == (
        wd["id"],
        "BTC",
        Decimal("0.1"),
        Decimal("0.0001"),
        "bc1qdest",
        "h1",
        TransferStatus.COMPLETED,
    )
    assert (await sim.balances(account_id))["BTC"]["free"] == Decimal("1.1499")
