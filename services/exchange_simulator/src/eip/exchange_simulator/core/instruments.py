"""Instruments: what can be traded and the rules an order must satisfy (tick, lot, notional),
and, for a generated market, how its market behaves (``[instrument.market]``, see
``core/market_model.py``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchange_simulator.core.market_model import (
    MarketModel,
    model_from_mapping,
    usd_prices,
    with_sizes,
)

ZERO = Decimal(0)


class InstrumentsFileError(ValueError):
    """The instruments file cannot be used; the simulator refuses to start, saying why."""


@dataclass
class Instrument:
    symbol: str  # exchange-native, e.g. "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal = Decimal("9000000")
    min_price: Decimal = ZERO
    max_price: Decimal = Decimal("1000000")
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    # Reference price for generated markets; replayed markets take theirs from the recording.
    reference_price: Decimal = ZERO
    status: str = "TRADING"  # TRADING | HALT
    base_precision: int = 8
    quote_precision: int = 8
    extra: dict[str, Any] = field(default_factory=dict)
    # How a generated market of this instrument behaves; None: the calibrated defaults.
    market: MarketModel | None = None

    @property
    def price_decimals(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_decimals(self) -> int:
        return max(0, -self.step_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    def on_tick(self, price: Decimal) -> bool:
        return self.tick_size == 0 or price % self.tick_size == 0

    def on_step(self, qty: Decimal) -> bool:
        return self.step_size == 0 or qty % self.step_size == 0

    def floor_qty(self, qty: Decimal) -> Decimal:
        if self.step_size == 0:
            return qty
        return (qty // self.step_size) * self.step_size

    def round_price(self, price: Decimal) -> Decimal:
        if self.tick_size == 0:
            return price
        return (price / self.tick_size).to_integral_value() * self.tick_size


def _dec(raw: Any) -> Decimal:
    return Decimal(str(raw))


def instrument_from_mapping(raw: dict[str, Any]) -> Instrument:
    known = {
        "symbol",
        "base",
        "quote",
        "tick_size",
        "step_size",
        "min_qty",
        "max_qty",
        "min_notional",
        "max_notional",
        "min_price",
        "max_price",
        "maker_fee",
        "taker_fee",
        "reference_price",
        "status",
        "market",
    }
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"instrument {raw.get('symbol')!r}: unknown keys {sorted(unknown)}")
    try:
        inst = Instrument(
            symbol=str(raw["symbol"]).upper(),
            base=str(raw["base"]).upper(),
            quote=str(raw["quote"]).upper(),
            tick_size=_dec(raw["tick_size"]),
            step_size=_dec(raw["step_size"]),
            min_qty=_dec(raw.get("min_qty", raw["step_size"])),
            max_qty=_dec(raw.get("max_qty", "9000")),
            min_notional=_dec(raw.get("min_notional", 0)),
        )
    except KeyError as exc:
        raise ValueError(f"instrument {raw.get('symbol')!r}: missing {exc.args[0]!r}") from None
    for name in (
        "max_notional",
        "min_price",
        "max_price",
        "maker_fee",
        "taker_fee",
        "reference_price",
    ):
        if name in raw:
            setattr(inst, name, _dec(raw[name]))
    if "status" in raw:
        inst.status = str(raw["status"])
    if "market" in raw:
        if not isinstance(raw["market"], dict):
            raise ValueError(f"instrument {inst.symbol!r}: market must be a table")
        inst.market = model_from_mapping(raw["market"], f"instrument {inst.symbol!r}")
    return inst


def generated_model(instrument: Instrument, usd_price: Decimal | None) -> MarketModel:
    """The instrument's market with every size known (``usd_price``: its base asset in dollars,
    for the sizes it leaves out); ``ValueError`` when a size cannot be known."""
    return with_sizes(
        instrument.market or MarketModel(), usd_price, f"instrument {instrument.symbol!r}"
    )


def load_instruments(path: Path) -> list[Instrument]:
    """Instruments from a TOML file: one ``[[instrument]]`` table each (see default-market.toml).
    An instrument with a reference price is one to generate a market for: its market gets the
    sizes it leaves out from its dollar price, or the file is refused when it has none.
    ``InstrumentsFileError`` names the file and what is wrong."""
    try:
        data = tomllib.loads(path.read_text())
        items = data.get("instrument")
        if not isinstance(items, list) or not items:
            raise ValueError("no [[instrument]] tables")
        instruments = [instrument_from_mapping(item) for item in items]
        prices = usd_prices(instruments)
        for inst in instruments:
            if inst.reference_price > 0:
                inst.market = generated_model(inst, prices.get(inst.base))
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise InstrumentsFileError(f"SIMULATOR_INSTRUMENTS_FILE {path}: {exc}") from None
    return instruments
