"""``python -m eip.order_book.capture``: record live traffic, or replay a capture offline.

    replay FILE [--out books.jsonl] [--exchange binance] [--symbols NAME ...] [--strict]
    record --exchange binance --symbols BTC/USDT --out FILE --seconds N [--base-url URL]
    record --exchange ccxt:binance --symbols BTC/USDT --out FILE --seconds N --base-url URL

Both run the same adapter code as production. Output (``--out``): one JSON line per sync
event (snapshot, delta, desync), then the final book of every instrument; a summary goes to
stderr. ``FILE`` is a capture, ``*.jsonl`` or ``*.jsonl.zst``. Symbols are platform symbols
(``BTC/USDT``, ``BTC/USDT:USDT``) or a capture header's names (``BTC-USDT``,
``BTC-USDT-PERP``, ``BTC-USD-22K27``), which each venue maps to its own instruments.

Exit status of a replay, so that it is a check: 0 when every book that received data is in
sync (a symbol subscribed but never sent a book message is reported ``no data`` and counted
apart); 1 when a book lost sync, a checksum failed, or — with ``--strict`` — a symbol had no
data; 2 when the capture cannot be replayed: an unreadable line (one line naming the entry and
what is wrong), a venue or symbol without an adapter, or an adapter that stops on what the
capture holds. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from eip.exchanges.contract.book_events import BookDelta, BookDesync, BookEvent, BookSnapshot
from eip.exchanges.machinery.capture import (
    CaptureError,
    CaptureWriter,
    HeaderSymbol,
    header_symbol,
    read_entries,
)
from eip.exchanges.machinery.recording import RecordingTransport
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.transport import LiveTransport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, InstrumentBook, run_for
from eip.order_book.capture.ccxt import record_ccxt, replay_ccxt
from eip.order_book.feeds.bitfinex.feed import recorded_book_settings as recorded_bitfinex_books
from eip.order_book.feeds.bitfinex.symbols import header_book_symbol as bitfinex_header_symbol
from eip.order_book.feeds.bitmex.feed import header_book_symbol as bitmex_header_symbol
from eip.order_book.feeds.bitmex.feed import recorded_book_symbols as bitmex_book_symbols
from eip.order_book.feeds.bybit import BybitFeed
from eip.order_book.feeds.bybit.feed import header_book_symbol as bybit_header_symbol
from eip.order_book.feeds.bybit.feed import recorded_book_groups as recorded_bybit_groups
from eip.order_book.feeds.bybit.feed import recorded_book_settings as recorded_bybit_books
from eip.order_book.feeds.bybit.feed import unread_book_topics as bybit_unread_topics
from eip.order_book.feeds.coinbase import exchange as coinbase_exchange
from eip.order_book.feeds.factory import NATIVE, create_feed
from eip.order_book.feeds.gateio.feed import recorded_book_venues as gate_book_venues
from eip.order_book.feeds.htx.feed import recorded_book_symbols as htx_book_symbols
from eip.order_book.feeds.kucoin.feed import recorded_book_symbols as kucoin_book_symbols
from eip.order_book.feeds.kucoin.feed import recorded_snapshot_path as recorded_kucoin_snapshot_path
from eip.order_book.feeds.okx.feed import recorded_book_channel
from eip.order_book.feeds.okx.feed import recorded_book_symbols as okx_book_symbols
from eip.order_book.feeds.okx.instruments import header_book_symbol as okx_header_symbol

# Venue names captures use for exchanges the platform knows by another name.
RENAMED = {"huobi": "htx", "gateio": "gate"}
# How each venue reads a capture header's symbol names (BTC-USDT-PERP, BTC-USD-22K27); the
# other native venues' adapters follow spot books only.
HEADER_SYMBOLS: dict[str, Callable[[HeaderSymbol], str]] = {
    "bybit": bybit_header_symbol,
    "okx": okx_header_symbol,
    "bitfinex": bitfinex_header_symbol,
    "bitmex": bitmex_header_symbol,
}
# A desync for one of these means the book received data that did not add up; "stale" and
# "disconnected" alone can befall a book that never received anything.
DATA_PROBLEMS = ("gap", "checksum", "crossed", "error")


class ReplayRefused(Exception):
    """The capture cannot be replayed; the message says why (exit status 2)."""


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
            if event.reason in DATA_PROBLEMS:
                self.counts[(symbol, "data")] += 1
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
            self.counts[(symbol, "data")] += 1
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


def summarize(feed: Books, writer: EventWriter, err: IO[str], strict: bool = False) -> int:
    """Final books to ``--out``, a summary to ``err``; the exit status (0 or 1)."""
    in_sync_count = lost = no_data = 0
    for symbol in feed.symbols:
        if not writer.counts[(symbol, "data")]:
            no_data += 1
            print(
                f"{feed.exchange} {symbol}: no data (subscribed; no book message in the capture)",
                file=err,
            )
            continue
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
        if desyncs > 0 or not in_sync:
            lost += 1
        else:
            in_sync_count += 1
        print(
            f"{feed.exchange} {symbol}: snapshots={writer.counts[(symbol, 'snapshot')]} "
            f"deltas={writer.counts[(symbol, 'delta')]} desyncs={desyncs} "
            f"in_sync={'yes' if in_sync else 'NO'}",
            file=err,
        )
    failed = lost > 0 or (strict and no_data > 0)
    matched = getattr(feed, "checksums_matched", None)
    if matched is not None:  # venues whose stream carries checksums (Kraken, OKX)
        checksums_failed = int(getattr(feed, "checksums_failed", 0))
        print(f"checksums: matched={matched} failed={checksums_failed}", file=err)
        failed |= checksums_failed > 0
    counts = f"{in_sync_count} in sync, {lost} lost sync, {no_data} no data"
    if not failed:
        verdict = "ok, every book in sync" if not no_data else f"ok ({counts})"
    else:
        verdict = f"FAILED ({counts}{'; --strict fails on no data' if strict and no_data else ''})"
    print(f"RESULT: {verdict}", file=err)
    return 1 if failed else 0


def book_symbols(exchange: str, names: Sequence[str]) -> list[str]:
    """Platform symbols for ``--symbols``: platform forms (``BTC/USDT:USDT``) as given, header
    forms (``BTC-USDT-PERP``) through the venue's mapping; one the venue cannot follow is
    refused, saying why."""
    result = []
    for name in names:
        try:
            result.append(name if "/" in name else _from_header(exchange, header_symbol(name)))
        except ValueError as exc:
            raise ReplayRefused(f"--symbols {name}: {exc}") from None
    return result


def _from_header(exchange: str, symbol: HeaderSymbol) -> str:
    mapping = HEADER_SYMBOLS.get(exchange)
    if mapping is not None:
        return mapping(symbol)
    if symbol.kind != "spot":
        raise ValueError(
            f"{symbol.name} is a {symbol.kind}; the {exchange} book adapter follows spot books only"
        )
    return symbol.unified()


def _symbols_from_header(header: dict[str, Any], exchange: str, err: IO[str]) -> list[str]:
    """Captures name their book channel's symbols in ``config``: ``l2_book`` (``BTC-USDT``,
    ``BTC-USDT-PERP``). A name the venue's adapter cannot follow is reported and left out."""
    config = header.get("config") or {}
    names = config.get("l2_book") or config.get("book") or []
    result = []
    for name in names:
        try:
            result.append(_from_header(exchange, header_symbol(name.replace("/", "-"))))
        except ValueError as exc:
            print(f"not replayed: header l2_book {exc}", file=err)
    return list(dict.fromkeys(result))


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
    strict: bool = False,
) -> int:
    """Replay ``path`` through the venue's adapter: 0 or 1 (see the module's doc); raises
    ``CaptureError`` or ``ReplayRefused`` when it cannot (exit status 2 from ``main``)."""
    entries = read_entries(path)
    header = entries[0]
    exchange = (exchange or str(header.get("exchange", ""))).lower()
    exchange = RENAMED.get(exchange, exchange)
    if not exchange:
        raise ReplayRefused("the capture names no exchange; pass --exchange")
    if exchange.startswith("ccxt:"):
        # ccxt names symbols as the platform does; header names are read as spot pairs
        wanted = book_symbols("ccxt", symbols) or _symbols_from_header(header, "ccxt", err)
        writer = EventWriter(out)
        ccxt_feed = await replay_ccxt(exchange.removeprefix("ccxt:"), entries, wanted, writer)
        return summarize(ccxt_feed, writer, err, strict)
    if exchange not in NATIVE:
        raise ReplayRefused(
            f"no replay dialect for {exchange!r} captures: the native adapters are "
            f"{', '.join(NATIVE)}; --exchange ccxt:<id> replays only captures recorded through "
            "ccxt.pro (frames answering ccxt's own subscriptions), see docs/ORDER_BOOK.md"
        )
    # Bybit books may live on several recorded connections (inverse and linear): one feed each
    bybit_groups = recorded_bybit_groups(entries) if exchange == "bybit" else []
    if exchange == "bybit" and not bybit_groups:
        unread = bybit_unread_topics(entries)
        if unread:
            raise ReplayRefused(
                f"the capture's Bybit book subscriptions ({', '.join(unread[:3])}) are of the v5 "
                "API; the Bybit adapter reads the 2021 realtime API (orderBookL2_25, "
                "orderBook_200.100ms) only"
            )
    if symbols:
        wanted = book_symbols(exchange, symbols)
    else:
        wanted = _recorded_symbols(exchange, entries) or _symbols_from_header(header, exchange, err)
    if not wanted:
        raise ReplayRefused("the capture names no book symbols; pass --symbols")
    writer = EventWriter(out)
    options = FeedOptions(stale_after_s=stale_after_s)
    if bybit_groups and not symbols:
        status = 0
        for addr, group, topic in bybit_groups:
            transport = ReplayTransport(entries)
            bybit = BybitFeed(group, transport, options, topic, addr)
            await _run(bybit.run(writer), exchange, transport)
            status |= summarize(bybit, writer, err, strict)
        return status
    transport = ReplayTransport(entries)
    try:
        feed = create_feed(exchange, wanted, transport, options, **_settings(exchange, entries))
    except ValueError as exc:
        raise ReplayRefused(
            f"the {exchange} adapter refuses the capture's settings: {exc}"
        ) from None
    await _run(feed.run(writer), exchange, transport)
    return summarize(feed, writer, err, strict)


def _recorded_symbols(exchange: str, entries: list[dict[str, Any]]) -> list[str]:
    """The book symbols a capture's own subscriptions and instrument lists name, for venues
    whose header names say less than those (settlement, expiry, the venue's spelling)."""
    if exchange == "bitmex":
        return bitmex_book_symbols(entries)
    if exchange == "okx":
        return okx_book_symbols(entries)
    if exchange == "bitfinex":
        return recorded_bitfinex_books(entries)[0]
    if exchange == "bybit":
        return recorded_bybit_books(entries)[0]
    if exchange == "kucoin":
        return kucoin_book_symbols(entries)
    if exchange == "htx":
        return htx_book_symbols(entries)
    if exchange == "gate":
        return list(gate_book_venues(entries))
    return []


def _settings(exchange: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The adapter settings the capture's subscriptions show (depth, channel, topic, ...)."""
    if exchange == "kraken":
        return _kraken_settings(entries)
    if exchange == "coinbase":
        return _coinbase_settings(entries)
    if exchange == "okx":
        return {"channel": recorded_book_channel(entries)}
    if exchange == "bitfinex":
        return dict(recorded_bitfinex_books(entries)[1])
    if exchange == "bybit":
        return dict(recorded_bybit_books(entries)[1])
    if exchange == "kucoin":
        return {"snapshot_path": recorded_kucoin_snapshot_path(entries)}
    if exchange == "gate":
        return {"venues": gate_book_venues(entries)}
    return {}


async def _run(feed_run: Any, exchange: str, transport: ReplayTransport) -> None:
    """Run a feed over a replay; whatever stops it becomes a ``ReplayRefused`` naming the
    capture entry served last (the adapter's own errors carry no entry number)."""
    try:
        await feed_run
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        last = transport.last_entry
        where = f"after entry {last[0]} ({last[1]})" if last else "before reading any entry"
        raise ReplayRefused(
            f"the {exchange} adapter stopped {where}: {type(exc).__name__}: {exc}"[:500]
        ) from None


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
    rep.add_argument(
        "--strict", action="store_true", help="a subscribed symbol without data fails the run"
    )
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
        return _replay_command(args)
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


def _replay_command(args: argparse.Namespace) -> int:
    try:
        context: Any = args.out.open("w", encoding="utf-8") if args.out else nullcontext()
        with context as out:
            return asyncio.run(
                replay_file(
                    args.file,
                    out,
                    sys.stderr,
                    args.exchange,
                    args.symbols,
                    args.stale_after,
                    args.strict,
                )
            )
    except (CaptureError, ReplayRefused) as exc:
        print(f"replay: {args.file}: {exc}", file=sys.stderr)
    except OSError as exc:  # the capture or --out cannot be opened
        print(f"replay: {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
    except Exception as exc:  # ccxt's own replay, or anything else a capture can provoke
        print(
            f"replay: {args.file}: cannot replay: {type(exc).__name__}: {exc}"[:500],
            file=sys.stderr,
        )
    return 2
