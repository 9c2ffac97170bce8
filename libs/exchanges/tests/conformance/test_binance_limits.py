"""Binance's request-weight limit: a placement refused for weight (429 -1003) is
``RateLimited`` with the venue's Retry-After — not placed, so safe to send again — and the
adapter's budget holds every request until then."""

from __future__ import annotations

import pytest

from eip.exchanges.contract.errors import OutcomeUnknown, RateLimited

from .harness import Desk

pytestmark = pytest.mark.integration


async def test_a_placement_over_the_weight_limit_is_rate_limited_with_retry_after(
    binance_desk: Desk,
) -> None:
    desk = binance_desk
    alice = await desk.trader()
    assert await alice.adapter.fetch_open_orders() == []  # rules and clock known
    async with desk.limits(weight_per_minute=1):
        with pytest.raises(RateLimited) as caught:
            await alice.place(alice.limit("buy"))
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.retry_after_s is not None
    assert 0 < caught.value.retry_after_s <= 60
    assert alice.adapter.status().rate_limit_headroom == 0  # held until Retry-After
    balances = await desk.sim.balances(alice.account_id)  # not placed: nothing locked
    assert balances["USDT"]["locked"] == 0
