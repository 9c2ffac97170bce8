"""Order book apply throughput and memory: the native ``eip.book.L2Book`` beside the
``SortedDict`` implementation it replaced, both measured in the same run on the same machine.

Workload: the recorded Binance capture (``binance-spot-2021-10.jsonl``): each symbol's book is
loaded from its REST depth snapshot, then every ``@depth@100ms`` diff frame of all symbols is
replayed, in recorded order and over and over, through parse + apply + top of book:

- native:   ``book.apply_binance_depth(frame)``, then ``best_bid_ticks()``/``best_ask_ticks()``
  (and, for information: the same with the ``Decimal`` ``best_bid()``/``best_ask()``; with
  ``apply_binance_depth_levels``, which also returns the applied levels as strings for a
  ``BookDelta``; and ``orjson.loads`` + the generic ``book.apply(bids, asks)`` that venues
  without a native parser use)
- baseline: ``orjson.loads(frame)``, the previous ``L2Book.apply`` (``Decimal`` parsing to
  integer ticks, ``SortedDict`` keyed by ticks: the fairest of the Python variants, and exactly
  what the platform ran before), then the best level of each side as ticks.

Frames are routed to their symbol's book ahead of time for both (a feed knows its stream), and
the other streams of the capture (bookTicker, kline, aggTrade) are left out. Both paths are
single-threaded; rates are level updates per CPU second of this process (robust to a shared,
busy machine) with wall-clock rates beside them. Rounds alternate native and baseline and the
best round of each counts.

Memory per 1,000-level book (500 bids + 500 asks), averaged over many books: native through
the core's ``memory_bytes()`` (its exact heap + struct) and through the process RSS growth
(what ``tracemalloc`` cannot see, native allocations, plus the Python object); baseline through
``tracemalloc`` (every Python object) and the RSS growth.

    uv run python bench/order_book_apply.py [--seconds 2] [--recording PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import orjson
from sortedcontainers import SortedDict

from eip.book import L2Book
from eip.exchanges.machinery.capture import frame_payload, iter_entries, payload_text
from eip.testing.recorded import find_recorded

TARGET = 1_000_000  # level updates per second, native path, one core
RECORDING = "binance-spot-2021-10.jsonl"
DECIMALS = 8  # Binance spot sends prices and sizes with 8 decimals
MEMORY_BOOKS = 1_000
ROUNDS = 3


def _find_recording() -> Path:
    try:
        return find_recorded(RECORDING)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


# -- the baseline: L2Book as it was before the native core (SortedDict, Decimal parsing) ------


def _to_ticks(text: str, decimals: int) -> int:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {decimals} decimal places")
    return int(scaled)


class SortedDictBook:
    def __init__(self, price_decimals: int, size_decimals: int) -> None:
        self.price_decimals = price_decimals
        self.size_decimals = size_decimals
        self.bids: SortedDict = SortedDict()  # key: -price ticks, index 0 is the best bid
        self.asks: SortedDict = SortedDict()

    def _parse(self, level: Sequence[str]) -> tuple[int, int]:
        if len(level) < 2:
            raise ValueError(f"a level needs a price and a size: {level!r}")
        price = _to_ticks(str(level[0]), self.price_decimals)
        size = _to_ticks(str(level[1]), self.size_decimals)
        if price <= 0:
            raise ValueError(f"price must be positive: {level[0]!r}")
        if size < 0:
            raise ValueError(f"size must not be negative: {level[1]!r}")
        return price, size

    def apply(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        parsed_bids = [self._parse(level) for level in bids]
        parsed_asks = [self._parse(level) for level in asks]
        for price, size in parsed_bids:
            if size:
                self.bids[-price] = size
            else:
                self.bids.pop(-price, None)
        for price, size in parsed_asks:
            if size:
                self.asks[price] = size
            else:
                self.asks.pop(price, None)

    def replace(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        self.bids.clear()
        self.asks.clear()
        self.apply(bids, asks)

    def best_bid_ticks(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        key, size = self.bids.peekitem(0)
        return -key, size

    def best_ask_ticks(self) -> tuple[int, int] | None:
        return self.asks.peekitem(0) if self.asks else None


# -- workload ---------------------------------------------------------------------------------


def load(path: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """REST snapshot bodies by symbol, and (symbol, raw frame) for every depth diff."""
    snapshots: dict[str, str] = {}
    frames: list[tuple[str, str]] = []
    for _, record in iter_entries(path):
        if record["t"] == "http" and "/depth?symbol=" in record["url"]:
            symbol = record["url"].split("symbol=")[1].split("&")[0]
            snapshots[symbol] = record["data"]
        elif record["t"] == "recv":
            frame = payload_text(frame_payload(record))
            message = json.loads(frame)
            if message.get("stream", "").endswith("@depth@100ms"):
                frames.append((message["data"]["s"], frame))
    return snapshots, frames


def native_pass(books: dict[str, L2Book], frames: list[tuple[str, str]]) -> Callable[[], int]:
    routed = [(books[symbol], frame) for symbol, frame in frames]

    def one_pass() -> int:
        levels = 0
        for book, frame in routed:
            levels += book.apply_binance_depth(frame)[2]
            book.best_bid_ticks()
            book.best_ask_ticks()
        return levels

    return one_pass


def native_decimal_pass(
    books: dict[str, L2Book], frames: list[tuple[str, str]]
) -> Callable[[], int]:
    """The same, reading the top through the Decimal API most callers use."""
    routed = [(books[symbol], frame) for symbol, frame in frames]

    def one_pass() -> int:
        levels = 0
        for book, frame in routed:
            levels += book.apply_binance_depth(frame)[2]
            book.best_bid()
            book.best_ask()
        return levels

    return one_pass


def native_delta_pass(books: dict[str, L2Book], frames: list[tuple[str, str]]) -> Callable[[], int]:
    """What a feed publishing ``BookDelta`` runs: the applied levels come back as strings."""
    routed = [(books[symbol], frame) for symbol, frame in frames]

    def one_pass() -> int:
        levels = 0
        for book, frame in routed:
            _, _, _, bids, asks = book.apply_binance_depth_levels(frame)
            book.best_bid_ticks()
            book.best_ask_ticks()
            levels += len(bids) + len(asks)
        return levels

    return one_pass


def native_generic_pass(
    books: dict[str, L2Book], frames: list[tuple[str, str]]
) -> Callable[[], int]:
    """Parsed by orjson, applied through the generic ``apply``: the path other venues take."""
    routed = [(books[symbol], frame) for symbol, frame in frames]
    loads = orjson.loads

    def one_pass() -> int:
        levels = 0
        for book, frame in routed:
            data = loads(frame)["data"]
            bids, asks = data["b"], data["a"]
            book.apply(bids, asks)
            book.best_bid_ticks()
            book.best_ask_ticks()
            levels += len(bids) + len(asks)
        return levels

    return one_pass


def baseline_pass(
    books: dict[str, SortedDictBook], frames: list[tuple[str, str]]
) -> Callable[[], int]:
    routed = [(books[symbol], frame) for symbol, frame in frames]
    loads = orjson.loads

    def one_pass() -> int:
        levels = 0
        for book, frame in routed:
            data = loads(frame)["data"]
            bids, asks = data["b"], data["a"]
            book.apply(bids, asks)
            book.best_bid_ticks()
            book.best_ask_ticks()
            levels += len(bids) + len(asks)
        return levels

    return one_pass


def measure(one_pass: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(level updates per CPU second, per wall second) over at least ``seconds``."""
    levels = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        levels += one_pass()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return levels / cpu, levels / wall


# -- memory -----------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thousand_levels() -> tuple[list[list[str]], list[list[str]]]:
    bids = [[f"{0.5 - i * 1e-4:.8f}", f"{1000 + i}.12345678"] for i in range(500)]
    asks = [[f"{0.5001 + i * 1e-4:.8f}", f"{2000 + i}.5"] for i in range(500)]
    return bids, asks


def rss_per_book(make: Callable[[], object]) -> float:
    """Process RSS growth per book over MEMORY_BOOKS books: sees native and Python memory."""
    gc.collect()
    before = _rss()
    books = [make() for _ in range(MEMORY_BOOKS)]
    return (_rss() - before) / len(books)


def traced_per_book(make: Callable[[], object]) -> float:
    """Python allocations per book (tracemalloc, run apart: its own bookkeeping costs RSS)."""
    gc.collect()
    tracemalloc.start()
    try:
        books = [make() for _ in range(MEMORY_BOOKS)]
        return tracemalloc.get_traced_memory()[0] / len(books)
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="per round for native and baseline"
    )
    parser.add_argument("--recording", type=Path, default=None)
    args = parser.parse_args()
    snapshots, frames = load(args.recording or _find_recording())
    levels_per_pass = sum(
        len(json.loads(f)["data"]["b"]) + len(json.loads(f)["data"]["a"]) for _, f in frames
    )

    native_books = {s: L2Book(DECIMALS, DECIMALS) for s in snapshots}
    baseline_books = {s: SortedDictBook(DECIMALS, DECIMALS) for s in snapshots}
    for symbol, body in snapshots.items():
        native_books[symbol].replace_binance_depth_snapshot(body)
        parsed = orjson.loads(body)
        baseline_books[symbol].replace(parsed["bids"], parsed["asks"])
    native, baseline = native_pass(native_books, frames), baseline_pass(baseline_books, frames)

    def same_tops() -> None:
        # Replaying the frames again sets the same levels, so both books always agree.
        for symbol, book in native_books.items():
            base = baseline_books[symbol]
            native_top = (book.best_bid_ticks(), book.best_ask_ticks())
            if native_top != (base.best_bid_ticks(), base.best_ask_ticks()):
                raise SystemExit(f"native and baseline books differ for {symbol}")

    same_tops()
    decimal_top = native_decimal_pass(native_books, frames)
    generic = native_generic_pass(native_books, frames)
    delta = native_delta_pass(native_books, frames)
    rates: dict[str, list[tuple[float, float]]] = {
        "native": [],
        "baseline": [],
        "decimal": [],
        "generic": [],
        "delta": [],
    }
    for _ in range(ROUNDS):
        rates["native"].append(measure(native, args.seconds))
        rates["decimal"].append(measure(decimal_top, args.seconds / 4))
        rates["generic"].append(measure(generic, args.seconds / 4))
        rates["delta"].append(measure(delta, args.seconds / 4))
        rates["baseline"].append(measure(baseline, args.seconds))
    same_tops()
    n_cpu, n_wall = max(rates["native"])
    b_cpu, b_wall = max(rates["baseline"])
    d_cpu, _ = max(rates["decimal"])
    g_cpu, _ = max(rates["generic"])
    l_cpu, _ = max(rates["delta"])

    bids, asks = thousand_levels()

    def make_native() -> L2Book:
        book = L2Book(DECIMALS, DECIMALS)
        book.replace(bids, asks)
        return book

    def make_baseline() -> SortedDictBook:
        book = SortedDictBook(DECIMALS, DECIMALS)
        book.replace(bids, asks)
        return book

    native_rss = rss_per_book(make_native)
    native_exact = make_native().memory_bytes()
    base_rss = rss_per_book(make_baseline)
    base_traced = traced_per_book(make_baseline)

    ok = n_cpu >= TARGET
    print(
        f"replay: {len(frames)} depth frames, {levels_per_pass} level updates per pass, "
        f"{len(snapshots)} symbols; best of {ROUNDS} rounds"
    )
    print(f"{'measure':<40}{'native':>14}{'baseline':>14}{'ratio':>8}{'target':>12}")
    print(
        f"{'level updates/s per CPU second':<40}{n_cpu:>14,.0f}{b_cpu:>14,.0f}"
        f"{n_cpu / b_cpu:>8.1f}{TARGET:>12,}"
    )
    print(
        f"{'level updates/s wall clock':<40}{n_wall:>14,.0f}{b_wall:>14,.0f}{n_wall / b_wall:>8.1f}"
    )
    print(
        f"{'  same, top of book as Decimal':<40}{d_cpu:>14,.0f}{b_cpu:>14,.0f}{d_cpu / b_cpu:>8.1f}"
    )
    print(
        f"{'  same, applied levels back as strings':<40}{l_cpu:>14,.0f}{b_cpu:>14,.0f}"
        f"{l_cpu / b_cpu:>8.1f}"
    )
    print(
        f"{'  orjson + generic apply(bids, asks)':<40}{g_cpu:>14,.0f}{b_cpu:>14,.0f}"
        f"{g_cpu / b_cpu:>8.1f}"
    )
    print(
        f"{'bytes per 1,000-level book, RSS growth':<40}{native_rss:>14,.0f}{base_rss:>14,.0f}"
        f"{base_rss / native_rss:>7.1f}x"
    )
    print(
        f"{'bytes per 1,000-level book, allocated':<40}{native_exact:>14,}{base_traced:>14,.0f}"
        f"{base_traced / native_exact:>7.1f}x"
    )
    print("native: apply_binance_depth(frame) + best_bid_ticks/best_ask_ticks (Rust core)")
    print("baseline: orjson.loads + the previous L2Book.apply (Decimal -> int ticks, SortedDict)")
    print("allocated: native memory_bytes() (Vec capacity + struct); baseline tracemalloc")
    print("result:", "target met" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
