"""A connection's sync driven through the TradingAdapter contract (a scripted venue), with real
PostgreSQL and Kafka: the state follows the table, balances come by REST and by the stream,
drift is corrected, outages degrade and recover, fills are stored once, and balances are
published only when they change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eip.account.connections import ConnectionState
from eip.account.publisher import BalancePublisher
from eip.account.store import AccountStore
from eip.account.sync import ConnectionSync, SyncSettings
from eip.account.valuation import PriceGraph
from eip.bus import Producer
from eip.events.topics import ACCOUNT_BALANCES, TopicSpec
from eip.exchanges.coinbase.credentials import sign_rest
from eip.exchanges.coinbase.trading import CoinbaseTradingAdapter
from eip.exchanges.coinbase.transfers import CoinbaseTransfers
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.trading import FillEvent
from eip.exchanges.contract.transfers import TransferCursor, TransferKind, TransferPage
from eip.resilience import RetryPolicy

from .conftest import record
from .helpers import eventually, published_balances
from .scripted import ScriptedVenue

pytestmark = pytest.mark.integration
FAST = SyncSettings(
    reconcile_interval_s=60,
    trade_sync_interval_s=60,
    trade_page_limit=5,
    retry_base_delay_s=0.05,
    retry_max_delay_s=0.2,
    status_interval_s=0.05,
    stream_connect_grace_s=0.5,
)


class Harness:
    def __init__(self, store: AccountStore, producer: Producer, topic: TopicSpec) -> None:
        self.store = store
        self.venue = ScriptedVenue()
        self.graph = PriceGraph()
        self.graph.update("venue", "BTC/USD", last="50000")
        self.topic = topic
        self.publisher = BalancePublisher(store, lambda: producer, topic, self.graph, "USD")
        self.sync = ConnectionSync(record(), self.venue, store, self.publisher, FAST)

    async def state(self) -> ConnectionState:
        rec = await self.store.connection("cred-1")
        assert rec is not None
        return rec.state

    async def balance(self, asset: str) -> Decimal | None:
        rows = {r.asset: r.total for r in await self.store.balances(["acct-1"])}
        return rows.get(asset)


@pytest_asyncio.fixture
async def harness(
    store: AccountStore, producer: Producer, make_topic: object
) -> AsyncIterator[Harness]:
    topic = await make_topic(ACCOUNT_BALANCES)  # type: ignore[operator]
    await store.upsert_connection(record())
    h = Harness(store, producer, topic)
    yield h
    await h.sync.stop()


async def test_a_new_connection_goes_live_with_its_balances_and_publishes_them_once(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    harness.venue.set_balance("BTC", "1.5", "0.5")
    harness.venue.set_balance("USD", "100")
    assert await harness.state() is ConnectionState.SYNCING
    harness.sync.start()
    await eventually(lambda: _is(harness, ConnectionState.LIVE), what="live")
    assert await harness.balance("BTC") == Decimal(2)
    await harness.sync.reconcile_balances()  # agrees: nothing new to publish
    records = await published_balances(kafka_bootstrap_servers, harness.topic)
    by_key = {k: m for k, m in records}
    assert len(records) == 2
    btc = by_key["acct-1:venue:BTC"]
    assert (btc.free, btc.locked, btc.total, btc.wallet) == ("1.5", "0.5", "2.0", "spot")
    assert (btc.quote_currency, Decimal(btc.quote_value)) == ("USD", Decimal(100000))
    assert btc.quote_route == "direct venue:BTC/USD"
    assert by_key["acct-1:venue:USD"].quote_route == "identity"


async def test_a_stream_push_is_applied_and_published_and_a_silent_drift_is_reconciled(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    harness.venue.set_balance("BTC", "1")
    harness.sync.start()
    await eventually(lambda: _is(harness, ConnectionState.LIVE), what="live")
    harness.venue.push_balance("BTC", "0.25", "0.75")
    await eventually(lambda: _balance_is(harness, "BTC", Decimal(1)), what="push applied")
    harness.venue.set_balance("BTC", "3")  # changed at the venue without a push
    harness.sync.refresh_balances()
    await eventually(lambda: _balance_is(harness, "BTC", Decimal(3)), what="drift corrected")
    totals = [m.total for k, m in await published_balances(kafka_bootstrap_servers, harness.topic)]
    assert totals == ["1", "1.00", "3"]


async def test_rest_and_stream_outages_degrade_and_recovery_brings_it_back_live(
    harness: Harness,
) -> None:
    harness.venue.set_balance("BTC", "1")
    harness.sync.start()
    await eventually(lambda: _is(harness, ConnectionState.LIVE), what="live")
    harness.venue.rest_down = True
    harness.venue.cut_stream()
    await eventually(lambda: _is(harness, ConnectionState.DEGRADED), what="degraded")
    harness.sync.refresh_balances()
    await eventually(lambda: _reason_has(harness, "rest"), what="rest named")
    rec = await harness.store.connection("cred-1")
    assert rec is not None
    assert rec.reason is not None
    assert "stream" in rec.reason
    harness.venue.set_balance("BTC", "2")  # a fill while everything was down
    harness.venue.rest_down = False
    await eventually(lambda: _reason_is(harness, "stream"), what="rest works again")
    assert await harness.state() is ConnectionState.DEGRADED  # the stream is still down
    harness.venue.restore_stream()
    await eventually(lambda: _is(harness, ConnectionState.LIVE), timeout_s=30, what="recovered")
    await eventually(lambda: _balance_is(harness, "BTC", Decimal(2)), what="caught up")


async def test_fills_are_synced_by_pages_with_the_cursor_and_a_streamed_fill_is_stored_once(
    harness: Harness,
) -> None:
    venue = harness.venue
    fills = [venue.fill(i) for i in range(1, 13)]
    harness.sync.start()
    await eventually(lambda: _fills_are(harness, 12), what="12 fills")
    assert venue.calls["fetch_fills"] >= 3  # pages of five
    extra = venue.fill(13)
    venue.push(FillEvent(extra, datetime.now(UTC)))
    await eventually(lambda: _fills_are(harness, 13), what="streamed fill")
    harness.sync.sync_trades()
    assert await harness.sync.sync_fills() == 0  # the cursor page brings it again: no new row
    stored = await harness.store.fills(["acct-1"])
    assert [f.trade_id for f in stored] == [f.trade_id for f in [*fills, extra]]
    cursor = await harness.store.fill_cursor("cred-1", None)
    assert cursor is not None
    assert cursor.value == "13"


async def _is(h: Harness, state: ConnectionState) -> bool:
    return await h.state() is state


async def _balance_is(h: Harness, asset: str, total: Decimal) -> bool:
    return await h.balance(asset) == total


async def _reason_has(h: Harness, text: str) -> bool:
    rec = await h.store.connection("cred-1")
    return rec is not None and text in (rec.reason or "")


async def _reason_is(h: Harness, prefix: str) -> bool:
    rec = await h.store.connection("cred-1")
    reason = (rec.reason or "") if rec is not None else ""
    return reason.startswith(prefix) and ";" not in reason


async def _fills_are(h: Harness, n: int) -> bool:
    return len(await h.store.fills(["acct-1"])) == n


PAYLOADS = Path(__file__).parents[3] / "libs" / "exchanges" / "tests" / "payloads" / "coinbase"


class CoinbaseSigner:
    """Signs in this process with a key of its own (what the auth service computes)."""

    exchange = "coinbase"

    def __init__(self) -> None:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        self._secret = ExchangeSecret("organizations/org/apiKeys/key", pem.decode())

    async def sign(self, request: SigningRequest) -> SignedRequest:
        signed = sign_rest(self._secret, request.fields)
        return SignedRequest(self._secret.api_key, signed.signature, signed.headers)

    async def aclose(self) -> None:
        pass


async def test_a_key_refused_only_its_transfers_keeps_the_connection_live_and_says_why(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Coinbase's documented answer to a key without the wallet-read scope (403
    ``invalid_scope`` on ``/v2/accounts/{id}/transactions``) through the real Coinbase transfer
    reader, while the same key's balances read: only transfers are unavailable, said once,
    retried slowly, and available again once the venue answers."""
    caplog.set_level(logging.INFO, logger="eip.account.sync")
    granted = False
    v2_calls: list[str] = []

    def venue(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v3/brokerage/accounts":
            return httpx.Response(200, content=(PAYLOADS / "accounts.json").read_bytes())
        assert path.startswith("/v2/accounts/"), path
        v2_calls.append(path)
        if not granted:
            return httpx.Response(403, content=(PAYLOADS / "v2_invalid_scope.json").read_bytes())
        return httpx.Response(200, json={"pagination": {"next_starting_after": None}, "data": []})

    coinbase = CoinbaseTradingAdapter(
        CoinbaseSigner(),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(venue)),
        retry_policy=RetryPolicy(attempts=1),
    )
    settings = replace(FAST, transfer_sync_interval_s=0.2, transfers_refused_retry_s=0.3)
    await harness.sync.stop()
    harness.venue.set_balance("BTC", "1")
    sync = ConnectionSync(
        record(),
        harness.venue,
        harness.store,
        harness.publisher,
        settings,
        transfers=CoinbaseTransfers(coinbase),
    )
    harness.sync = sync
    sync.start()
    try:
        await eventually(lambda: _is(harness, ConnectionState.LIVE), what="live")

        async def unavailable() -> bool:
            rec = await harness.store.connection("cred-1")
            return rec is not None and rec.transfers_unavailable == "permission_denied"

        await eventually(unavailable, what="transfers unavailable")
        await eventually(_count(lambda: len(v2_calls) >= 4), what="transfers tried again")
        rec = await harness.store.connection("cred-1")
        assert rec is not None
        assert (rec.state, rec.reason) == (ConnectionState.LIVE, None)  # not degraded
        transfers = rec.public()["transfers"]
        assert (transfers["available"], transfers["reason"]) == (False, "permission_denied")
        assert "HTTP 403 invalid_scope" in transfers["detail"]
        said = [r for r in caplog.records if r.getMessage().startswith("transfers unavailable")]
        assert len(said) == 1  # once, not at every try
        assert said[0].reason == "permission_denied"  # type: ignore[attr-defined]

        granted = True  # the permission granted at the venue: picked up at the next try
        await eventually(_transfers_available(harness), what="transfers available again")
        assert await harness.state() is ConnectionState.LIVE
    finally:
        await coinbase.close()


def _count(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        return check()

    return checked


def _transfers_available(h: Harness) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        rec = await h.store.connection("cred-1")
        return rec is not None and rec.public()["transfers"]["available"] is True

    return checked


class CountedTransfers:
    """A venue without transfers whose reads are counted."""

    exchange = "venue"

    def __init__(self) -> None:
        self.reads = 0

    async def fetch_transfers(
        self, kind: TransferKind, cursor: TransferCursor | None = None, limit: int | None = None
    ) -> TransferPage:
        self.reads += 1
        return TransferPage([], cursor or TransferCursor(kind, "0"))

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("intervals", "reads"), [({"venue": 0.1}, (8, None)), ({"other": 0.1}, (2, 2))]
)
async def test_a_venue_of_its_own_transfer_interval_is_synced_at_that_pace_and_others_not(
    harness: Harness, intervals: dict[str, float], reads: tuple[int, int | None]
) -> None:
    await harness.sync.stop()
    counted = CountedTransfers()
    settings = replace(FAST, transfer_sync_interval_s=60, transfer_sync_intervals=intervals)
    harness.venue.set_balance("BTC", "1")
    harness.sync = ConnectionSync(
        record(), harness.venue, harness.store, harness.publisher, settings, transfers=counted
    )
    harness.sync.start()
    await eventually(_count(lambda: counted.reads >= 2), what="the first transfer read")
    await asyncio.sleep(1.0)
    at_least, at_most = reads
    assert counted.reads >= at_least  # both kinds each sync
    if at_most is not None:
        assert counted.reads <= at_most  # the default 60 s: one sync so far
