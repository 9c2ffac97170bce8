"""Kraken's order-book checksum (WebSocket v2 ``book`` channel).

CRC32 of the top 10 asks (price ascending) then the top 10 bids (price descending), each level
written as price then quantity with the pair's fixed precision, the decimal point removed and
leading zeros stripped (docs.kraken.com, "Spot Websockets (v2) Book Checksum").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import Decimal

CHECKSUM_LEVELS = 10


def _field(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", "").lstrip("0")


def _side(levels: Iterable[tuple[Decimal, Decimal]], price_dp: int, qty_dp: int) -> str:
    return "".join(
        _field(price, price_dp) + _field(qty, qty_dp)
        for price, qty in list(levels)[:CHECKSUM_LEVELS]
    )


def book_checksum(
    asks: Iterable[tuple[Decimal, Decimal]],
    bids: Iterable[tuple[Decimal, Decimal]],
    price_decimals: int,
    qty_decimals: int,
) -> int:
    """``asks`` best (lowest) first, ``bids`` best (highest) first; unsigned 32-bit."""
    text = _side(asks, price_decimals, qty_decimals) + _side(bids, price_decimals, qty_decimals)
    return zlib.crc32(text.encode("ascii"))
