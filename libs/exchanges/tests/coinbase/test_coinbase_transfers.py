"""Coinbase deposits and withdrawals (``coinbase/transfers.py``): v2 transactions in the layout
of Coinbase's API reference told apart from the other transactions; and against the exchange
simulator's ledger (its Coinbase dialect serves ``/v2/accounts/{id}/transactions``), every
currency's account read, pages followed, a pending deposit holding the cursor until it
completes.

Signed in this process with the package's own ``coinbase-jwt`` signature
(``coinbase.credentials.sign_rest``, what the auth service computes).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges import registry
from eip.exchanges.coinbase.credentials import sign_rest
from eip.exchanges.coinbase.trading import CoinbaseTradingAdapter
from eip.exchanges.coinbase.transfers import CoinbaseTransfers, transfer
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.transfers import SETTLE_MS, TransferKind, TransferStatus


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


@pytest.mark.integration
async def test_a_read_lists_the_accounts_once_and_reads_only_those_whose_balance_moved(
    clean_simulator: SimulatorClient,
) -> None:
    """The cost of a sync, counted from the requests the adapter sent to the simulator: after
    a first read of every currency's account, a read lists the accounts (one call per 250)
    and reads the transactions of an account only when its balance moved, while it holds a
    pending transfer, or at the hourly read of them all (issue 14: one v2 call per currency
    per kind and sync neared the v2 API's 10,000 calls an hour)."""
    sim = clean_simulator
    account_id = f"cbc-{uuid.uuid4().hex[:10]}"
    await sim.create_account(account_id, {"USD": "1000", "BTC": "1", "ETH": "2"})
    key = await sim.create_key(account_id, "read-only", venue="coinbase")
    sent: list[str] = []

    async def log(request: httpx.Request) -> None:
        sent.append(request.url.path)

    adapter = CoinbaseTradingAdapter(
        CoinbaseSigner(key),
        rest_base_url=sim.base_url,
        http_client=httpx.AsyncClient(event_hooks={"request": [log]}),
    )
    now = [time.time()]
    history = CoinbaseTransfers(adapter, clock=lambda: now[0])

    def calls() -> tuple[int, int]:
        """(v3 account listings, v2 transaction reads) since the last look."""
        listings = sum(p == "/api/v3/brokerage/accounts" for p in sent)
        reads = sum(p.startswith("/v2/accounts/") for p in sent)
        sent.clear()
        return listings, reads

    try:
        pending = await sim.record_transfer(account_id, "deposit", "ETH", "0.5", status="pending")
        first = await history.fetch_transfers(TransferKind.DEPOSIT)
        assert [t.id for t in first.transfers] == [pending["id"]]
        listings, everyone = calls()  # the first read: every currency's account
        assert listings == 1
        assert everyone >= 3  # USD, BTC, ETH and the simulator's other listed currencies

        # nothing moved: the listing, and the one account holding a pending deposit
        again = await history.fetch_transfers(TransferKind.DEPOSIT, first.next_cursor)
        assert calls() == (1, 1)
        assert [t.id for t in again.transfers] == [pending["id"]]

        # a deposit moves BTC's balance: that account is read (and ETH's, still pending)
        btc = await sim.record_transfer(account_id, "deposit", "BTC", "0.25")
        moved = await history.fetch_transfers(TransferKind.DEPOSIT, again.next_cursor)
        assert calls() == (1, 2)
        assert btc["id"] in {t.id for t in moved.transfers}

        # the pending deposit completes (ETH moves): read once more, then no account at all
        await sim.settle_transfer(pending["id"], "completed")
        settled = await history.fetch_transfers(TransferKind.DEPOSIT, moved.next_cursor)
        assert calls() == (1, 1)
        by_id = {t.id: t.status for t in settled.transfers}
        assert by_id[pending["id"]] is TransferStatus.COMPLETED
        quiet = await history.fetch_transfers(TransferKind.DEPOSIT, settled.next_cursor)
        assert calls() == (1, 0)
        assert quiet.transfers == []

        # an hour on: every account again
        now[0] += 3601
        await history.fetch_transfers(TransferKind.DEPOSIT, quiet.next_cursor)
        assert calls() == (1, everyone)
    finally:
        await adapter.close()


class ListedAccounts:
    """Coinbase's two lists as a test sets them: ``accounts`` (uuid, available, hold) and each
    account's v2 transactions; answers ``_signed`` as the trading adapter would."""

    def __init__(self) -> None:
        self.balances: dict[str, str] = {}
        self.rows: dict[str, list[Any]] = {}
        self.read: list[str] = []

    async def _signed(
        self, method: str, path: str, query: list[tuple[str, str]], prefix: str = "x"
    ) -> Any:
        if path == "/accounts":
            accounts = [
                {"uuid": a, "available_balance": {"value": v}, "hold": {"value": "0"}}
                for a, v in self.balances.items()
            ]
            return {"accounts": accounts, "has_next": False}
        account = path.split("/")[3]
        self.read.append(account)
        return {"data": self.rows.get(account, []), "pagination": {}}


async def test_an_account_left_unread_holds_the_cursor_at_its_last_read_less_the_settle_time() -> (
    None
):
    """A transfer may be listed up to SETTLE_MS after its own time. An account skipped
    because its balance did not move may list one later (a pending deposit moves no balance):
    the cursor must not have passed it when that account is read again."""
    venue = ListedAccounts()
    venue.balances = {"a": "1", "b": "1"}
    t0 = 1_800_000_000.0
    now = [t0]
    history = CoinbaseTransfers(venue, clock=lambda: now[0])  # type: ignore[arg-type]
    first = await history.fetch_transfers(TransferKind.DEPOSIT)
    assert sorted(venue.read) == ["a", "b"]

    # 20 minutes on, b received a deposit (its balance moved); a did not move
    now[0] = t0 + 20 * 60
    venue.balances["b"] = "2"
    at = datetime.fromtimestamp(t0 + 15 * 60, UTC).isoformat()
    venue.rows["b"] = [row("receive", "1", "BTC", created_at=at, updated_at=at)]
    venue.read.clear()
    second = await history.fetch_transfers(TransferKind.DEPOSIT, first.next_cursor)
    assert venue.read == ["b"]
    assert len(second.transfers) == 1
    # b alone would move the cursor to now - SETTLE_MS; a, read last at t0, holds it back
    assert int(second.next_cursor.value) == int(t0 * 1000) - SETTLE_MS

    # a now lists a deposit made at t0 + 5 min (listed late), and later its balance moves
    late = datetime.fromtimestamp(t0 + 5 * 60, UTC).isoformat()
    venue.rows["a"] = [row("receive", "3", "ETH", created_at=late, updated_at=late)]
    venue.balances["a"] = "4"
    now[0] = t0 + 30 * 60
    third = await history.fetch_transfers(TransferKind.DEPOSIT, second.next_cursor)
    assert [t.asset for t in third.transfers if t.amount == 3] == ["ETH"]  # not passed
