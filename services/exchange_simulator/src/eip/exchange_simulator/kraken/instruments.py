"""Kraken WebSocket v2 ``instrument`` channel: the reference data of every pair and asset, where
a client learns the precisions the book checksum needs. Snapshot only (the simulator's
instruments do not change while it runs, apart from a halt)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.kraken import wire


def _number(value: Decimal) -> str:
    """A JSON number literal of an exact decimal (increments and minimums keep every digit)."""
    return fixed(value, 0)


def _pair(inst: Instrument) -> str:
    status = "online" if inst.status == "TRADING" else "cancel_only"
    return (
        f'{{"symbol":"{wire.ws_symbol(inst)}","base":"{inst.base}","quote":"{inst.quote}",'
        f'"status":"{status}","qty_precision":{inst.qty_decimals},'
        f'"qty_increment":{_number(inst.step_size)},"price_precision":{inst.price_decimals},'
        f'"price_increment":{_number(inst.tick_size)},"cost_precision":{inst.quote_precision},'
        f'"cost_min":{_number(inst.min_notional)},"qty_min":{_number(inst.min_qty)},'
        f'"marginable":false,"has_index":false}}'
    )


def instrument_snapshot(instruments: Iterable[Instrument]) -> str:
    listed = sorted(instruments, key=lambda i: i.symbol)
    precisions: dict[str, int] = {}
    for inst in listed:
        precisions[inst.base] = inst.base_precision
        precisions[inst.quote] = inst.quote_precision
    assets = ",".join(
        f'{{"id":"{asset}","status":"enabled","precision":{places},'
        f'"precision_display":{min(places, 5)},"borrowable":false,"collateral_value":0,'
        f'"margin_rate":0}}'
        for asset, places in sorted(precisions.items())
    )
    pairs = ",".join(_pair(inst) for inst in listed)
    return (
        f'{{"channel":"instrument","type":"snapshot","data":{{"assets":[{assets}],'
        f'"pairs":[{pairs}]}}}}'
    )
