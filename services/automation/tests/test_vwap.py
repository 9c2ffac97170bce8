"""VWAP slicing (``eip.automation.vwap``): the volume profile against hand-computed windows, and
the slices it cuts — a held-back slice made up by the later ones in proportion, the last taking
exactly what is left, equal shares when no volume is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from eip.automation.vwap import slice_quantity, volume_profile

LOT = Decimal("0.00000001")
START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def at(days_before: int, hh: int, mm: int) -> datetime:
    return START.replace(hour=hh, minute=mm) - days_before * DAY


def test_each_slice_weighs_the_volume_of_its_window_on_the_days_before() -> None:
    candles = [
        (at(1, 10, 0), Decimal(1)),  # slice 0 (10:00-10:10), yesterday
        (at(1, 10, 5), Decimal(2)),  # slice 0
        (at(1, 10, 10), Decimal(4)),  # slice 1 (10:10-10:20)
        (at(1, 10, 29), Decimal(1)),  # slice 2 (10:20-10:30)
        (at(1, 10, 30), Decimal(100)),  # after the window
        (at(1, 9, 59), Decimal(100)),  # before it
        (at(2, 10, 12), Decimal(2)),  # slice 1, two days before
        (at(3, 10, 0), Decimal(50)),  # three days before: beyond profile_days = 2
        (START + timedelta(minutes=1), Decimal(100)),  # today: not history
    ]
    weights = volume_profile(candles, START, Decimal(600), 3, 2)
    assert weights == [Decimal(3), Decimal(6), Decimal(1)]


def test_slices_follow_the_weights_and_make_up_what_a_cap_held_back() -> None:
    weights = [Decimal(3), Decimal(6), Decimal(1)]
    assert slice_quantity(Decimal(1), weights, 0, LOT) == Decimal("0.3")
    assert slice_quantity(Decimal("0.7"), weights, 1, LOT) == Decimal("0.6")
    assert slice_quantity(Decimal("0.1"), weights, 2, LOT) == Decimal("0.1")
    # slice 0 capped to 0.1: the 0.9 left splits 6:1 over the slices to come
    assert slice_quantity(Decimal("0.9"), weights, 1, LOT) == Decimal("0.77142857")
    assert slice_quantity(Decimal("0.12857143"), weights, 2, LOT) == Decimal("0.12857143")


def test_without_volume_the_slices_are_equal_shares_as_a_twap() -> None:
    flat = volume_profile([], START, Decimal(60), 4, 7)
    assert flat == [Decimal(0)] * 4
    assert slice_quantity(Decimal(1), flat, 0, LOT) == Decimal("0.25")
    assert slice_quantity(Decimal("0.75"), flat, 1, LOT) == Decimal("0.25")
    assert slice_quantity(Decimal("0.5"), flat, 3, LOT) == Decimal("0.5")  # the last: all
    # weights that run out part-way: the rest in equal shares
    assert slice_quantity(Decimal(1), [Decimal(1), Decimal(0), Decimal(0)], 1, LOT) == Decimal(
        "0.5"
    )
