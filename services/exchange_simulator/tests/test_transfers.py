"""The transfer ledger: deposits credit when completed, withdrawals hold amount + fee at once
and give it back when they fail; the admin API refuses what would overdraw or settle twice."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.core.accounts import InsufficientBalance
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.transfers import TransferKind, TransferState

D = Decimal


def test_a_pending_deposit_is_listed_but_credits_only_when_completed(exchange: Exchange) -> None:
    t = exchange.record_transfer(
        "alice", TransferKind.DEPOSIT, "ETH", D("1.5"), state=TransferState.PENDING
    )
    assert exchange.accounts["alice"].balance("ETH").free == 0
    assert exchange.transfers.of("alice", TransferKind.DEPOSIT) == [t]
    exchange.settle_transfer(t.transfer_id, TransferState.COMPLETED)
    assert exchange.accounts["alice"].balance("ETH").free == D("1.5")
    with pytest.raises(ValueError, match="completed already"):
        exchange.settle_transfer(t.transfer_id, TransferState.FAILED)


def test_a_withdrawal_holds_amount_and_fee_and_a_failure_gives_them_back(
    exchange: Exchange,
) -> None:
    t = exchange.record_transfer(
        "alice", TransferKind.WITHDRAWAL, "BTC", D(2), fee=D("0.001"), state=TransferState.PENDING
    )
    assert exchange.accounts["alice"].balance("BTC").free == D("7.999")
    exchange.settle_transfer(t.transfer_id, TransferState.FAILED)
    assert exchange.accounts["alice"].balance("BTC").free == D(10)
    failed = exchange.record_transfer(
        "alice", TransferKind.WITHDRAWAL, "BTC", D(1), state=TransferState.FAILED
    )
    assert failed.state is TransferState.FAILED
    assert exchange.accounts["alice"].balance("BTC").free == D(10)
    with pytest.raises(InsufficientBalance):
        exchange.record_transfer("alice", TransferKind.WITHDRAWAL, "BTC", D(10), fee=D("0.1"))
    assert len(exchange.transfers.of("alice", TransferKind.WITHDRAWAL)) == 2


async def test_the_admin_api_records_settles_and_refuses_with_the_error_body(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    account_id = f"tr-{uuid.uuid4().hex[:10]}"
    await sim.create_account(account_id, {"USDT": "10"})
    pending = await sim.record_transfer(account_id, "deposit", "usdt", "5", status="pending")
    assert (pending["asset"], pending["status"]) == ("USDT", "pending")
    done = await sim.settle_transfer(pending["id"], "completed")
    assert done["status"] == "completed"
    assert (await sim.balances(account_id))["USDT"]["free"] == D(15)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        over = await http.post(
            f"/admin/v1/accounts/{account_id}/transfers",
            json={"kind": "withdrawal", "asset": "USDT", "amount": "15", "fee": "1"},
        )
        twice = await http.post(
            f"/admin/v1/transfers/{pending['id']}/settle", json={"status": "failed"}
        )
        listed = (await http.get(f"/admin/v1/accounts/{account_id}/transfers")).json()
    assert (over.status_code, over.json()["error"]["code"]) == (409, "insufficient_balance")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "transfer_final")
    assert [t["id"] for t in listed["transfers"]] == [pending["id"]]
    assert (await sim.balances(account_id))["USDT"]["free"] == D(15)
