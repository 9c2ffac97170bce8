"""``python -m eip.order_book.capture``: record live traffic, or replay a capture offline.

The order-book service's command; the venue comes from the capture header (or
``--exchange``) through ``eip.exchanges.registry``, and its package's ``BookCaptureDialect``
says what the capture's own subscriptions tell its book adapter.

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
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, Protocol

from eip.exchanges import registry
from eip.exchanges.contract.book_events import BookDelta, BookDesync, BookEvent, BookSnapshot
from eip.exchanges.machinery.capture import (
    BookCaptureDialect,
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

# ccxt names symbols as the platform does: header names are read as spot pairs
SPOT_ONLY = BookCaptureDialect()
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


def book_symbols(
    exchange: str, names: Sequence[str], dialect: BookCaptureDialect = SPOT_ONLY
) -> list[str]:
    """Platform symbols for ``--symbols``: platform forms (``BTC/USDT:USDT``) as given, header
    forms (``BTC-USDT-PERP``) through the venue's mapping; one the venue cannot follow is
    refused, saying why."""
    result = []
    for name in names:
        try:
            result.append(
                name if "/" in name else _from_header(exchange, dialect, header_symbol(name))
            )
        except ValueError as exc:
            raise ReplayRefused(f"--symbols {name}: {exc}") from None
    return result


def _from_header(exchange: str, dialect: BookCaptureDialect, symbol: HeaderSymbol) -> str:
    if dialect.header_symbol is not None:
        return dialect.header_symbol(symbol)
    if symbol.kind != "spot":
        raise ValueError(
            f"{symbol.name} is a {symbol.kind}; the {exchange} book adapter follows spot books only"
        )
    return symbol.unified()


def _symbols_from_header(
    header: dict[str, Any], exchange: str, dialect: BookCaptureDialect, err: IO[str]
) -> list[str]:
    """Captures name their book channel's symbols in ``config``: ``l2_book`` (``BTC-USDT``,
    ``BTC-USDT-PERP``). A name the venue's adapter cannot follow is reported and left out."""
    config = header.get("config") or {}
    names = config.get("l2_book") or config.get("book") or []
    result = []
    for name in names:
        try:
            result.append(_from_header(exchange, dialect, header_symbol(name.replace("/", "-"))))
        except ValueError as exc:
            print(f"not replayed: header l2_book {exc}", file=err)
    return list(dict.fromkeys(result))


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
    # a name captures use for the venue (huobi, gateio) → the order book's id (htx, gate)
    venue = registry.book_venue(exchange)
    exchange = venue.book_exchange if venue is not None else exchange
    if not exchange:
        raise ReplayRefused("the capture names no exchange; pass --exchange")
    if exchange.startswith("ccxt:"):
        # ccxt names symbols as the platform does; header names are read as spot pairs
        wanted = book_symbols("ccxt", symbols) or _symbols_from_header(
            header, "ccxt", SPOT_ONLY, err
        )
        writer = EventWriter(out)
        # Imported here: ccxt (and aiohttp under it) costs seconds of start-up that a replay
        # of a native venue's capture never needs.
        from eip.exchanges.ccxt.book_capture import replay_ccxt

        ccxt_feed = await replay_ccxt(exchange.removeprefix("ccxt:"), entries, wanted, writer)
        return summarize(ccxt_feed, writer, err, strict)
    if venue is None:
        raise ReplayRefused(
            f"no replay dialect for {exchange!r} captures: the native adapters are "
            f"{', '.join(registry.native_book_exchanges())}; --exchange ccxt:<id> replays only "
            "captures recorded through ccxt.pro (frames answering ccxt's own subscriptions), "
            "see docs/ORDER_BOOK.md"
        )
    dialect = registry.book_capture_dialect(venue)
    # books may live on several recorded connections (Bybit: inverse and linear): one feed each
    groups = dialect.connections(entries) if dialect.connections is not None else []
    if not groups:
        why = dialect.refusal(entries)
        if why:
            raise ReplayRefused(why)
    if symbols:
        wanted = book_symbols(exchange, symbols, dialect)
    else:
        wanted = dialect.symbols(entries) or _symbols_from_header(header, exchange, dialect, err)
    if not wanted:
        raise ReplayRefused("the capture names no book symbols; pass --symbols")
    writer = EventWriter(out)
    options = FeedOptions(stale_after_s=stale_after_s)
    if groups and not symbols:
        status = 0
        for group, settings in groups:
            transport = ReplayTransport(entries)
            one = registry.create_native_book_feed(exchange, group, transport, options, **settings)
            await _run(one.run(writer), exchange, transport)
            status |= summarize(one, writer, err, strict)
        return status
    transport = ReplayTransport(entries)
    try:
        feed = registry.create_native_book_feed(
            exchange, wanted, transport, options, **dialect.settings(entries)
        )
    except ValueError as exc:
        raise ReplayRefused(
            f"the {exchange} adapter refuses the capture's settings: {exc}"
        ) from None
    await _run(feed.run(writer), exchange, transport)
    return summarize(feed, writer, err, strict)


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
            from eip.exchanges.ccxt.book_capture import record_ccxt  # ccxt only when used

            ccxt_feed = await record_ccxt(
                exchange.removeprefix("ccxt:"), symbols, out, seconds, base_url, writer
            )
            print(f"recorded {out_path}", file=err)
            return summarize(ccxt_feed, writer, err)
        config = {"l2_book": [s.replace("/", "-") for s in symbols]}
        transport = RecordingTransport(
            LiveTransport(), CaptureWriter(out, exchange, config), exchange
        )
        feed = registry.create_native_book_feed(
            exchange, symbols, transport, None, base_url, **settings
        )
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
