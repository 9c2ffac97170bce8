"""Book feed throughput: recorded frames per second through the real adapters (parse, apply to
the L2Book, checksum, emit), printed beside a baseline measured in the same run: decoding the
same frames with ``json.loads`` alone (the floor any Python adapter pays).

    uv run python bench/order_book_feed_replay.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from eip.exchanges.binance.book import BinanceFeed
from eip.exchanges.contract.book_events import BookEvent
from eip.exchanges.kraken.book import KrakenFeed
from eip.exchanges.machinery.capture import frame_payload, payload_text, read_entries
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed
from eip.testing.recorded import find_recorded

QUIET = FeedOptions(stale_after_s=1e9)


def load(name: str) -> list[dict[str, Any]]:
    try:
        return read_entries(find_recorded(name))
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def feeds(entries: list[dict[str, Any]], name: str) -> WsBookFeed:
    if name.startswith("kraken"):
        pairs = ["WAVES/EUR", "XMR/USD", "KSM/BTC", "GRT/ETH", "SC/EUR", "ETH/CHF", "OCEAN/BTC"]
        pairs += ["OMG/USD", "BTC/CHF", "ADA/BTC"]
        return KrakenFeed(pairs, ReplayTransport(entries), QUIET, depth=1000, api="v1")
    symbols = ["NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"]
    return BinanceFeed(symbols, ReplayTransport(entries), QUIET)


async def through_adapter(entries: list[dict[str, Any]], name: str) -> tuple[float, int]:
    events = 0

    async def emit(_: BookEvent) -> None:
        nonlocal events
        events += 1

    feed = feeds(entries, name)
    started = time.perf_counter()
    await feed.run(emit)
    return time.perf_counter() - started, events


def baseline(entries: list[dict[str, Any]]) -> float:
    frames = [payload_text(frame_payload(e)) for e in entries if e["t"] == "recv"]
    started = time.perf_counter()
    for frame in frames:
        json.loads(frame)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name in ("kraken-ws1-2021-04.jsonl", "binance-spot-2021-10.jsonl"):
        entries = load(name)
        frames = sum(1 for e in entries if e["t"] == "recv")
        adapter = min(asyncio.run(through_adapter(entries, name))[0] for _ in range(args.repeat))
        floor = min(baseline(entries) for _ in range(args.repeat))
        print(
            f"{name}: {frames} frames; adapter {frames / adapter:,.0f} frames/s, "
            f"json.loads baseline {frames / floor:,.0f} frames/s, "
            f"adapter/baseline time ratio {adapter / floor:.1f}x"
        )


if __name__ == "__main__":
    main()
