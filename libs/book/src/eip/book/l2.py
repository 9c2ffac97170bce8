"""L2 book: the contract every adapter and the service code against.

Design. The levels live in a Rust core (``eip.book._native.L2BookCore``, sources in
``libs/book/rust/``) that this class extends; everything that runs per level is native:

- Each side is a ``Vec`` of (price ticks, size ticks) sorted worst to best: the best level is
  the last element, so the top of book is O(1). A level is found by a search that gallops from
  the top, O(log d) for a level d places deep, and inserting or removing it moves only the d
  elements above it. On the recorded Binance diffs half the updated levels are within 4 places
  of the top and 90% within 33, where this is 1.5x faster than a ``BTreeMap``; a ``BTreeMap``
  only wins on updates spread evenly over thousands of levels (numbers: ``rust/side.rs``,
  ``examples/side_vs_btreemap.rs``).
- Prices and sizes are ``u128`` integer ticks (value * 10**decimals): exact, no float. Decimal
  strings are parsed by hand; more non-zero fractional digits than the book keeps, negative
  sizes, non-positive prices, NaN/Infinity, text that is not a plain decimal (which used to
  raise ``decimal.InvalidOperation``) and values of 2**128 ticks or more raise ``ValueError``
  before anything changes: a whole update is validated, then applied.
- ``apply_binance_depth(frame)`` reads a raw Binance depth frame (bytes or str) without making a
  Python object per level; that path is what the benchmark ``bench/order_book_apply.py``
  measures against the previous ``SortedDict`` implementation.

What stays in Python is the part of the contract that returns ``Decimal`` (built from the
core's exact fixed-point strings), which is per query, not per update.

Queries that accept ``depth`` refuse a negative one (``ValueError``); ``None`` means all levels.
"""

from __future__ import annotations

from decimal import Decimal

from eip.book._native import L2BookCore

Level = tuple[Decimal, Decimal]


def _level(strings: tuple[str, str] | None) -> Level | None:
    if strings is None:
        return None
    return Decimal(strings[0]), Decimal(strings[1])


def _rebuild(
    cls: type[L2Book],
    price_decimals: int,
    size_decimals: int,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
) -> L2Book:
    book = cls(price_decimals, size_decimals)
    book.replace(bids, asks)
    return book


class L2Book(L2BookCore):
    """Aggregated price levels per side. A size of zero removes the level.

    Updates, from the core:

    - ``apply(bids, asks)``: set levels; each item is ``[price, size, ...]`` (extra fields are
      ignored; a non-``str`` price or size is read through ``str()``). All levels are validated
      before any is applied, so a bad update changes nothing.
    - ``replace(bids, asks)``: load a snapshot, the book becomes exactly these levels (zero sizes
      are skipped; among duplicate prices the last wins).
    - ``apply_levels(bids, asks, depth=None) -> (bids, asks)``: ``apply``, returning the levels
      applied as ``bid_strings`` formats them; with ``depth`` also every level pushed beyond the
      ``depth`` best (size zero) and the book truncated to ``depth``: a ``BookDelta``'s levels
      for venues that keep only N levels and send no removal for those pushed out.
    - ``clear()``; ``truncate(depth)``: keep the ``depth`` best levels per side.
    - ``apply_binance_depth(frame, last_update_id=None) -> (U, u, levels_applied)``: a Binance
      ``depthUpdate`` frame as received (bare or combined-stream ``{"stream", "data"}``). With
      ``last_update_id`` it applies only when ``U <= last_update_id + 1 <= u`` (Binance's rule
      for continuing a book) and otherwise changes nothing and returns 0 levels: the caller
      tells a stale event (``u <= last_update_id``) from a gap (``U > last_update_id + 1``).
    - ``apply_binance_depth_levels(frame, last_update_id=None) -> (U, u, E, bids, asks)``: the
      same, also returning the event time ``E`` (ms, or ``None``) and the levels applied as
      ``bid_strings`` formats them (both empty when skipped): what a ``BookDelta`` carries.
    - ``replace_binance_depth_snapshot(body) -> lastUpdateId``: a REST ``/depth`` body.
    - ``level_strings(levels)``: levels validated as ``apply`` would and formatted as this book
      formats them, without changing the book.

    Queries, from the core (cheap, no ``Decimal``):

    - ``best_bid_ticks()`` / ``best_ask_ticks()``: ``(price_ticks, size_ticks)`` or ``None``.
    - ``best_bid_strings()`` / ``best_ask_strings()``, ``bid_strings(n)`` / ``ask_strings(n)``
      and ``top_strings(n) -> (bids, asks)``: fixed-point strings with the book's exact decimals,
      best first (checksums are computed from these).
    - ``kraken_checksum(depth=10)``: Kraken's CRC32 of the top levels computed from the ticks
      (equal to the documented string's when the book's decimals are the pair's).
    - ``bid_count`` / ``ask_count``, ``is_crossed()``, ``memory_bytes()`` (native heap + struct).
    """

    def best_bid(self) -> Level | None:
        return _level(self.best_bid_strings())

    def best_ask(self) -> Level | None:
        return _level(self.best_ask_strings())

    def bids(self, depth: int | None = None) -> list[Level]:
        """Best first."""
        return [(Decimal(p), Decimal(s)) for p, s in self.bid_strings(depth)]

    def asks(self, depth: int | None = None) -> list[Level]:
        """Best first."""
        return [(Decimal(p), Decimal(s)) for p, s in self.ask_strings(depth)]

    def __reduce__(self) -> tuple[object, ...]:
        # The native state is not picklable as is: rebuild from the exact strings, so copy,
        # deepcopy and pickle keep working as they did for the pure-Python book.
        return _rebuild, (
            type(self),
            self.price_decimals,
            self.size_decimals,
            self.bid_strings(),
            self.ask_strings(),
        )

    def __repr__(self) -> str:
        return (
            f"L2Book(price_decimals={self.price_decimals}, size_decimals={self.size_decimals}, "
            f"bids={self.bid_count}, asks={self.ask_count})"
        )
