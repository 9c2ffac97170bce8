"""Replay a capture: pick the venue's parser, feed it every ``recv`` frame, check the output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eip.exchanges.bitmex.parse import loads as bitmex_loads
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import Capture, CaptureError, payload_text, read_capture
from eip.exchanges.machinery.replay.parser import FrameParser
from eip.exchanges.machinery.replay.result import CHANNELS, Channel, Summary, problems, received_at
from eip.exchanges.replay.binance import BinanceReplay
from eip.exchanges.replay.bitmex import BitmexReplay
from eip.exchanges.replay.bybit_v2 import BybitV2Replay, is_v2
from eip.exchanges.replay.ccxt_venue import CcxtReplay
from eip.exchanges.replay.kraken_v1 import KrakenV1Replay, is_v1

# header exchange → (platform exchange id, ccxt.pro class); None = native parse
VENUES: dict[str, tuple[str, str | None]] = {
    "BINANCE": ("binance", None),
    "BITMEX": ("bitmex", None),
    "KRAKEN": ("kraken", "kraken"),
    "COINBASE": ("coinbase", "coinbase"),
    "KUCOIN": ("kucoin", "kucoin"),
    "BITFINEX": ("bitfinex", "bitfinex"),
    "HUOBI": ("htx", "htx"),
    "HTX": ("htx", "htx"),
    "OKX": ("okx", "okx"),
    "OKEX": ("okx", "okx"),
    "BYBIT": ("bybit", "bybit"),
    "GATEIO": ("gateio", "gate"),
    "GATE": ("gateio", "gate"),
}


def _decoded(capture: Capture) -> list[tuple[str, float, Any]]:
    # as live decodes: BitMEX's stream reads JSON numbers as Decimal, the others as json does
    native = VENUES.get(capture.exchange.upper(), ("", None))[0] == "bitmex"
    out = _decode(capture, bitmex_loads if native else json.loads)
    if not native and _bybit_v2(capture, out):
        # v2 sends prices and sizes as JSON numbers: read them as Decimal, never binary float
        out = _decode(capture, bitmex_loads)
    return out


def _bybit_v2(capture: Capture, frames: list[tuple[str, float, Any]]) -> bool:
    venue = VENUES.get(capture.exchange.upper(), ("", None))[0]
    return venue == "bybit" and any(is_v2(m) for _, _, m in frames)


def _decode(capture: Capture, loads: Callable[[str], Any]) -> list[tuple[str, float, Any]]:
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


def _coinbase_class(frames: Iterable[tuple[str, float, Any]]) -> str:
    """Advanced Trade frames carry ``channel``; the older Exchange (Pro) feed only ``type``."""
    for _, _, message in frames:
        if isinstance(message, dict) and "channel" in message:
            return "coinbase"
        if isinstance(message, dict) and message.get("type") in (
            "match",
            "ticker",
            "subscriptions",
        ):
            return "coinbaseexchange"
    return "coinbase"


def parser_for(capture: Capture, frames: list[tuple[str, float, Any]]) -> FrameParser:
    venue = VENUES.get(capture.exchange.upper())
    if venue is None:
        raise ValueError(f"no replay for exchange {capture.exchange!r} (known: {sorted(VENUES)})")
    exchange, ccxt_id = venue
    if exchange == "binance":
        return BinanceReplay(capture)
    if exchange == "bitmex":
        return BitmexReplay(capture)
    if exchange == "kraken" and any(is_v1(m) for _, _, m in frames):
        return KrakenV1Replay()
    if _bybit_v2(capture, frames):
        return BybitV2Replay(capture)
    if exchange == "coinbase":
        ccxt_id = _coinbase_class(frames)
    assert ccxt_id is not None
    return CcxtReplay(exchange, ccxt_id, capture)


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
