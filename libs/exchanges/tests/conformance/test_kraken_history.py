"""Kraken keeps fills account-wide and pages them newest first, 50 at a time: a history longer
than a page is read oldest first behind the cursor, in small pages, with nothing missed or
repeated."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from eip.exchanges.contract.trading import FillCursor, VenueFill
from eip.exchanges.kraken.rest import ApiCounter

from .harness import Desk

pytestmark = pytest.mark.integration

FILLS = 60  # more than one of Kraken's pages


async def test_a_history_longer_than_a_page_reads_oldest_first_without_a_gap(
    kraken_desk: Desk,
) -> None:
    desk = kraken_desk
    async with httpx.AsyncClient(base_url=desk.sim.base_url) as admin:
        lifted = {"api_max": 1e9, "api_decay_per_s": 1e9, "order_max": 1e9}
        (await admin.post("/admin/v1/kraken/rate-limits", json=lifted)).raise_for_status()
    seller = await desk.trader({"BTC": "1"}, api_counter=ApiCounter(1e9, 1e9))
    buyer = await desk.trader({"USDT": "100000"}, api_counter=ApiCounter(1e9, 1e9))
    await seller.place(seller.limit("sell", Decimal("0.6")))
    for _ in range(FILLS):
        await buyer.place(buyer.market("buy", Decimal("0.01")))

    read: list[VenueFill] = []
    cursor: FillCursor | None = None
    pages = 0
    while True:
        page = await buyer.adapter.fetch_fills(desk.harness.symbol, cursor, limit=7)
        if not page.fills:
            assert page.next_cursor == cursor
            break
        read.extend(page.fills)
        cursor = page.next_cursor
        pages += 1
    assert pages == -(-FILLS // 7)
    assert len(read) == FILLS
    assert len({(f.trade_id, f.venue_order_id) for f in read}) == FILLS  # none twice
    assert [int(f.trade_id) for f in read] == sorted(int(f.trade_id) for f in read)
    assert sum(f.quantity for f in read) == Decimal("0.6")
    # the first page is the oldest fills, as a single large read has them
    everything = await buyer.adapter.fetch_fills(desk.harness.symbol, limit=1000)
    assert [f.trade_id for f in everything.fills] == [f.trade_id for f in read]
