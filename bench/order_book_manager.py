"""Order-book manager overhead: what publishing a delta costs on top of applying it.

Baseline, measured in the same run: ``L2Book.apply`` of the same updates (what an adapter does
anyway). Measured: ``apply`` plus ``BookManager.handle`` (the published top-``depth`` view diff
and the protobuf record), for updates at the top of the book (the usual case, each one costs a
comparison of the top ``depth`` levels) and deep in the book (skipped by a bound check).

    uv run python bench/order_book_manager.py [--updates 20000] [--depth 1000] [--levels 5000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookDelta, BookKey, BookSnapshot
from eip.order_book.manager import BookManager
from eip.order_book.outbox import Outbox

KEY = BookKey("binance", "BTC/USDT")
Update = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def make_book(levels: int) -> L2Book:
    book = L2Book(2, 4)
    book.replace(
        [(f"{50_000 - i * 0.5:.2f}", "1.0000") for i in range(levels)],
        [(f"{50_001 + i * 0.5:.2f}", "1.0000") for i in range(levels)],
    )
    return book


def updates(count: int, rank_range: tuple[int, int], rng: random.Random) -> list[Update]:
    out: list[Update] = []
    for _ in range(count):
        rank = rng.randint(*rank_range)
        size = rng.choice(["0", "0.5000", "2.0000"])
        if rng.random() < 0.5:
            out.append(([(f"{50_000 - rank * 0.5:.2f}", size)], []))
        else:
            out.append(([], [(f"{50_001 + rank * 0.5:.2f}", size)]))
    return out


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(levels: int, depth: int, batch: list[Update]) -> tuple[float, float]:
    now = datetime.now(UTC)
    plain = make_book(levels)

    def baseline() -> None:
        for bids, asks in batch:
            plain.apply(bids, asks)

    book = make_book(levels)
    outbox = Outbox(len(batch) + 10)
    manager = BookManager(outbox, depth)
    manager.handle(BookSnapshot(KEY, book, "0", now, now))

    def managed() -> None:
        for n, (bids, asks) in enumerate(batch):
            book.apply(bids, asks)
            manager.handle(BookDelta(KEY, book, bids, asks, str(n), now, now))

    return timed(baseline), timed(managed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--levels", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(7)
    for name, ranks in (
        ("top 20 levels", (0, 19)),
        ("below depth", (args.depth + 10, args.levels - 1)),
    ):
        batch = updates(args.updates, ranks, rng)
        base, managed = run(args.levels, args.depth, batch)
        print(
            f"{name:>14}: apply {args.updates / base:>10,.0f} updates/s | apply + manager "
            f"{args.updates / managed:>10,.0f} updates/s | ratio {managed / base:5.1f}x "
            f"(depth {args.depth})"
        )


if __name__ == "__main__":
    main()
