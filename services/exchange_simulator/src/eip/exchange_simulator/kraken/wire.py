"""Kraken WebSocket v2 on the wire: symbols, numbers, timestamps and the book messages.

v2 sends prices and quantities as JSON numbers. They are written here as number literals from
exact decimals with the pair's precision (``65000.10``, ``0.00100``), never through a binary
float, so a client decoding them as decimals gets exactly the book's values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.instruments import Instrument

API_VERSION = "2.0.0"


def ws_symbol(inst: Instrument) -> str:
    """v2 symbol form: BTCUSDT -> ``BTC/USDT``."""
    return f"{inst.base}/{inst.quote}"


def number(value: Decimal, decimals: int) -> str:
    return fixed(value, decimals)


def timestamp(time_ms: int) -> str:
    """RFC 3339 with microseconds, as Kraken writes every v2 time."""
    moment = datetime.fromtimestamp(time_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _levels(levels: Iterable[tuple[Decimal, Decimal]], inst: Instrument) -> str:
    return ",".join(
        f'{{"price":{number(p, inst.price_decimals)},"qty":{number(q, inst.qty_decimals)}}}'
        for p, q in levels
    )


def book_message(
    kind: str,  # "snapshot" | "update"
    inst: Instrument,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    checksum: int,
    time_ms: int,
) -> str:
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{ws_symbol(inst)}",'
        f'"bids":[{_levels(bids, inst)}],"asks":[{_levels(asks, inst)}],'
        f'"checksum":{checksum},"timestamp":"{timestamp(time_ms)}"}}]}}'
    )


class Num:
    """A decimal written as a JSON number literal with at least ``places`` decimals (more if it
    has them): v2 numbers are JSON numbers, and a float would lose digits."""

    __slots__ = ("places", "value")

    def __init__(self, value: Decimal, places: int) -> None:
        self.value = value
        self.places = places


def encode(payload: Any) -> str:
    """JSON text of ``payload`` with ``Num`` values as exact number literals."""
    if isinstance(payload, Num):
        return fixed(payload.value, payload.places)
    if isinstance(payload, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in payload.items()) + "}"
    if isinstance(payload, (list, tuple)):
        return "[" + ",".join(encode(v) for v in payload) + "]"
    if isinstance(payload, Decimal):
        return fixed(payload, 0)
    return json.dumps(payload)


def status_message(connection_id: int) -> str:
    """What a v2 endpoint sends first on every connection."""
    return dumps(
        {
            "channel": "status",
            "type": "update",
            "data": [
                {
                    "version": API_VERSION,
                    "system": "online",
                    "api_version": "v2",
                    "connection_id": connection_id,
                }
            ],
        }
    )


def reply(body: dict[str, Any], time_in: str, now_ms: int, ok: bool | None) -> str:
    """A v2 method's answer: ``success`` (unless None, as for ``pong``), ``time_in`` and
    ``time_out``."""
    answer = dict(body)
    if ok is not None:
        answer["success"] = ok
    answer["time_in"] = time_in
    answer["time_out"] = timestamp(now_ms)
    return encode(answer)
