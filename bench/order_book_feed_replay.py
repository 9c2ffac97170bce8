"""Book feed throughput: recorded frames per second through the real adapters (parse, sync rule
or checksum, apply to the L2Book, the delta emitted), beside cryptofeed's feed handler of the
same venue fed the very same frames in the same run, and the ratio.

    uv sync --frozen --group bench      # cryptofeed (PyPI) into this environment only
    uv run --frozen --no-sync python bench/order_book_feed_replay.py [--repeat 5]

What is timed. Ours: ``feed.run(emit)`` over a ``ReplayTransport``, from the first frame the
feed asks for to the end of the capture (instrument metadata loaded before that is not frame
handling; the REST snapshots Binance loads while frames flow are). Cryptofeed: its
``message_handler(frame, conn, ts)`` awaited for each of the frames our feed was served, with its
symbol table primed from the capture's own REST bodies and its Binance snapshots answered from
the capture (the body our feed got), checksum validation on (Kraken). The frames are the book
connection's only (a capture may also hold trade/ticker connections). Best of ``--repeat``
rounds each; the machine is shared, so read the ratio.

cryptofeed 3.x needs Python 3.13; the platform runs 3.11, so the baseline is cryptofeed 2.4.1
(the last release for 3.11), whose Kraken and Binance book handling is the same code path
(C ``order_book`` with Kraken checksums, Binance's update-id rule).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from eip.exchanges.binance.book import BinanceFeed
from eip.exchanges.contract.book_events import BookEvent
from eip.exchanges.kraken.book import KrakenFeed
from eip.exchanges.machinery.capture import read_entries
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.transport import Connection, Received
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed
from eip.testing.recorded import find_recorded

QUIET = FeedOptions(stale_after_s=1e9)
KRAKEN_PAIRS = ["WAVES/EUR", "XMR/USD", "KSM/BTC", "GRT/ETH", "SC/EUR", "ETH/CHF", "OCEAN/BTC"]
KRAKEN_PAIRS += ["OMG/USD", "BTC/CHF", "ADA/BTC"]
BINANCE_SYMBOLS = ["NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"]
KRAKEN_ASSET_PAIRS = "https://api.kraken.com/0/public/AssetPairs"
BINANCE_EXCHANGE_INFO = "https://api.binance.com/api/v3/exchangeInfo"


@dataclass
class Clock:
    """Starts when the feed first reads a frame; optionally keeps the frames it was served."""

    keep: bool = False
    started: float | None = None
    frames: list[Received] = field(default_factory=list)


class TimedConnection:
    def __init__(self, inner: Connection, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock

    async def send(self, text: str) -> None:
        await self._inner.send(text)

    async def recv(self) -> Received:
        if self._clock.started is None:
            self._clock.started = time.perf_counter()
        frame = await self._inner.recv()
        if self._clock.keep:
            self._clock.frames.append(frame)
        return frame

    async def close(self) -> None:
        await self._inner.close()


class TimedTransport:
    def __init__(self, inner: ReplayTransport, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock

    async def connect(self, url: str) -> Connection:
        return TimedConnection(await self._inner.connect(url), self._clock)

    async def get(self, url: str) -> Received:
        return await self._inner.get(url)

    async def aclose(self) -> None:
        await self._inner.aclose()


def load(name: str) -> list[dict[str, Any]]:
    try:
        return read_entries(find_recorded(name))
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def our_feed(venue: str, transport: TimedTransport) -> WsBookFeed:
    if venue == "kraken":
        return KrakenFeed(KRAKEN_PAIRS, transport, QUIET, depth=1000, api="v1")
    return BinanceFeed(BINANCE_SYMBOLS, transport, QUIET)


async def ours(
    entries: list[dict[str, Any]], venue: str, keep: bool = False
) -> tuple[float, Clock]:
    """Seconds from the first frame read to the end of the capture."""
    events = 0

    async def emit(_: BookEvent) -> None:
        nonlocal events
        events += 1

    clock = Clock(keep)
    await our_feed(venue, TimedTransport(ReplayTransport(entries), clock)).run(emit)
    if clock.started is None or not events:
        raise SystemExit(f"the {venue} feed read no frame or emitted nothing")
    return time.perf_counter() - clock.started, clock


async def our_handler(entries: list[dict[str, Any]], venue: str, frames: list[Received]) -> float:
    """Seconds in the feed's own frame handler (``_on_frame``: parse, sync rule or checksum,
    book, delta emitted) for each frame, as cryptofeed's ``message_handler`` is timed: the
    feed is prepared and connected first, and the event loop is only given a turn while a
    Binance snapshot loads (the live socket read would give it one)."""
    events = 0

    async def emit(_: BookEvent) -> None:
        nonlocal events
        events += 1

    feed = our_feed(venue, TimedTransport(ReplayTransport(entries), Clock()))
    feed._emit = emit
    await feed._prepare()
    feed._conn = await feed.transport.connect(feed._url())
    await feed._on_open()
    loading = getattr(feed, "_loading", {})
    handler = feed._on_frame
    started = time.perf_counter()
    for frame in frames:
        if loading:  # one turn per frame, as the socket read gives while a snapshot loads
            await asyncio.sleep(0)
        await handler(frame)
    elapsed = time.perf_counter() - started
    if not events:
        raise SystemExit(f"the {venue} feed emitted nothing")
    return elapsed


class RecordedHttp:
    """cryptofeed's ``http_conn`` for its Binance snapshots: the capture's recorded bodies."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._transport = ReplayTransport(entries)

    async def read(self, url: str, **_: Any) -> str:
        data = (await self._transport.get(url)).data
        return data if isinstance(data, str) else data.decode()


async def recorded_json(entries: list[dict[str, Any]], url: str) -> Any:
    return json.loads((await ReplayTransport(entries).get(url)).data)


async def cryptofeed_handler(entries: list[dict[str, Any]], venue: str) -> Any:
    """A fresh cryptofeed feed of the venue, symbols primed from the capture, ready for frames."""
    defines = importlib.import_module("cryptofeed.defines")
    exchanges = importlib.import_module("cryptofeed.exchanges")
    symbols = importlib.import_module("cryptofeed.symbols").Symbols
    updates = 0

    async def book(_book: Any, _ts: float) -> None:
        nonlocal updates
        updates += 1

    if venue == "kraken":
        cls = exchanges.Kraken
        symbols.set(
            cls.id, *cls._parse_symbol_data(await recorded_json(entries, KRAKEN_ASSET_PAIRS))
        )
        names = [p.replace("/", "-") for p in KRAKEN_PAIRS]
        feed = cls(
            symbols=names,
            channels=[defines.L2_BOOK],
            callbacks={defines.L2_BOOK: book},
            checksum_validation=True,
            max_depth=1000,
        )
    else:
        cls = exchanges.Binance
        info = await recorded_json(entries, BINANCE_EXCHANGE_INFO)
        symbols.set(cls.id, *cls._parse_symbol_data(info))
        names = [s.replace("/", "-") for s in BINANCE_SYMBOLS]
        feed = cls(symbols=names, channels=[defines.L2_BOOK], callbacks={defines.L2_BOOK: book})
        feed.http_conn = RecordedHttp(entries)
    return feed


async def theirs(entries: list[dict[str, Any]], venue: str, frames: list[Received]) -> float:
    feed = await cryptofeed_handler(entries, venue)
    handler = feed.message_handler
    started = time.perf_counter()
    for frame in frames:
        await handler(frame.data, None, frame.ts)
    return time.perf_counter() - started


def cryptofeed_version() -> str:
    try:
        importlib.import_module("cryptofeed")
        return metadata.version("cryptofeed")
    except ImportError:
        raise SystemExit(
            "cryptofeed is the baseline and is not installed: uv sync --frozen --group bench"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    version = cryptofeed_version()
    print(f"frames/s, best of {args.repeat}; baseline cryptofeed {version} on the same frames")
    print(
        f"{'capture':<28} {'frames':>6} {'ours run':>9} {'ours handler':>13} "
        f"{'cryptofeed':>11} {'ratio run':>10} {'ratio handler':>14}"
    )
    captures = (("kraken", "kraken-ws1-2021-04.jsonl"), ("binance", "binance-spot-2021-10.jsonl"))
    for venue, name in captures:
        entries = load(name)
        frames = asyncio.run(ours(entries, venue, keep=True))[1].frames
        run_s = min(asyncio.run(ours(entries, venue))[0] for _ in range(args.repeat))
        handler_s = min(
            asyncio.run(our_handler(entries, venue, frames)) for _ in range(args.repeat)
        )
        their_s = min(asyncio.run(theirs(entries, venue, frames)) for _ in range(args.repeat))
        n = len(frames)
        print(
            f"{name:<28} {n:>6} {n / run_s:>9,.0f} {n / handler_s:>13,.0f} {n / their_s:>11,.0f} "
            f"{their_s / run_s:>10.2f} {their_s / handler_s:>14.2f}"
        )


if __name__ == "__main__":
    main()
