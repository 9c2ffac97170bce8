"""``python -m eip.order_book.capture``: record live traffic, or replay a capture offline.

    replay FILE [--out books.jsonl] [--exchange binance] [--symbols A/B ...]
    record --exchange binance --symbols BTC/USDT --out FILE --seconds N [--base-url URL]
    record --exchange ccxt:binance --symbols BTC/USDT --out FILE --seconds N --base-url URL

Both run the same adapter code as production. Output (``--out``): one JSON line per sync
event (snapshot, delta, desync), then the final book of every instrument; a summary goes to
stderr. The exit status is 1 when any book went out of sync, a checksum failed, or a book
ends untrusted — so a replay is a check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from eip.exchanges import normalize_asset
from eip.exchanges.capture import CaptureWriter, read_entries
from eip.order_book.capture.ccxt import record_ccxt, replay_ccxt
from eip.order_book.capture.recording import RecordingTransport
from eip.order_book.capture.replay import ReplayTransport
from eip.order_book.feeds.base import FeedOptions, InstrumentBook, run_for
from eip.order_book.feeds.bitfinex.feed import recorded_book_settings as recorded_bitfinex_books
from eip.order_book.feeds.bitmex.feed import recorded_book_symbols as bitmex_book_symbols
from eip.order_book.feeds.bybit import BybitFeed
from eip.order_book.feeds.bybit.feed import recorded_book_groups as recorded_bybit_groups
from eip.order_book.feeds.bybit.feed import recorded_book_settings as recorded_bybit_books
from eip.order_book.feeds.coinbase import exchange as coinbase_exchange
from eip.order_book.feeds.factory import NATIVE, create_feed
from eip.order_book.feeds.gateio.feed import recorded_book_venues as gate_book_venues
from eip.order_book.feeds.htx.feed import recorded_book_symbols as htx_book_symbols
from eip.order_book.feeds.kucoin.feed import recorded_book_symbols as kucoin_book_symbols
from eip.order_book.feeds.kucoin.feed import recorded_snapshot_path as recorded_kucoin_snapshot_path
from eip.order_book.feeds.okx.feed import recorded_book_channel
from eip.order_book.feeds.okx.feed import recorded_book_symbols as okx_book_symbols
from eip.order_book.feeds.transport import LiveTransport
from eip.order_book.sync_events import BookDelta, BookDesync, BookEvent, BookSnapshot

# Venue names captures use for exchanges the platform knows by another name.
RENAMED = {"huobi": "htx", "gateio": "gate"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class EventWriter:
    """Event lines for ``--out`` and the counts for the summary."""

    def __init__(self, out: IO[str] | None) -> None:
        self.out = out
        self.counts: Counter[tuple[str, str]] = Counter()

    async def __call__(self, event: BookEvent) -> None:
        symbol = event.key.symbol
        if isinstance(event, BookDesync):
            self.counts[(symbol, "desync")] += 1
            line: dict[str, Any] = {
                "type": "desync",
                "exchange": event.key.exchange,
                "symbol": symbol,
                "reason": event.reason,
                "detail": event.detail,
                "received_time": _iso(event.received_time),
                "in_sync": False,
            }
        else:
            kind = "snapshot" if isinstance(event, BookSnapshot) else "delta"
            self.counts[(symbol, kind)] += 1
            line = {
                "type": kind,
                "exchange": event.key.exchange,
                "symbol": symbol,
                "sequence": event.exchange_sequence,
                "exchange_time": _iso(event.exchange_time),
                "received_time": _iso(event.received_time),
                "in_sync": True,
            }
            if isinstance(event, BookDelta):
                line |= {"bids": event.bids, "asks": event.asks}
            else:
                line |= {"bids": event.book.bid_strings(), "asks": event.book.ask_strings()}
        self.write(line)

    def write(self, line: dict[str, Any]) -> None:
        if self.out is not None:
            self.out.write(json.dumps(line, separators=(",", ":")) + "\n")


class Books(Protocol):
    exchange: str
    symbols: list[str]
    books: dict[str, InstrumentBook]


def summarize(feed: Books, writer: EventWriter, err: IO[str]) -> int:
    """Final books to ``--out``, a summary to ``err``; the exit status."""
    failed = False
    for symbol in feed.symbols:
        state = feed.books.get(symbol)
        in_sync = bool(state and state.in_sync)
        if state is not None:
            writer.write(
                {
                    "type": "book",
                    "exchange": feed.exchange,
                    "symbol": symbol,
                    "sequence": state.sequence,
                    "in_sync": in_sync,
                    "bids": state.book.bid_strings(),
                    "asks": state.book.ask_strings(),
                }
            )
        desyncs = writer.counts[(symbol, "desync")]
        failed |= desyncs > 0 or not in_sync
        print(
            f"{feed.exchange} {symbol}: snapshots={writer.counts[(symbol, 'snapshot')]} "
            f"deltas={writer.counts[(symbol, 'delta')]} desyncs={desyncs} "
            f"in_sync={'yes' if in_sync else 'NO'}",
            file=err,
        )
    matched = getattr(feed, "checksums_matched", None)
    if matched is not None:  # venues whose stream carries checksums (Kraken, OKX)
        checksums_failed = int(getattr(feed, "checksums_failed", 0))
        print(f"checksums: matched={matched} failed={checksums_failed}", file=err)
        failed |= checksums_failed > 0
    print("RESULT: " + ("FAILED" if failed else "ok, every book in sync"), file=err)
    return 1 if failed else 0


def _symbols_from_header(header: dict[str, Any]) -> list[str]:
    """Captures name their book channel's symbols in ``config``: ``l2_book`` (``BTC-USDT``)."""
    config = header.get("config") or {}
    names = config.get("l2_book") or config.get("book") or []
    result = []
    for name in names:
        base, _, quote = name.replace("/", "-").partition("-")
        result.append(f"{normalize_asset(base)}/{normalize_asset(quote)}")
    return result


def _kraken_settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """API version and depth as the recorded book subscription asked for them."""
    settings: dict[str, Any] = {"api": "v1", "depth": 10}
    for entry in entries:
        if entry["t"] == "connect" and entry["addr"].rstrip("/").endswith("/v2"):
            settings["api"] = "v2"
        if entry["t"] == "send":
            try:
                message = json.loads(entry["data"])
            except json.JSONDecodeError:
                continue
            sub = message.get("subscription") or message.get("params") or {}
            if sub.get("name") == "book" or sub.get("channel") == "book":
                settings["depth"] = int(sub.get("depth", 10))
    return settings


def _coinbase_settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The Exchange (ex-Pro) dialect when the capture connected to its feed host."""
    hosts = coinbase_exchange.WS_HOSTS
    for entry in entries:
        if entry["t"] == "connect" and urlsplit(entry["addr"]).hostname in hosts:
            return {"api": "exchange"}
    return {}


async def replay_file(
    path: Path,
    out: IO[str] | None,
    err: IO[str],
    exchange: str | None = None,
    symbols: Sequence[str] = (),
    stale_after_s: float = 60.0,
) -> int:
    entries = read_entries(path)
    header = next((e for e in entries if e["t"] == "header"), {})
    exchange = (exchange or str(header.get("exchange", ""))).lower()
    exchange = RENAMED.get(exchange, exchange)
    if not exchange:
        raise SystemExit("the capture names no exchange; pass --exchange")
    if symbols:
        wanted = list(symbols)
    elif exchange == "bitmex":
        wanted = bitmex_book_symbols(entries)
    elif exchange == "okx":
        wanted = okx_book_symbols(entries)
    elif exchange == "bitfinex":
        wanted = recorded_bitfinex_books(entries)[0]
    elif exchange == "bybit":
        wanted = recorded_bybit_books(entries)[0]
    elif exchange == "kucoin":
        wanted = kucoin_book_symbols(entries) or _symbols_from_header(header)
    elif exchange == "htx":
        wanted = htx_book_symbols(entries) or _symbols_from_header(header)
    elif exchange == "gate":
        wanted = list(gate_book_venues(entries)) or _symbols_from_header(header)
    else:
        wanted = _symbols_from_header(header)
    if not wanted:
        raise SystemExit("the capture names no book symbols; pass --symbols")
    settings: dict[str, Any] = {}
    if exchange == "kraken":
        settings = _kraken_settings(entries)
    elif exchange == "coinbase":
        settings = _coinbase_settings(entries)
    elif exchange == "okx":
        settings = {"channel": recorded_book_channel(entries)}
    elif exchange == "bitfinex":
        settings = dict(recorded_bitfinex_books(entries)[1])
    elif exchange == "bybit":
        settings = dict(recorded_bybit_books(entries)[1])
    elif exchange == "kucoin":
        settings = {"snapshot_path": recorded_kucoin_snapshot_path(entries)}
    elif exchange == "gate":
        settings = {"venues": gate_book_venues(entries)}
    writer = EventWriter(out)
    if exchange.startswith("ccxt:"):
        ccxt_feed = await replay_ccxt(exchange.removeprefix("ccxt:"), entries, wanted, writer)
        return summarize(ccxt_feed, writer, err)
    if exchange not in NATIVE:
        raise SystemExit(
            f"no replay dialect for {exchange!r} captures: the native adapters are "
            f"{', '.join(NATIVE)}; --exchange ccxt:<id> replays only captures recorded through "
            "ccxt.pro (frames answering ccxt's own subscriptions), see docs/ORDER_BOOK.md"
        )
    options = FeedOptions(stale_after_s=stale_after_s)
    if exchange == "bybit" and not symbols:
        status = 0
        for addr, group, topic in recorded_bybit_groups(entries):
            bybit = BybitFeed(group, ReplayTransport(entries), options, topic, addr)
            await bybit.run(writer)
            status |= summarize(bybit, writer, err)
        return status
    transport = ReplayTransport(entries)
    feed = create_feed(exchange, wanted, transport, options, **settings)
    await feed.run(writer)
    return summarize(feed, writer, err)


async def record(
    exchange: str,
    symbols: list[str],
    out_path: Path,
    seconds: float,
    err: IO[str],
    base_url: str | None = None,
    events: IO[str] | None = None,
    **settings: Any,
) -> int:
    writer = EventWriter(events)
    with out_path.open("w", encoding="utf-8") as out:
        if exchange.startswith("ccxt:"):
            if not base_url:
                raise SystemExit("recording through ccxt needs --base-url (the upstream host)")
            ccxt_feed = await record_ccxt(
                exchange.removeprefix("ccxt:"), symbols, out, seconds, base_url, writer
            )
            print(f"recorded {out_path}", file=err)
            return summarize(ccxt_feed, writer, err)
        config = {"l2_book": [s.replace("/", "-") for s in symbols]}
        transport = RecordingTransport(
            LiveTransport(), CaptureWriter(out, exchange, config), exchange
        )
        feed = create_feed(exchange, symbols, transport, None, base_url, **settings)
        try:
            await run_for(feed, writer, seconds)
        finally:
            await transport.aclose()
    print(f"recorded {out_path}", file=err)
    return summarize(feed, writer, err)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eip.order_book.capture",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rep = commands.add_parser("replay", help="replay a capture through the adapters")
    rep.add_argument("file", type=Path)
    rep.add_argument("--out", type=Path, help="JSON lines of events and final books")
    rep.add_argument("--exchange", help="default: the capture header's exchange")
    rep.add_argument("--symbols", nargs="+", default=[], help="default: the header's l2_book")
    rep.add_argument("--stale-after", type=float, default=60.0, help="seconds (recorded time)")
    rec = commands.add_parser("record", help="record live traffic while keeping books")
    rec.add_argument(
        "--exchange",
        required=True,
        help="binance, kraken, coinbase, bitmex, okx, bitfinex, bybit, gate, or ccxt:<ccxt id>",
    )
    rec.add_argument("--symbols", nargs="+", required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--seconds", type=float, required=True)
    rec.add_argument("--books", type=Path, help="also write events and final books here")
    rec.add_argument("--base-url", help="one host for REST and WebSocket (a simulator)")
    rec.add_argument("--depth", type=int, help="Kraken book depth")
    rec.add_argument("--kraken-api", choices=["v1", "v2"], help="Kraken WebSocket API version")
    args = parser.parse_args(argv)

    if args.command == "replay":
        context: Any = args.out.open("w", encoding="utf-8") if args.out else nullcontext()
        with context as out:
            return asyncio.run(
                replay_file(
                    args.file, out, sys.stderr, args.exchange, args.symbols, args.stale_after
                )
            )
    settings: dict[str, Any] = {}
    if args.depth:
        settings["depth"] = args.depth
    if args.kraken_api:
        settings["api"] = args.kraken_api
    context = args.books.open("w", encoding="utf-8") if args.books else nullcontext()
    with context as events:
        return asyncio.run(
            record(
                args.exchange,
                args.symbols,
                args.out,
                args.seconds,
                sys.stderr,
                args.base_url,
                events,
                **settings,
            )
        )
