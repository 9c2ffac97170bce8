"""OKX's order-book checksum, as documented for the v5 ``books`` channels.

Take up to 25 best bids (price descending) and asks (price ascending) and interleave them
``bid1, ask1, bid2, ask2, ...`` (a shorter side simply ends); write each level as
``price:size`` with the venue's own strings, join everything with ``:``, CRC32 it and compare
as a signed 32-bit integer. The strings must be the ones OKX sent (``"0.0025"`` is not
``"0.00250"``), so callers keep them beside the book.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

DEPTH = 25


def checksum_string(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> str:
    """``bids``/``asks`` best first, as the venue's strings."""
    parts: list[str] = []
    for i in range(min(DEPTH, max(len(bids), len(asks)))):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    return ":".join(parts)


def checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    value = zlib.crc32(checksum_string(bids, asks).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
