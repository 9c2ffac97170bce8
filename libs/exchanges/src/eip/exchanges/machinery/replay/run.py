"""Replay a capture: pick the venue's parser, feed it every ``recv`` frame, check the output.

The venue comes from the capture header's ``exchange`` through ``eip.exchanges.registry``
(ids and the names captures use, ``HUOBI``, ``OKEX``, ``GATE``); its package's
``ReplayDialect`` says how its frames are read, and venues without one go through ccxt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchanges import registry
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import Capture, CaptureError, payload_text, read_capture
from eip.exchanges.machinery.replay.parser import Decoded, FrameParser, ReplayDialect
from eip.exchanges.machinery.replay.result import CHANNELS, Channel, Summary, problems, received_at


def _dialect(capture: Capture) -> ReplayDialect | None:
    venue = registry.find(capture.exchange, former=True)
    return None if venue is None else registry.replay_dialect(venue)


def _decimal_loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _decoded(capture: Capture) -> list[Decoded]:
    out = _decode(capture, json.loads)
    dialect = _dialect(capture)
    if dialect is not None and dialect.decimal_numbers(out):
        # the venue sends prices and sizes as JSON numbers: read them as Decimal, as live
        # does, never through a binary float
        out = _decode(capture, _decimal_loads)
    return out


def _decode(capture: Capture, loads: Callable[[str], Any]) -> list[Decoded]:
    out = []
    for frame in capture.frames:
        try:
            # a binary frame is read as live clients read it: gzip (HTX) inflated, then text
            text = payload_text(frame.data)
        except ValueError as exc:
            raise CaptureError(f"entry {frame.entry} (recv): {exc}") from None
        try:
            out.append((frame.conn, frame.ts, loads(text)))
        except (ValueError, RecursionError):
            out.append((frame.conn, frame.ts, text))  # pings and other text: no trades in them
    return out


def parser_for(capture: Capture, frames: list[Decoded]) -> FrameParser:
    venue = registry.find(capture.exchange, former=True)
    if venue is None:
        known = sorted(name.upper() for name in registry.capture_names(former=True))
        raise ValueError(f"no replay for exchange {capture.exchange!r} (known: {known})")
    dialect = registry.replay_dialect(venue)
    parser = dialect.parser(capture, frames) if dialect is not None else None
    if parser is not None:
        return parser
    assert venue.ccxt_id is not None, f"{venue.id}: no replay parser and no ccxt class"
    # imported here: the ccxt replay reads its envelopes' vocabulary from this package
    from eip.exchanges.ccxt.replay import CcxtReplay

    return CcxtReplay(venue.id, venue.ccxt_id, capture)


@dataclass
class Replay:
    exchange: str
    summary: Summary
    records: list[Trade | Ticker]


def replay(
    path: Path,
    channels: Iterable[Channel] = CHANNELS,
    sink: Callable[[Trade | Ticker], None] | None = None,
) -> Replay:
    from eip.exchanges.ccxt.replay import CcxtReplay

    capture = read_capture(path)
    frames = _decoded(capture)
    parser = parser_for(capture, frames)
    wanted = set(channels)
    summary = Summary()
    records: list[Trade | Ticker] = []
    try:
        for conn, ts, message in frames:
            if isinstance(parser, CcxtReplay):
                parser.use_connection(conn)
            found = parser.classify(message)
            received = received_at(ts)
            try:
                produced = parser.parse(message, received)
            except Exception as exc:  # every failure is counted, none stops the run
                if found is not None and found[0] in wanted:
                    summary.frames[(found[1], found[0])] += 1
                    summary.fail(found[1], found[0], f"{type(exc).__name__}: {exc}")
                continue
            if found is None or found[0] not in wanted:
                continue
            channel = found[0]
            produced = [r for r in produced if isinstance(r, Trade) == (channel == "trades")]
            key = produced[0].symbol if produced else found[1]
            summary.frames[(key, channel)] += 1
            if not produced:
                summary.fail(key, channel, "no records from a frame that carries them")
                continue
            for record in produced:
                wrong = problems(record)
                if wrong:
                    summary.fail(record.symbol, channel, "; ".join(wrong))
                    continue
                summary.records[(record.symbol, channel)] += 1
                records.append(record)
                if sink is not None:
                    sink(record)
    finally:
        close = getattr(parser, "close", None)
        if close is not None:
            close()
    return Replay(capture.exchange, summary, records)
