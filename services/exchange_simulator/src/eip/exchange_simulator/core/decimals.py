"""Decimal text for the wire, exchange-neutral."""

from __future__ import annotations

from decimal import Decimal


def fixed(value: Decimal, places: int) -> str:
    """``value`` with at least ``places`` decimals, more if it has them: a size recorded with
    finer precision than today's lot step is sent as it is, never rounded."""
    exponent = value.normalize().as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:.{max(places, own)}f}"
