"""Binance captures (the recorded-traffic format of shared/data/recorded) as core market actions.

The capture's exchangeInfo gives the instruments; each REST depth snapshot seeds its symbol's
book; diff depth events after it set levels (events already covered by the snapshot, u <=
lastUpdateId, are dropped as Binance's procedure says); trade and aggTrade events print to the
tape. Time gaps between frames become pauses, so replay keeps the recording's rhythm.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.market import Action, Pause, PrintTrade, SetLevel
from eip.exchange_simulator.core.orders import Side

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


def _frames(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_capture(path: Path) -> Capture:
    instruments: dict[str, Instrument] = {}
    snapshots: dict[str, int] = {}  # symbol -> lastUpdateId of the seeding snapshot
    actions: list[Action] = []
    last_ts: float | None = None
    for frame in _frames(path):
        kind = frame.get("t")
        ts = frame.get("ts")
        if isinstance(ts, int | float):
            if last_ts is not None and ts > last_ts:
                actions.append(Pause(ts - last_ts))
            last_ts = ts
        if kind == "http":
            url, body = str(frame.get("url", "")), json.loads(frame["data"])
            if "exchangeInfo" in url:
                for sym in body.get("symbols", []):
                    inst = instrument_from_binance(sym)
                    instruments[inst.symbol] = inst
            elif "/depth" in url and "symbol=" in url:
                symbol = url.split("symbol=")[1].split("&")[0].upper()
                snapshots[symbol] = int(body["lastUpdateId"])
                actions.extend(_levels(symbol, body.get("bids", []), body.get("asks", [])))
        elif kind == "recv":
            actions.extend(_recv(json.loads(frame["data"]), snapshots))
    used = {a.symbol for a in actions if isinstance(a, SetLevel | PrintTrade)}
    return Capture([i for s, i in instruments.items() if s in used], actions)


def _levels(symbol: str, bids: list[list[str]], asks: list[list[str]]) -> list[Action]:
    out: list[Action] = []
    for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
        for price, qty in levels:
            out.append(SetLevel(symbol, side, Decimal(price), Decimal(qty)))
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
        return [PrintTrade(symbol, Decimal(data["p"]), Decimal(data["q"]), taker)]
    return []
