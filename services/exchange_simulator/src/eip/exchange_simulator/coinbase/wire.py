"""Coinbase Advanced Trade on the wire: product ids, decimal strings, times, and the envelope
every WebSocket message shares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.key_formats import Venue
from eip.exchange_simulator.core.orders import Side

VENUE: Venue = "coinbase"  # the dialect's name in faults and API keys
SNAPSHOT_EVENT_TIME = "1970-01-01T00:00:00Z"  # what real snapshots carry in event_time


def product_id(inst: Instrument) -> str:
    """BTCUSDT -> ``BTC-USDT``."""
    return f"{inst.base}-{inst.quote}"


def _moment(time_ms: int) -> datetime:
    return datetime.fromtimestamp(time_ms / 1000, UTC)


def timestamp_ns(time_ms: int) -> str:
    """The envelope's RFC 3339 time with nanoseconds."""
    return _moment(time_ms).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def timestamp_us(time_ms: int) -> str:
    return _moment(time_ms).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp_s(time_ms: int) -> str:
    return _moment(time_ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_time(time_ms: int, uptime_s: float) -> str:
    """A heartbeat's ``current_time``, printed as Go prints a time with its monotonic part."""
    return _moment(time_ms).strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC") + f" m=+{uptime_s:.9f}"


def envelope(channel: str, time_ms: int, sequence_num: int, events_json: str) -> str:
    return (
        f'{{"channel":"{channel}","client_id":"","timestamp":"{timestamp_ns(time_ms)}",'
        f'"sequence_num":{sequence_num},"events":{events_json}}}'
    )


def market_trade(inst: Instrument, trade: TradeEvent) -> dict[str, str]:
    """A public trade, as ``market_trades`` and the REST ``ticker`` list it (the side is the
    taker's)."""
    return {
        "trade_id": str(trade.trade_id),
        "product_id": product_id(inst),
        "price": fixed(trade.price, inst.price_decimals),
        "size": fixed(trade.qty, inst.qty_decimals),
        "time": timestamp_us(trade.time_ms),
        "side": trade.taker_side.value,
    }


def level_updates(
    inst: Instrument,
    levels: Iterable[tuple[Side, Decimal, Decimal]],
    event_time: str,
) -> list[dict[str, Any]]:
    return [
        {
            "side": "bid" if side is Side.BUY else "offer",
            "event_time": event_time,
            "price_level": fixed(price, inst.price_decimals),
            "new_quantity": fixed(qty, inst.qty_decimals),
        }
        for side, price, qty in levels
    ]


_FRACTION = re.compile(r"\.(\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> int:
    """Unix milliseconds of an RFC 3339 time (``2023-05-25T17:01:05.092Z``; nanoseconds are
    cut to microseconds). ValueError when it is not one."""
    trimmed = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text.strip(), count=1)
    moment = datetime.fromisoformat(trimmed)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return (moment - _EPOCH) // timedelta(milliseconds=1)
