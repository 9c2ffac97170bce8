"""Binance captures (the recorded-traffic format, ``data/recorded/README.md``) as core market
actions.

The capture's exchangeInfo gives the instruments; each REST depth snapshot seeds its symbol's
book; diff depth events after it set levels (events already covered by the snapshot, u <=
lastUpdateId, are dropped as Binance's procedure says); trade and aggTrade events print to the
tape. Time gaps between frames become pauses, so replay keeps the recording's rhythm.

The file is read through ``eip.exchanges.machinery.capture`` (``*.jsonl`` or ``*.jsonl.zst``,
streamed).
Whatever the capture holds is checked while it loads, before the simulator serves anything: a
line that is no capture entry, or a Binance body or frame that cannot be read, is one
``CaptureError`` naming the entry, so the simulator refuses to start with that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.market import Action, Pause, PrintTrade, SetLevel
from eip.exchange_simulator.core.orders import Side
from eip.exchanges.machinery.capture import CaptureError, frame_payload, iter_entries, payload_text

ZERO = Decimal(0)


@dataclass
class Capture:
    instruments: list[Instrument]
    actions: list[Action]


def instrument_from_binance(symbol: dict[str, Any]) -> Instrument:
    filters = {f["filterType"]: f for f in symbol.get("filters", [])}
    price = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    return Instrument(
        symbol=symbol["symbol"],
        base=symbol["baseAsset"],
        quote=symbol["quoteAsset"],
        tick_size=Decimal(price.get("tickSize", "0.00000001")),
        step_size=Decimal(lot.get("stepSize", "0.00000001")),
        min_qty=Decimal(lot.get("minQty", "0")),
        max_qty=Decimal(lot.get("maxQty", "9000000")),
        min_notional=Decimal(notional.get("minNotional", "0")),
        min_price=Decimal(price.get("minPrice", "0")),
        max_price=Decimal(price.get("maxPrice", "0")) or Decimal("1000000"),
    )


# What reading a Binance body or frame of the wrong shape raises (a missing key, a string where
# a list belongs, text that is no decimal): turned into a CaptureError naming the entry.
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, IndexError, ArithmeticError)


def load_capture(path: Path) -> Capture:
    """The instruments and actions of a Binance capture; ``CaptureError`` naming the first entry
    that cannot be read."""
    instruments: dict[str, Instrument] = {}
    snapshots: dict[str, int] = {}  # symbol -> lastUpdateId of the seeding snapshot
    actions: list[Action] = []
    last_ts: float | None = None
    for number, entry in iter_entries(path):
        kind = entry["t"]
        if kind == "header":
            if str(entry.get("exchange", "")).upper() != "BINANCE":
                raise CaptureError(
                    f"entry {number} (header): the simulator replays Binance captures, "
                    f"not {entry.get('exchange')!r}"
                )
            continue
        ts = float(entry["ts"])
        if last_ts is not None and ts > last_ts:
            actions.append(Pause(ts - last_ts))
        last_ts = ts
        try:
            if kind == "http":
                actions.extend(
                    _http(entry["url"], json.loads(entry["data"]), instruments, snapshots)
                )
            elif kind == "recv":
                message = json.loads(payload_text(frame_payload(entry)))
                actions.extend(_recv(message, snapshots))
        except _UNREADABLE as exc:
            raise CaptureError(
                f"entry {number} ({kind}): not a Binance {'body' if kind == 'http' else 'frame'} "
                f"the replay can read ({type(exc).__name__}: {exc})"[:300]
            ) from None
    if last_ts is None and not instruments:
        raise CaptureError("entry 1: nothing to replay (an empty file, or a header alone)")
    used = {a.symbol for a in actions if isinstance(a, SetLevel | PrintTrade)}
    return Capture([i for s, i in instruments.items() if s in used], actions)


def _http(
    url: str, body: Any, instruments: dict[str, Instrument], snapshots: dict[str, int]
) -> list[Action]:
    if "exchangeInfo" in url:
        for sym in body.get("symbols", []):
            inst = instrument_from_binance(sym)
            instruments[inst.symbol] = inst
    elif "/depth" in url and "symbol=" in url:
        symbol = url.split("symbol=")[1].split("&")[0].upper()
        snapshots[symbol] = int(body["lastUpdateId"])
        return _levels(symbol, body.get("bids", []), body.get("asks", []))
    return []


def _decimal(text: Any) -> Decimal:
    """Binance sends prices and quantities as decimal strings; anything else is refused."""
    if not isinstance(text, str):
        raise TypeError(f"{text!r} is not a decimal string")
    value = Decimal(text)
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} is not a finite non-negative decimal")
    return value


def _levels(symbol: str, bids: list[list[str]], asks: list[list[str]]) -> list[Action]:
    out: list[Action] = []
    for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
        for price, qty in levels:
            out.append(SetLevel(symbol, side, _decimal(price), _decimal(qty)))
    return out


def _recv(message: Any, snapshots: dict[str, int]) -> list[Action]:
    data = message.get("data", message) if isinstance(message, dict) else None
    if not isinstance(data, dict):
        return []
    event = data.get("e")
    symbol = str(data.get("s", "")).upper()
    if event == "depthUpdate":
        last_id = snapshots.get(symbol)
        if last_id is None or int(data["u"]) <= last_id:
            return []
        return _levels(symbol, data.get("b", []), data.get("a", []))
    if event in ("aggTrade", "trade"):
        taker = Side.SELL if data.get("m") else Side.BUY
        return [PrintTrade(symbol, _decimal(data["p"]), _decimal(data["q"]), taker)]
    return []
