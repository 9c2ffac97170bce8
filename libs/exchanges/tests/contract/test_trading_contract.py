"""The trading contract's own rules: how updates of one order are ordered, what an amend may
change natively."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from eip.exchanges.contract.trading import (
    AmendSupport,
    OrderType,
    Support,
    VenueOrder,
    VenueOrderStatus,
)


def order(sequence: int, filled: str, status: VenueOrderStatus) -> VenueOrder:
    return VenueOrder(
        exchange="x",
        symbol="BTC/USDT",
        venue_order_id="1",
        client_order_id="c",
        side="buy",
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal("1"),
        filled_quantity=Decimal(filled),
        sequence=sequence,
    )


def test_updates_in_the_same_millisecond_are_ordered_by_fill_then_status() -> None:
    accepted = order(1000, "0", VenueOrderStatus.OPEN)
    partly = order(1000, "0.4", VenueOrderStatus.PARTIALLY_FILLED)
    filled = order(1000, "1", VenueOrderStatus.FILLED)
    assert accepted.update_key() < partly.update_key() < filled.update_key()
    # a cancel of an unfilled order in the millisecond it was accepted is still newer
    assert accepted.update_key() < order(1000, "0", VenueOrderStatus.CANCELED).update_key()
    # a later sequence wins whatever the rest says
    assert filled.update_key() < order(1001, "0", VenueOrderStatus.OPEN).update_key()


statuses = st.sampled_from(list(VenueOrderStatus))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10), statuses), min_size=2))
def test_a_life_that_only_moves_forward_has_growing_keys(
    steps: list[tuple[int, int, VenueOrderStatus]],
) -> None:
    # build a plausible life: time, filled quantity and status never go back
    time, filled, rank = 0, 0, 0
    keys = []
    for dt, dfill, status in steps:
        if status.rank < rank:
            continue
        time, filled, rank = time + dt, filled + dfill, status.rank
        keys.append(order(time, str(filled), status).update_key())
    assert keys == sorted(keys)


def test_an_amend_is_native_only_when_everything_it_changes_is() -> None:
    binance = AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.EMULATED, price=Support.EMULATED
    )
    assert binance.native(quantity_down=True, quantity_up=False, price=False)
    assert not binance.native(quantity_down=True, quantity_up=False, price=True)
    assert not binance.native(quantity_down=False, quantity_up=True, price=False)
    assert not AmendSupport().native(quantity_down=True, quantity_up=False, price=False)
