"""Binance's own trap: a signed request outside the venue's time window is refused (-1021).
The adapter measures the venue's clock again and the next request is on time — a read retries
by itself, a placement is sent once more with a fresh stamp (refused before the matching
engine, it placed nothing; refused again, it raises ``ClockRejected``: not placed, never
``OutcomeUnknown``), and the stream subscribes once the clock is right."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .harness import ZERO, Desk

pytestmark = pytest.mark.integration


async def test_a_venue_clock_that_moved_costs_one_refusal_then_requests_are_on_time(
    binance_desk: Desk,
) -> None:
    desk = binance_desk
    alice = await desk.trader()
    assert await alice.balance("USDT") == (Decimal("100000"), ZERO)  # clock measured once
    await desk.sim.skew_clock(20_000)  # the venue is now 20 s ahead: our stamps look stale
    try:
        errors = alice.adapter.status().errors
        placed = await alice.place(alice.limit("buy"))  # refused once, measured, sent again
        assert placed.status.is_open
        assert alice.adapter.status().errors == errors + 1
        assert "-1021" in alice.adapter.status().detail
        assert len(await alice.adapter.fetch_open_orders()) == 1  # placed once
        await desk.sim.skew_clock(-20_000)  # and back the other way: a read retries by itself
        assert len(await alice.adapter.fetch_open_orders()) == 1
        await desk.sim.skew_clock(0)  # moved again: the stream's first subscription is refused
        errors = alice.adapter.status().errors
        log = await desk.events(alice)  # and the next one, after measuring, is on time
        assert log.error is None
        assert alice.adapter.status().errors == errors + 1
        assert "-1021" in alice.adapter.status().detail
    finally:
        await desk.sim.skew_clock(0)
