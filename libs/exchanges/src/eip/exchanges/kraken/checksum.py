"""Kraken's book checksum (WebSocket v1 ``"c"`` and v2 ``checksum``), exactly as documented.

Take the 10 best asks (price ascending) then the 10 best bids (price descending); for each
level write price then quantity with the pair's fixed decimals, drop the ``.`` and the leading
zeros; concatenate everything and CRC32 it (zlib, compared as an unsigned 32-bit integer).
Sources: docs.kraken.com "Spot Websocket Book v1/v2" guides and Kraken's sample client
``krakenfx/kraken-sample-ws-api-v2-client`` ``examples/build_book.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from eip.book import L2Book

DEPTH = 10


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def checksum_string(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> str:
    """Asks best (lowest) first, bids best (highest) first, already fixed-point strings."""
    return "".join(_digits(p) + _digits(q) for p, q in (*asks, *bids))


def book_checksum(book: L2Book) -> int:
    """The checksum of ``book``'s top 10 per side, formatted with the book's own decimals.

    Computed by the core from the integer ticks (the digits of a fixed-point string without its
    dot and leading zeros are the tick count's); ``checksum_string`` is the documented form the
    tests compare it with."""
    return book.kraken_checksum(DEPTH)
