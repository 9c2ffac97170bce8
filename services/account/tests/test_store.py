"""PostgreSQL: balances change only when they differ, a snapshot zeroes what it lacks, history
keeps every change, and a page of fills is stored with its cursor or not at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from eip.account.store import AccountStore
from eip.exchanges.contract.trading import AssetBalance, FillCursor

from .conftest import record
from .scripted import ScriptedVenue

pytestmark = pytest.mark.integration
D = Decimal
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


async def test_a_snapshot_that_agrees_changes_nothing_and_writes_no_history(
    store: AccountStore,
) -> None:
    rec = record()
    await store.upsert_connection(rec)
    first = [AssetBalance("BTC", D("1.5"), D("0.5")), AssetBalance("USD", D(100), D(0))]
    assert len(await store.apply_balances(rec, first, snapshot=True, source="rest", at=T0)) == 2
    assert await store.apply_balances(rec, first, snapshot=True, source="rest", at=T0) == []
    points = await store.history(["acct-1"], T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(p.asset, p.total) for p in points] == [("BTC", D(2)), ("USD", D(100))]


async def test_a_snapshot_zeroes_an_asset_it_no_longer_lists_and_a_delta_does_not(
    store: AccountStore,
) -> None:
    rec = record()
    await store.upsert_connection(rec)
    await store.apply_balances(
        rec,
        [AssetBalance("BTC", D(1), D(0)), AssetBalance("ETH", D(2), D(0))],
        snapshot=True,
        source="rest",
        at=T0,
    )
    delta = await store.apply_balances(
        rec, [AssetBalance("BTC", D(3), D(0))], snapshot=False, source="stream", at=T0
    )
    assert [(c.asset, c.free) for c in delta] == [("BTC", D(3))]
    snap = await store.apply_balances(
        rec, [AssetBalance("BTC", D(3), D(0))], snapshot=True, source="rest", at=T0
    )
    assert [(c.asset, c.free) for c in snap] == [("ETH", D(0))]
    rows = {r.asset: r.total for r in await store.balances(["acct-1"])}
    assert rows == {"BTC": D(3), "ETH": D(0)}


async def test_wallets_are_kept_apart_and_two_spellings_of_one_asset_add_up(
    store: AccountStore,
) -> None:
    rec = record()
    await store.upsert_connection(rec)
    await store.apply_balances(
        rec,
        [
            AssetBalance("DOT", D(5), D(0)),
            AssetBalance("DOT", D(7), D(0), "staked"),
            AssetBalance("BTC", D(1), D(0)),
            AssetBalance("BTC", D(2), D(0)),
        ],
        snapshot=True,
        source="rest",
        at=T0,
    )
    rows = {(r.asset, r.wallet): r.total for r in await store.balances(["acct-1"])}
    assert rows == {("BTC", "spot"): D(3), ("DOT", "spot"): D(5), ("DOT", "staked"): D(7)}


async def test_a_fill_page_and_its_cursor_are_one_transaction_and_fills_are_stored_once(
    store: AccountStore,
) -> None:
    rec = record()
    await store.upsert_connection(rec)
    venue = ScriptedVenue()
    fills = [venue.fill(i) for i in range(1, 4)]
    assert await store.store_stream_fill(rec, fills[0])
    new = await store.store_fill_page(rec, "BTC/USD", fills, FillCursor("BTC/USD", "3"))
    assert new == 2  # the stream had brought the first
    assert await store.fill_cursor("cred-1", "BTC/USD") == FillCursor("BTC/USD", "3")
    assert not await store.store_stream_fill(rec, fills[2])
    assert [f.trade_id for f in await store.fills(["acct-1"])] == ["1", "2", "3"]

    # the second fill breaks the table's CHECK: the first must not stay, nor the cursor move
    broken = [venue.fill(4), replace(venue.fill(5), side="nonsense")]  # type: ignore[arg-type]
    with pytest.raises(psycopg.errors.CheckViolation):
        await store.store_fill_page(rec, "BTC/USD", broken, FillCursor("BTC/USD", "5"))
    assert await store.fill_cursor("cred-1", "BTC/USD") == FillCursor("BTC/USD", "3")
    assert len(await store.fills(["acct-1"])) == 3


async def test_trades_page_oldest_first_with_filters(store: AccountStore) -> None:
    rec = record()
    await store.upsert_connection(rec)
    venue = ScriptedVenue()
    fills = [venue.fill(i, side="buy" if i % 2 else "sell") for i in range(1, 8)]
    await store.store_fill_page(rec, "BTC/USD", fills, FillCursor("BTC/USD", "7"))
    page = await store.fills(["acct-1"], limit=3)
    assert [f.trade_id for f in page] == ["1", "2", "3"]
    rest = await store.fills(["acct-1"], after=(page[-1].time, page[-1].seq))
    assert [f.trade_id for f in rest] == ["4", "5", "6", "7"]
    sells = await store.fills(["acct-1"], side="sell")
    assert [f.trade_id for f in sells] == ["2", "4", "6"]
    assert await store.fills(["another"]) == []
