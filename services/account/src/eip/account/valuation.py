"""Valuing assets in a quote currency from live prices: one in-memory price graph.

The graph holds the latest price of every (exchange, pair) seen on ``md.tickers.v1`` (mid of
bid and ask, else the last trade) with its depth (the smaller of the top bid and ask sizes)
and the time it was received. Valuing asset A in quote Q looks for routes, in this order of
preference:

1. ``identity`` — A is Q;
2. one leg — the pair A/Q (``direct``) or Q/A (``inverse``, 1/price) on any exchange;
3. two legs through a bridge asset B (``bridge``, by default USDT, USDC, BTC, ETH): A→B then
   B→Q, each leg direct or inverse, on any exchanges.

A leg whose price is older than ``max_age_s`` is not used. Among the usable routes of the first
tier that has one, the deepest wins (route depth: the smallest leg depth, in Q), and among
equally deep routes the freshest (route age: its oldest leg). A stablecoin is an asset like any
other — USDT in USD is the USDT/USD market, or a bridge through BTC — and only when the caller
asks for it (``stable_par``) is a listed USD stablecoin without any usable route taken at 1:1
(``par``). An asset with no route is *unvalued*: it has no value, never a value of 0.

Every ``Rate`` says its route (each leg's exchange, pair, direction, price and age), so a
number on a screen can be traced to the prices it came from.

Subtle: the graph is read on the event loop by HTTP handlers and written by the ticker
consumer on the same loop, so there is no lock; ``rates`` takes one consistent look at the
graph for a whole valuation (one clock reading), so all assets of a portfolio are valued
against the same prices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Literal

RouteKind = Literal["identity", "direct", "inverse", "bridge", "par"]
_ZERO = Decimal(0)
_ONE = Decimal(1)
PRECISION = 34  # decimal digits of every product and quotient (IEEE decimal128's)


@dataclass(frozen=True, slots=True)
class PairPrice:
    """The latest price of one pair on one exchange."""

    exchange: str
    base: str
    quote: str
    price: Decimal  # quote per base
    depth: Decimal  # base units available at the top of the book (smaller side); 0 unknown
    received: float  # unix seconds

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True, slots=True)
class Leg:
    pair: PairPrice
    inverse: bool  # traversed quote → base (rate 1/price)

    @property
    def source(self) -> str:
        return self.pair.quote if self.inverse else self.pair.base

    @property
    def target(self) -> str:
        return self.pair.base if self.inverse else self.pair.quote

    def rate(self) -> Decimal:
        return _ONE / self.pair.price if self.inverse else self.pair.price

    def depth_in_target(self) -> Decimal:
        # base units at the top, expressed in the asset this leg converts into
        return self.pair.depth if self.inverse else self.pair.depth * self.pair.price


@dataclass(frozen=True, slots=True)
class Rate:
    """How much one unit of ``asset`` is worth in ``quote``, and why."""

    asset: str
    quote: str
    rate: Decimal
    kind: RouteKind
    legs: tuple[Leg, ...]
    age_s: float  # of the oldest leg (0 for identity and par)
    depth: Decimal | None  # smallest leg depth in the quote; None where it does not apply

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rate": str(self.rate),
            "price_age_s": round(self.age_s, 3),
            "legs": [
                {
                    "exchange": leg.pair.exchange,
                    "symbol": leg.pair.symbol,
                    "direction": "inverse" if leg.inverse else "direct",
                    "price": str(leg.pair.price),
                }
                for leg in self.legs
            ],
        }


@dataclass(frozen=True, slots=True)
class Unvalued:
    asset: str
    quote: str
    reason: Literal["no_price", "stale_price"]


@dataclass
class PriceGraph:
    max_age_s: float = 300.0
    bridges: tuple[str, ...] = ("USDT", "USDC", "BTC", "ETH")
    usd_stablecoins: frozenset[str] = frozenset({"USDT", "USDC", "DAI", "FDUSD", "TUSD"})
    clock: Callable[[], float] = time.time
    # (base, quote) -> exchange -> latest price
    _pairs: dict[tuple[str, str], dict[str, PairPrice]] = field(default_factory=dict)
    version: int = 0  # bumped by every update

    def update(
        self,
        exchange: str,
        symbol: str,
        *,
        bid: str = "",
        ask: str = "",
        last: str = "",
        bid_size: str = "",
        ask_size: str = "",
        received: float | None = None,
    ) -> bool:
        """Take one ticker; False (ignored) when it carries no usable price."""
        base, sep, quote = symbol.partition("/")
        if not (sep and base and quote):
            return False
        b, a, lt = _dec(bid), _dec(ask), _dec(last)
        if b > 0 and a > 0:
            with localcontext() as ctx:
                ctx.prec = PRECISION
                price = (b + a) / 2
        elif lt > 0:
            price = lt
        else:
            return False
        bs, asz = _dec(bid_size), _dec(ask_size)
        depth = min(bs, asz) if bs > 0 and asz > 0 else max(bs, asz, _ZERO)
        key = (base, quote)
        self._pairs.setdefault(key, {})[exchange] = PairPrice(
            exchange, base, quote, price, depth, self.clock() if received is None else received
        )
        self.version += 1
        return True

    def pairs(self) -> int:
        return sum(len(v) for v in self._pairs.values())

    def known_price(self, exchange: str, symbol: str) -> PairPrice | None:
        base, _, quote = symbol.partition("/")
        return self._pairs.get((base, quote), {}).get(exchange)

    # -- routes --------------------------------------------------------------------------

    def _legs(self, source: str, target: str, now: float) -> tuple[list[Leg], bool]:
        """Fresh legs converting ``source`` into ``target``; whether stale ones were seen."""
        legs: list[Leg] = []
        stale = False
        for (base, quote), inverse in (((source, target), False), ((target, source), True)):
            for pair in self._pairs.get((base, quote), {}).values():
                if now - pair.received > self.max_age_s:
                    stale = True
                    continue
                legs.append(Leg(pair, inverse))
        return legs, stale

    def rate(self, asset: str, quote: str, *, stable_par: bool = False) -> Rate | Unvalued:
        return self._rate(asset, quote, self.clock(), stable_par)

    def rates(
        self, assets: Iterable[str], quote: str, *, stable_par: bool = False
    ) -> dict[str, Rate | Unvalued]:
        """One consistent look at the graph for many assets (one clock reading)."""
        now = self.clock()
        return {a: self._rate(a, quote, now, stable_par) for a in set(assets)}

    def _rate(self, asset: str, quote: str, now: float, stable_par: bool) -> Rate | Unvalued:
        if asset == quote:
            return Rate(asset, quote, _ONE, "identity", (), 0.0, None)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            direct, stale = self._legs(asset, quote, now)
            if direct:
                return _best([_route(asset, quote, (leg,), now) for leg in direct])
            bridged: list[Rate] = []
            for bridge in self.bridges:
                if bridge in (asset, quote):
                    continue
                first, stale_first = self._legs(asset, bridge, now)
                if not first:
                    stale = stale or stale_first
                    continue
                second, stale_second = self._legs(bridge, quote, now)
                stale = stale or stale_second
                bridged += [_route(asset, quote, (a, b), now) for a in first for b in second]
            if bridged:
                return _best(bridged)
        if stable_par and quote == "USD" and asset in self.usd_stablecoins:
            return Rate(asset, quote, _ONE, "par", (), 0.0, None)
        return Unvalued(asset, quote, "stale_price" if stale else "no_price")


def _route(asset: str, quote: str, legs: tuple[Leg, ...], now: float) -> Rate:
    rate = _ONE
    for leg in legs:
        rate *= leg.rate()
    # each leg's depth, carried into the quote by the legs after it
    depths: list[Decimal] = []
    for i, leg in enumerate(legs):
        d = leg.depth_in_target()
        for later in legs[i + 1 :]:
            d *= later.rate()
        depths.append(d)
    kind: RouteKind = "bridge" if len(legs) > 1 else ("inverse" if legs[0].inverse else "direct")
    age = max(now - leg.pair.received for leg in legs)
    return Rate(asset, quote, rate, kind, legs, max(age, 0.0), min(depths))


def _best(routes: list[Rate]) -> Rate:
    # deepest first, then freshest; the exchange and pair names make ties deterministic
    return min(
        routes,
        key=lambda r: (
            -(r.depth or _ZERO),
            r.age_s,
            tuple((leg.pair.exchange, leg.pair.symbol) for leg in r.legs),
        ),
    )


def _dec(text: str) -> Decimal:
    if not text:
        return _ZERO
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return _ZERO
    return value if value.is_finite() else _ZERO


@dataclass(frozen=True, slots=True)
class ValuedAmount:
    asset: str
    amount: Decimal
    value: Decimal | None  # None: unvalued
    rate: Rate | Unvalued


def value_amounts(
    amounts: Mapping[str, Decimal], rates: Mapping[str, Rate | Unvalued]
) -> tuple[list[ValuedAmount], Decimal]:
    """Each amount with its value (or none), and the total of the valued ones."""
    out: list[ValuedAmount] = []
    total = _ZERO
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for asset, amount in amounts.items():
            rate = rates[asset]
            if isinstance(rate, Rate):
                value = amount * rate.rate
                total += value
                out.append(ValuedAmount(asset, amount, value, rate))
            else:
                out.append(ValuedAmount(asset, amount, None, rate))
    return out, total
