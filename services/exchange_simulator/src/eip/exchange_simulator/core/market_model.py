"""The parameters of a generated market, per instrument (``[instrument.market]`` in an
instruments file), and the random laws they drive. ``GeneratedMarket`` (``core/market.py``)
runs them; ``calibrate.py`` fits them to recorded captures.

The model, per instrument:

- **Price**: an Ornstein-Uhlenbeck walk in log price around ``reference_price``: each second
  the log mid moves with sigma ``volatility`` and is pulled back with half-life ``half_life_s``
  (``inf``: a plain random walk). Stepped exactly for any step length, so sigma does not depend
  on ``SIMULATOR_STEP_SECONDS``; the stationary spread of the log price is
  sigma * sqrt(half_life / (2 ln 2)).
- **Book**: the market maker quotes ``spread_bps`` (or ``spread_ticks``) wide around the mid,
  ``levels`` a side; level ``i`` (0 at the touch) lies ``level_gap_bps * i**level_gap_growth``
  bps of log price beyond the touch, at least a tick from its neighbour. Its size is
  ``top_size * (1 + i)**size_growth`` times a lognormal factor of sigma ``size_dispersion``.
  ``churn_rate`` levels a second are resized at random, as real books change, at an
  exponentially distributed depth of mean ``churn_depth`` levels (changes crowd at the touch).
- **Trades**: a noise trader sends market orders at Poisson times, ``trade_rate`` a second,
  half buys and half sells, sized lognormally around ``trade_size_median`` with sigma
  ``trade_size_sigma``; each prints one trade per level it takes.

Sizes are base-asset amounts. Left out, they follow from the calibrated notional
(``DEFAULT_TOP_NOTIONAL_USD``) at the instrument's price in dollars, which the loader finds
from the file's instruments (dollar-like quotes count at par); an instrument whose base has no
dollar price must set them. Lognormal draws are cut at ±``CLIP_SIGMAS`` sigma so that one draw
cannot put a level a thousand times the median on the book.

The random draws are floats (a model's state, not money); what reaches the book is integer
ticks and lots, so prices and sizes stay exact decimals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eip.exchange_simulator.core.instruments import Instrument

# Dollars, dollar stablecoins and the major fiat currencies: worth about a dollar each, which is
# close enough for sizes that are orders of magnitude (the captures quote EUR and CHF too).
USD_LIKE = frozenset({"USD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "FDUSD", "EUR", "CHF", "GBP"})
CLIP_SIGMAS = 3.0
BPS = 10_000
MAX_LEVELS = 10_000

# Calibrated from data/recorded (python -m eip.exchange_simulator.calibrate, docs/SIMULATOR.md).
DEFAULT_VOLATILITY = 0.000212  # per second: the median of every captured market
DEFAULT_SPREAD_BPS = 17.5
DEFAULT_LEVEL_GAP_BPS = 2.22
DEFAULT_LEVEL_GAP_GROWTH = 1.41
DEFAULT_SIZE_GROWTH = -0.384
DEFAULT_SIZE_DISPERSION = 2.1
DEFAULT_CHURN_RATE = 10.7
DEFAULT_CHURN_DEPTH = 5.66
DEFAULT_TRADE_RATE = 0.682
DEFAULT_TRADE_SIZE_SIGMA = 0.992
DEFAULT_TOP_NOTIONAL_USD = Decimal("3300")
DEFAULT_TRADE_TO_TOP = Decimal("0.214")
# Chosen, not fitted (the captures last half a minute): half an hour keeps the price within
# about ±1.3 % of its reference (3 stationary sigma at the default volatility).
DEFAULT_HALF_LIFE_S = 1800.0
DEFAULT_LEVELS = 500


@dataclass(frozen=True)
class MarketModel:
    volatility: float = DEFAULT_VOLATILITY
    half_life_s: float = DEFAULT_HALF_LIFE_S
    spread_bps: float | None = DEFAULT_SPREAD_BPS  # None when spread_ticks is given
    spread_ticks: int | None = None
    levels: int = DEFAULT_LEVELS
    level_gap_bps: float = DEFAULT_LEVEL_GAP_BPS
    level_gap_growth: float = DEFAULT_LEVEL_GAP_GROWTH
    top_size: Decimal | None = None  # None: from DEFAULT_TOP_NOTIONAL_USD and the price
    size_growth: float = DEFAULT_SIZE_GROWTH
    size_dispersion: float = DEFAULT_SIZE_DISPERSION
    churn_rate: float = DEFAULT_CHURN_RATE
    churn_depth: float = DEFAULT_CHURN_DEPTH
    trade_rate: float = DEFAULT_TRADE_RATE
    trade_size_median: Decimal | None = None  # None: DEFAULT_TRADE_TO_TOP of top_size
    trade_size_sigma: float = DEFAULT_TRADE_SIZE_SIGMA

    @property
    def reversion(self) -> float:
        """θ of the walk, per second (0: no pull back)."""
        return math.log(2) / self.half_life_s if math.isfinite(self.half_life_s) else 0.0

    @property
    def stationary_sigma(self) -> float:
        """sigma of the log price around the reference once the walk has settled (inf without
        mean reversion)."""
        theta = self.reversion
        return self.volatility / math.sqrt(2 * theta) if theta > 0 else math.inf

    def walk(self, x: float, dt: float, rng: random.Random) -> float:
        """The log price ``dt`` seconds after ``x`` (both relative to the reference)."""
        theta = self.reversion
        if theta == 0:
            return x + self.volatility * math.sqrt(dt) * rng.gauss(0.0, 1.0)
        pull = math.exp(-theta * dt)
        sd = self.volatility * math.sqrt((1 - pull * pull) / (2 * theta))
        return x * pull + sd * rng.gauss(0.0, 1.0)

    def offset_bps(self, index: int) -> float:
        """How far level ``index`` lies beyond the touch, in bps of log price."""
        return self.level_gap_bps * math.pow(index, self.level_gap_growth) if index > 0 else 0.0

    def level_factor(self, index: int, rng: random.Random) -> float:
        """Level ``index``'s size over ``top_size``: the profile times its lognormal draw."""
        return math.pow(1 + index, self.size_growth) * _lognormal(self.size_dispersion, rng)

    def trade_factor(self, rng: random.Random) -> float:
        """A trade's size over ``trade_size_median``."""
        return _lognormal(self.trade_size_sigma, rng)


def _lognormal(sigma: float, rng: random.Random) -> float:
    z = max(-CLIP_SIGMAS, min(CLIP_SIGMAS, rng.gauss(0.0, 1.0)))
    return math.exp(sigma * z)


# -- instruments files -------------------------------------------------------------------------

_FLOATS = {
    "volatility": (0.0, False),  # (lowest value, whether the lowest is excluded)
    "half_life_s": (0.0, True),
    "spread_bps": (0.0, True),
    "level_gap_bps": (0.0, True),
    "level_gap_growth": (0.0, True),
    "size_growth": (-math.inf, True),
    "size_dispersion": (0.0, False),
    "churn_rate": (0.0, False),
    "churn_depth": (0.0, True),
    "trade_rate": (0.0, False),
    "trade_size_sigma": (0.0, False),
}
_SIZES = ("top_size", "trade_size_median")
_INTS = {"spread_ticks": (1, 1_000_000_000), "levels": (1, MAX_LEVELS)}


def model_from_mapping(raw: Mapping[str, Any], where: str) -> MarketModel:
    """An ``[instrument.market]`` table; ``ValueError`` naming ``where`` and the key at fault.
    Keys left out keep their defaults."""
    unknown = set(raw) - set(_FLOATS) - set(_SIZES) - set(_INTS)
    if unknown:
        raise ValueError(f"{where}: unknown market keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, (lowest, open_below) in _FLOATS.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}: market.{key} must be a number, not {value!r}")
            number = float(value)
            too_low = number <= lowest if open_below else number < lowest
            if math.isnan(number) or too_low or (math.isinf(number) and key != "half_life_s"):
                bound = f"above {lowest:g}" if open_below else f"at least {lowest:g}"
                raise ValueError(f"{where}: market.{key} must be {bound}, not {value!r}")
            values[key] = number
    for key in _SIZES:
        if key in raw:
            try:
                size = Decimal(str(raw[key]))
            except ArithmeticError:
                size = Decimal("NaN")
            if not size.is_finite() or size <= 0 or isinstance(raw[key], bool):
                raise ValueError(
                    f"{where}: market.{key} must be a positive amount, not {raw[key]!r}"
                )
            values[key] = size
    for key, (low, high) in _INTS.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"{where}: market.{key} must be a whole number from {low} to {high}, "
                    f"not {value!r}"
                )
            values[key] = value
    if "spread_ticks" in values:
        if "spread_bps" in values:
            raise ValueError(f"{where}: set market.spread_bps or market.spread_ticks, not both")
        values["spread_bps"] = None
    return MarketModel(**values)


def usd_prices(instruments: Iterable[Instrument]) -> dict[str, Decimal]:
    """What each asset is worth in dollars, from the instruments' reference prices: dollar-like
    assets at par, then bases quoted in an asset already priced (ETHBTC through BTCUSDT)."""
    listed = [i for i in instruments if i.reference_price > 0]
    prices = {asset: Decimal(1) for asset in USD_LIKE}
    while True:
        found = {
            i.base: i.reference_price * prices[i.quote]
            for i in listed
            if i.base not in prices and i.quote in prices
        }
        if not found:
            return prices
        for asset, price in found.items():
            prices.setdefault(asset, price)


def with_sizes(model: MarketModel, usd_price: Decimal | None, where: str) -> MarketModel:
    """``model`` with its sizes filled in from the calibrated notional, given the base asset's
    dollar price; ``ValueError`` when a size is missing and there is no price."""
    top = model.top_size
    if top is None:
        if usd_price is None or usd_price <= 0:
            raise ValueError(
                f"{where}: no dollar price for the base asset in the instruments file; set "
                "market.top_size and market.trade_size_median"
            )
        top = DEFAULT_TOP_NOTIONAL_USD / usd_price
    median = model.trade_size_median
    if median is None:
        median = top * DEFAULT_TRADE_TO_TOP
    return replace(model, top_size=top, trade_size_median=median)


def format_model(model: MarketModel) -> list[str]:
    """TOML lines (``key = value``) for every parameter of ``model``."""
    lines: list[str] = []
    for f in fields(model):
        value = getattr(model, f.name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            text = f'"{value}"'
        elif isinstance(value, float) and math.isinf(value):
            text = "inf"
        else:
            text = repr(value)
        lines.append(f"{f.name} = {text}")
    return lines
