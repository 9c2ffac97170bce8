"""The market around the simulated users: background liquidity and trades.

Two sources, both deterministic for their input: a seeded random process (``GeneratedMarket``,
its parameters per instrument in ``core/market_model.py``) and a replay of recorded actions
(``replay``; the dialects turn their exchange's captures into actions). Liquidity is resting
orders of a system account, so users trade against it through the same engine; recorded trades
are printed to the tape without touching the book, because the recorded depth changes already
carry the liquidity they consumed.

What is subtle in the generated market:

- **The ladder is incremental.** Five hundred levels a side on six instruments cannot be
  rewritten every step. Levels are absolute prices that stay where they are; a step moves the
  touch order to the new touch (one amendment, one book update), withdraws quotes the price
  has passed, inserts or merges levels where the spacing near the touch strays from the model
  by more than a factor of two (checked over the first ``SHAPED_LEVELS`` only, where a price
  move leaves its wake), keeps the count at the far end, tops up levels that traded, and
  resizes ``churn_rate`` random levels a second. A step costs what changed, not the depth.
- **Order of a step**: noise trades first, against the book as it stands; then the walk
  moves and the market maker re-quotes, topping up what the trades took. The book between
  steps is whole, so a user sees the modelled spread and depth.
- **Users move nothing for good**: a user's market order eats levels that are refilled next
  step at the same prices; a user's resting order is filled when the market maker's re-quoted
  touch reaches it (the maker trades as taker), that is when the modelled price gets there.
- **The market maker's orders stay small in memory**: an order that traded is replaced (cancel
  and place) rather than amended, so no order accumulates fills over a long run.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from eip.exchange_simulator.core.engine import OrderUpdate
from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.instruments import generated_model
from eip.exchange_simulator.core.market_model import BPS, MarketModel, usd_prices
from eip.exchange_simulator.core.orders import (
    ExecType,
    Fill,
    Order,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

ZERO = Decimal(0)
MARKET_MAKER = "market-maker"
NOISE_TRADER = "noise-trader"
_DEEP_POCKETS = Decimal(10) ** 15


def ensure_system_accounts(exchange: Exchange) -> None:
    """The accounts that provide background liquidity and trades, funded without limit."""
    assets = {a for i in exchange.instruments.values() for a in (i.base, i.quote)}
    for account_id in (MARKET_MAKER, NOISE_TRADER):
        if account_id not in exchange.accounts:
            exchange.create_account(account_id, dict.fromkeys(assets, _DEEP_POCKETS))
    for engine in exchange.engines.values():
        engine.filter_exempt.add(MARKET_MAKER)
    exchange.untracked_accounts.update((MARKET_MAKER, NOISE_TRADER))


@dataclass(frozen=True)
class SetLevel:
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal  # total wanted at this price, all participants together; 0 clears ours


@dataclass(frozen=True)
class PrintTrade:
    symbol: str
    price: Decimal
    quantity: Decimal
    taker_side: Side


@dataclass(frozen=True)
class TakeLiquidity:
    """A noise trader's market order, matched through the engine like a user's."""

    symbol: str
    side: Side
    quantity: Decimal


@dataclass(frozen=True)
class Pause:
    seconds: float


Action = SetLevel | PrintTrade | TakeLiquidity | Pause


class LiquidityProvider:
    """Keeps one resting order per price level for the market maker. ``set_level`` sets a
    level's total (replay: the recorded book); ``quote`` and ``move`` set the maker's own order
    (the generated market), and ``traded`` collects, for the symbols a generator follows, the
    maker's levels that traded since it last looked."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.orders: dict[tuple[str, Side, Decimal], Order] = {}
        self.traded: dict[str, set[tuple[Side, Decimal]]] = {}
        ensure_system_accounts(exchange)
        exchange.listeners.order.append(self._heard)

    def follow(self, symbol: str) -> None:
        """Collect the maker's traded levels of ``symbol`` in ``traded[symbol]``."""
        self.traded.setdefault(symbol, set())

    def _heard(self, account_id: str, update: OrderUpdate) -> None:
        if account_id == MARKET_MAKER and update.exec_type is ExecType.TRADE:
            order = update.order
            traded = self.traded.get(order.symbol)
            if traded is not None and order.price is not None:
                traded.add((order.side, order.price))

    def _open(self, key: tuple[str, Side, Decimal]) -> Order | None:
        ours = self.orders.get(key)
        if ours is not None and not ours.status.is_open:
            del self.orders[key]
            return None
        return ours

    def _place(self, key: tuple[str, Side, Decimal], quantity: Decimal) -> None:
        symbol, side, price = key
        try:
            order = self.exchange.place(
                OrderRequest(
                    MARKET_MAKER,
                    symbol,
                    side,
                    OrderType.LIMIT,
                    quantity,
                    price,
                    time_in_force=TimeInForce.GTC,
                )
            )
        except Rejection:
            return  # halted, or refused by filters: the level stays empty until quoted again
        if order.status.is_open:
            self.orders[key] = order

    def _withdraw(self, key: tuple[str, Side, Decimal]) -> None:
        ours = self._open(key)
        if ours is not None:
            self.exchange.cancel(MARKET_MAKER, key[0], ours.order_id)
            del self.orders[key]

    def quote(self, symbol: str, side: Side, price: Decimal, quantity: Decimal) -> None:
        """The maker's own order at ``price`` shows exactly ``quantity`` (0: withdrawn)."""
        key = (symbol, side, price)
        ours = self._open(key)
        if ours is not None and ours.remaining == quantity:
            return
        if ours is not None and quantity > 0 and self._amend(key, ours, quantity, None):
            return
        self._withdraw(key)
        if quantity > 0:
            self._place(key, quantity)

    def move(self, symbol: str, side: Side, old: Decimal, new: Decimal, quantity: Decimal) -> None:
        """The maker's order at ``old`` goes to ``new``, showing ``quantity``: one amendment,
        so one book update (a new order where nothing rests at ``old`` or it has traded)."""
        ours = self._open((symbol, side, old))
        if ours is not None and self._open((symbol, side, new)) is None:
            del self.orders[(symbol, side, old)]
            if self._amend((symbol, side, new), ours, quantity, new):
                return
            self.orders[(symbol, side, old)] = ours
        self._withdraw((symbol, side, old))
        self.quote(symbol, side, new, quantity)

    def _amend(
        self,
        key: tuple[str, Side, Decimal],
        ours: Order,
        quantity: Decimal,
        price: Decimal | None,
    ) -> bool:
        """Amend an order that has not traded (one that has is replaced instead, so that no
        order collects fills forever); False when it was not amended."""
        if ours.executed_qty > 0:
            return False
        try:
            self.exchange.amend(MARKET_MAKER, key[0], ours.order_id, quantity=quantity, price=price)
        except Rejection:
            return False
        if ours.status.is_open:
            self.orders[key] = ours
        else:
            self.orders.pop(key, None)
        return True

    def set_level(self, action: SetLevel) -> None:
        key = (action.symbol, action.side, action.price)
        ours = self._open(key)
        level = self.exchange.engine(action.symbol).book.side(action.side).levels.get(action.price)
        others = (level.total if level else ZERO) - (ours.remaining if ours else ZERO)
        # Not floored to the lot step: recorded levels keep their exact size (we are exempt).
        wanted = max(ZERO, action.quantity - others)
        if ours is not None and ours.remaining == wanted:
            return
        self._withdraw(key)
        if wanted > 0:
            self._clear_crossing(action)
            self._place(key, wanted)  # a level today's filters refuse (e.g. dust) is skipped

    def _clear_crossing(self, action: SetLevel) -> None:
        """Our own opposite levels that this one would cross are stale: withdraw them first."""
        best = self.exchange.engine(action.symbol).book.opposite(action.side).best()
        if best is None or (
            best.price > action.price if action.side is Side.BUY else best.price < action.price
        ):
            return  # nothing on the other side crosses, ours included
        for (symbol, side, price), order in list(self.orders.items()):
            if symbol != action.symbol or side is action.side or not order.status.is_open:
                continue
            crosses = price <= action.price if action.side is Side.BUY else price >= action.price
            if crosses:
                self.exchange.cancel(MARKET_MAKER, symbol, order.order_id)
                del self.orders[(symbol, side, price)]

    def clear(self, symbol: str | None = None) -> None:
        for key, order in list(self.orders.items()):
            if symbol is None or key[0] == symbol:
                if order.status.is_open:
                    self.exchange.cancel(MARKET_MAKER, key[0], order.order_id)
                del self.orders[key]


def apply(exchange: Exchange, provider: LiquidityProvider, action: Action) -> None:
    if isinstance(action, SetLevel):
        provider.set_level(action)
    elif isinstance(action, PrintTrade):
        exchange.print_trade(action.symbol, action.price, action.quantity, action.taker_side)
    elif isinstance(action, TakeLiquidity):
        take_liquidity(exchange, action)


def take_liquidity(exchange: Exchange, action: TakeLiquidity) -> list[Fill]:
    """The noise trader's market order; its fills (none when, say, the side is empty: the
    noise trader just misses)."""
    try:
        order = exchange.place(
            OrderRequest(
                NOISE_TRADER, action.symbol, action.side, OrderType.MARKET, action.quantity
            )
        )
    except Rejection:
        return []
    return order.fills


async def replay(
    exchange: Exchange,
    actions: Iterable[Action],
    speed: float = 1.0,
    provider: LiquidityProvider | None = None,
) -> int:
    """Apply recorded actions in order, keeping their pacing divided by ``speed`` (0 = flat out).
    Returns the number of actions applied."""
    provider = provider or LiquidityProvider(exchange)
    applied = 0
    for action in actions:
        if isinstance(action, Pause):
            if speed > 0 and action.seconds > 0:
                await asyncio.sleep(action.seconds / speed)
            else:
                await asyncio.sleep(0)
            continue
        apply(exchange, provider, action)
        applied += 1
    return applied


@dataclass
class GeneratorConfig:
    """What every generated instrument shares; the rest is per instrument (``MarketModel``)."""

    step_seconds: float = 0.1


# The touch-side levels whose spacing each step checks: a price move leaves its wake there.
SHAPED_LEVELS = 64
WARM_UP_STEP_S = 1.0


class _Ladder:
    """One side of the market maker's quotes: level prices in ticks, best first, and the lots
    each level shows."""

    def __init__(self, side: Side, model: MarketModel) -> None:
        self.side = side
        self.out = -1 if side is Side.BUY else 1  # the direction away from the touch, in ticks
        self.prices: list[int] = []
        self.lots: dict[int, int] = {}
        # Levels near the touch were added or taken away since the last shaping: every level
        # behind them has a new index, so a new ideal gap, and the shaping looks at them all.
        self.shifted = False
        # The model's gap after level i as a fraction of the touch price (levels lie at fixed
        # log distances from the touch, so the fraction does not depend on the price).
        where = [math.exp(self.out * model.offset_bps(i) / BPS) for i in range(model.levels + 1)]
        self.gaps = [abs(b - a) for a, b in itertools.pairwise(where)]

    def gap(self, touch: int, index: int) -> int:
        """Ticks between the model's levels ``index`` and ``index + 1`` seen from ``touch``."""
        return max(1, round(self.gaps[min(index, len(self.gaps) - 1)] * touch))

    def beyond(self, a: int, b: int) -> bool:
        """Whether ``a`` lies further from the touch than ``b``."""
        return (a - b) * self.out > 0


class GeneratedMarket:
    """A seeded random market for one instrument (``core/market_model.py``): a mean-reverting
    walk, a market maker's ladder kept around it incrementally, and a noise trader taking
    liquidity at Poisson times. The same seed gives the same market."""

    def __init__(
        self,
        exchange: Exchange,
        symbol: str,
        seed: int,
        config: GeneratorConfig | None = None,
        provider: LiquidityProvider | None = None,
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.config = config or GeneratorConfig()
        self.rng = random.Random(f"{seed}:{symbol}")
        self.provider = provider or LiquidityProvider(exchange)
        self.instrument = inst = exchange.instruments[symbol]
        if inst.reference_price <= 0:
            raise ValueError(f"{symbol}: a generated market needs reference_price")
        self.model: MarketModel = generated_model(inst, usd_prices([inst]).get(inst.base))
        assert self.model.top_size is not None
        assert self.model.trade_size_median is not None
        self.tick = inst.tick_size if inst.tick_size > 0 else Decimal("0.00000001")
        self.lot = inst.step_size if inst.step_size > 0 else Decimal("0.00000001")
        self.reference = float(inst.reference_price / self.tick)  # in ticks
        self.top_lots = float(self.model.top_size / self.lot)
        self.trade_lots = float(self.model.trade_size_median / self.lot)
        self.log_mid = 0.0  # log of the mid over the reference price
        self.clock = 0.0  # simulated seconds
        self.next_trade = self._after(self.model.trade_rate)
        self.next_churn = self._after(self.model.churn_rate)
        self.bids, self.asks = _Ladder(Side.BUY, self.model), _Ladder(Side.SELL, self.model)
        self.provider.follow(symbol)

    # -- what a user of the generator sees -------------------------------------------------------

    @property
    def mid(self) -> Decimal:
        """The modelled mid, to the tick."""
        return self.tick * round(self.reference * math.exp(self.log_mid))

    def step(self) -> None:
        """One step of ``config.step_seconds``."""
        self._advance(self.config.step_seconds)

    def warm_up(self, seconds: float) -> None:
        """Run ``seconds`` of market before anyone watches, stamped as the past (the exchange's
        clock is set back meanwhile): the tape and the candles then hold a history, as on an
        exchange that has been running. Steps of a second; the walk and the arrivals are exact
        for any step, so this is the same market, only coarser in time, and without the random
        resizing (``churn_rate``) that nobody would see."""
        skew = self.exchange.clock_skew_ms
        left = seconds
        try:
            while left > 1e-9:
                dt = min(WARM_UP_STEP_S, left)
                left -= dt
                self.exchange.clock_skew_ms = skew - int(left * 1000)
                self._advance(dt, churn=False)
        finally:
            self.exchange.clock_skew_ms = skew

    # -- one step ------------------------------------------------------------------------------

    def _after(self, rate: float) -> float:
        return self.clock + self.rng.expovariate(rate) if rate > 0 else math.inf

    def _advance(self, dt: float, churn: bool = True) -> None:
        end = self.clock + dt
        if self.instrument.status != "TRADING":
            # A halted market: the value goes on moving, the book and the tape stand still.
            self.log_mid = self.model.walk(self.log_mid, dt, self.rng)
            self.clock = end
            self.next_trade = max(self.next_trade, end)
            self.next_churn = max(self.next_churn, end)
            return
        while self.next_trade <= end:
            # Prints arrive at trade_rate; an order that prints k trades takes k arrivals, so
            # the tape prints trade_rate a second however deep orders walk.
            for _ in range(max(1, self._noise_trade())):
                self.next_trade += self.rng.expovariate(self.model.trade_rate)
        self.log_mid = self.model.walk(self.log_mid, dt, self.rng)
        self.clock = end
        self._requote()
        while self.next_churn <= end:
            if churn:
                self._churn()
            self.next_churn += self.rng.expovariate(self.model.churn_rate)

    def _touches(self) -> tuple[int, int]:
        mid = self.reference * math.exp(self.log_mid)
        spread = self.model.spread_ticks
        if spread is None:
            assert self.model.spread_bps is not None
            spread = max(1, round(mid * self.model.spread_bps / BPS))
        bid = max(1, math.floor(mid - spread / 2 + 0.5))
        return bid, bid + spread

    def _requote(self) -> None:
        bid, ask = self._touches()
        ladders = ((self.bids, bid), (self.asks, ask))
        # Stale quotes go first, on both sides, so that no new quote meets one of ours.
        kept = [self._drop_stale(ladder, touch, bid, ask) for ladder, touch in ladders]
        for (ladder, touch), reuse in zip(ladders, kept, strict=True):
            self._set_touch(ladder, touch, reuse)
        for ladder, touch in ladders:
            self._shape(ladder, touch)
            self._keep_depth(ladder, touch)
        self._top_up()

    def _drop_stale(self, ladder: _Ladder, touch: int, bid: int, ask: int) -> int | None:
        """Withdraw the levels better than the touch; the one nearest it is kept to be moved
        there (one amendment) when it lies inside the new spread. Returns it."""
        prices = ladder.prices
        stale = 0
        while stale < len(prices) and ladder.beyond(touch, prices[stale]):
            stale += 1
        if not stale:
            return None
        reuse = prices[stale - 1] if bid < prices[stale - 1] < ask else None
        for price in prices[:stale]:
            if price != reuse:
                self._remove(ladder, price)
        del prices[:stale]
        # The one kept goes back in front: only levels withdrawn shift the others' places.
        ladder.shifted = stale > (reuse is not None)
        return reuse

    def _set_touch(self, ladder: _Ladder, touch: int, reuse: int | None) -> None:
        prices = ladder.prices
        if prices and prices[0] == touch:
            if reuse is not None:
                self._remove(ladder, reuse)
            return
        if reuse is None and prices and abs(prices[0] - touch) < ladder.gap(touch, 0):
            reuse = prices.pop(0)  # the touch moved in by less than a level: follow it
        if reuse is None:
            self._insert(ladder, 0, touch)
            ladder.shifted = True
            return
        lots = ladder.lots.pop(reuse)
        ladder.lots[touch] = lots
        prices.insert(0, touch)
        self.provider.move(
            self.symbol, ladder.side, self._price(reuse), self._price(touch), self._qty(lots)
        )

    def _shape(self, ladder: _Ladder, touch: int) -> None:
        """Near the touch, keep each gap within a factor of two of the model's: merge levels
        that crowd, fill holes. Only the touch's gap can have changed unless levels came or
        went near it (``shifted``): then the first SHAPED_LEVELS are looked at."""
        prices, gaps, out = ladder.prices, ladder.gaps, ladder.out
        everything, ladder.shifted = ladder.shifted, False
        i = 0
        while i + 1 < min(len(prices), SHAPED_LEVELS, len(gaps)):
            ideal = max(1, round(gaps[i] * touch))
            gap = (prices[i + 1] - prices[i]) * out
            if 2 * gap < ideal:
                self._remove(ladder, prices.pop(i + 1))
                everything = True
            elif gap > 2 * ideal:
                self._insert(ladder, i + 1, prices[i] + out * ideal)
                everything = True
                i += 1
            elif everything:
                i += 1
            else:
                return

    def _keep_depth(self, ladder: _Ladder, touch: int) -> None:
        prices, wanted = ladder.prices, self.model.levels
        while len(prices) > wanted:
            self._remove(ladder, prices.pop())
        while prices and len(prices) < wanted:
            price = prices[-1] + ladder.out * ladder.gap(touch, len(prices) - 1)
            if price < 1:
                return  # a bid side reaching zero: no more room
            self._insert(ladder, len(prices), price)

    def _top_up(self) -> None:
        """The maker's levels that traded show their size again."""
        traded = self.provider.traded[self.symbol]
        if not traded:
            return
        self.provider.traded[self.symbol] = set()
        for side, price in sorted(traded):
            ladder = self.bids if side is Side.BUY else self.asks
            lots = ladder.lots.get(int(price / self.tick))
            if lots is not None:
                self.provider.quote(self.symbol, side, price, self._qty(lots))

    def _churn(self) -> None:
        """One level, near the touch more often than not, shows a new size."""
        ladder = self.bids if self.rng.random() < 0.5 else self.asks
        if not ladder.prices:
            return
        depth = self.rng.expovariate(1 / self.model.churn_depth)
        index = min(len(ladder.prices) - 1, int(depth))
        price = ladder.prices[index]
        ladder.lots[price] = self._draw_lots(index)
        self.provider.quote(
            self.symbol, ladder.side, self._price(price), self._qty(ladder.lots[price])
        )

    def _noise_trade(self) -> int:
        """A market order; returns the trades it printed."""
        inst = self.instrument
        mid = self.mid
        least = max(inst.min_qty, inst.min_notional * 2 / mid if mid > 0 else inst.min_qty)
        least_lots = int((least / self.lot).to_integral_value(rounding=ROUND_CEILING))
        most_lots = int(inst.max_qty / self.lot) if inst.max_qty > 0 else None
        lots = max(least_lots, 1, round(self.trade_lots * self.model.trade_factor(self.rng)))
        if most_lots is not None:
            lots = min(lots, most_lots)
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        return len(take_liquidity(self.exchange, TakeLiquidity(self.symbol, side, self._qty(lots))))

    # -- levels --------------------------------------------------------------------------------

    def _draw_lots(self, index: int) -> int:
        return max(1, round(self.top_lots * self.model.level_factor(index, self.rng)))

    def _insert(self, ladder: _Ladder, index: int, price: int) -> None:
        lots = ladder.lots[price] = self._draw_lots(index)
        ladder.prices.insert(index, price)
        self.provider.quote(self.symbol, ladder.side, self._price(price), self._qty(lots))

    def _remove(self, ladder: _Ladder, price: int) -> None:
        """Withdraw the level at ``price`` (the caller takes it off ``prices``)."""
        ladder.lots.pop(price, None)
        self.provider.quote(self.symbol, ladder.side, self._price(price), ZERO)

    def _price(self, ticks: int) -> Decimal:
        return self.tick * ticks

    def _qty(self, lots: int) -> Decimal:
        return self.lot * lots
