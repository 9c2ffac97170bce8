"""Kraken deposit and withdrawal status (``kraken/transfers.py``) against the exchange
simulator's ledger: Kraken's names and statuses in the platform's vocabulary, the cursor pages
followed, a pending deposit that holds the cursor back until it succeeds.

Signed in this process with the package's own ``kraken-rest`` signature
(``kraken.credentials.sign_rest``, what the auth service computes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient
from eip.exchanges import registry
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.transfers import TransferKind, TransferStatus
from eip.exchanges.kraken.credentials import sign_rest
from eip.exchanges.kraken.transfers import KrakenTransfers

pytestmark = pytest.mark.integration


class KrakenSigner:
    exchange = "kraken"

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
) -> AsyncIterator[tuple[str, KrakenTransfers]]:
    sim = clean_simulator
    account_id = f"ktr-{uuid.uuid4().hex[:10]}"
    await sim.create_account(account_id, {"USD": "1000"})
    key = await sim.create_key(account_id, "read-only", venue="kraken")
    adapter = registry.create_trading_adapter("kraken", KrakenSigner(key), base_url=sim.base_url)
    history = registry.create_transfer_history("kraken", adapter)
    assert isinstance(history, KrakenTransfers)
    yield account_id, history
    await adapter.close()


async def test_kraken_names_and_statuses_become_the_platforms_and_pages_are_followed(
    clean_simulator: SimulatorClient, account: tuple[str, KrakenTransfers]
) -> None:
    account_id, history = account
    sim = clean_simulator
    made = [
        await sim.record_transfer(account_id, "deposit", "BTC", "0.1", network="Bitcoin")
        for _ in range(3)
    ]
    pending = await sim.record_transfer(account_id, "deposit", "ETH", "2", status="pending")
    wd = await sim.record_transfer(account_id, "withdrawal", "USD", "100", fee="5", address="bank")

    page = await history.fetch_transfers(TransferKind.DEPOSIT, limit=2)  # pages of two
    assert sorted(t.id for t in page.transfers) == sorted([m["id"] for m in made] + [pending["id"]])
    by_id = {t.id: t for t in page.transfers}
    btc = by_id[made[0]["id"]]
    assert (btc.asset, btc.amount, btc.status, btc.venue_status, btc.network) == (
        "BTC",
        Decimal("0.1"),
        TransferStatus.COMPLETED,
        "Success",
        "Bitcoin",
    )
    assert by_id[pending["id"]].status is TransferStatus.PENDING
    assert by_id[pending["id"]].asset == "ETH"
    assert int(page.next_cursor.value) <= pending["time_ms"] // 1000

    await sim.settle_transfer(pending["id"], "completed")
    again = await history.fetch_transfers(TransferKind.DEPOSIT, page.next_cursor)
    assert {t.id: t.status for t in again.transfers}[pending["id"]] is TransferStatus.COMPLETED

    [w] = (await history.fetch_transfers(TransferKind.WITHDRAWAL)).transfers
    assert (w.id, w.asset, w.amount, w.fee, w.address, w.status) == (
        wd["id"],
        "USD",
        Decimal(100),
        Decimal(5),
        "bank",
        TransferStatus.COMPLETED,
    )
    assert (await sim.balances(account_id))["USD"]["free"] == Decimal(895)
