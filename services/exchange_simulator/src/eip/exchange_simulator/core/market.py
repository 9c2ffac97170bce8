"""The market around the simulated users: background liquidity and trades.

Two sources, both deterministic for their input: a seeded random process (``GeneratedMarket``)
and a replay of recorded actions (``replay``; the dialects turn their exchange's captures into
actions). Liquidity is resting orders of a system account, so users trade against it through
the same engine; recorded trades are printed to the tape without touching the book, because
the recorded depth changes already carry the liquidity they consumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.orders import Order, OrderType, Rejection, Side, TimeInForce

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
    """Keeps one resting order per price level for the market maker."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.orders: dict[tuple[str, Side, Decimal], Order] = {}
        ensure_system_accounts(exchange)

    def set_level(self, action: SetLevel) -> None:
        ex, key = self.exchange, (action.symbol, action.side, action.price)
        engine = ex.engine(action.symbol)
        ours = self.orders.get(key)
        if ours is not None and not ours.status.is_open:
            del self.orders[key]
            ours = None
        level = engine.book.side(action.side).levels.get(action.price)
        others = (level.total if level else ZERO) - (ours.remaining if ours else ZERO)
        # Not floored to the lot step: recorded levels keep their exact size (we are exempt).
        wanted = max(ZERO, action.quantity - others)
        if ours is not None and ours.remaining == wanted:
            return
        if ours is not None:
            ex.cancel(MARKET_MAKER, action.symbol, ours.order_id)
            del self.orders[key]
        if wanted <= 0:
            return
        self._clear_crossing(action)
        try:
            order = ex.place(
                OrderRequest(
                    MARKET_MAKER,
                    action.symbol,
                    action.side,
                    OrderType.LIMIT,
                    wanted,
                    action.price,
                    time_in_force=TimeInForce.GTC,
                )
            )
        except Rejection:
            return  # a recorded level the instrument's filters refuse (e.g. dust): skip it
        if order.status.is_open:
            self.orders[key] = order

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
        # e.g. the book is empty on that side: the noise trader just misses
        with contextlib.suppress(Rejection):
            exchange.place(
                OrderRequest(
                    NOISE_TRADER,
                    action.symbol,
                    action.side,
                    OrderType.MARKET,
                    action.quantity,
                )
            )


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
    levels: int = 20  # per side
    level_spacing_ticks: int = 2
    volatility: float = 0.0004  # per step, relative
    changes_per_step: int = 3
    trade_probability: float = 0.3
    step_seconds: float = 0.1


class GeneratedMarket:
    """A seeded random market for one instrument: a drifting mid, a ladder of market-maker
    levels around it, and noise traders taking liquidity. The same seed gives the same actions.
    """

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
        self.instrument = exchange.instruments[symbol]
        if self.instrument.reference_price <= 0:
            raise ValueError(f"{symbol}: a generated market needs reference_price")
        self.mid = self.instrument.reference_price
        self._sizes: dict[tuple[Side, Decimal], Decimal] = {}

    def _size(self) -> Decimal:
        inst = self.instrument
        min_qty = max(inst.min_qty, inst.min_notional * 20 / self.mid)
        raw = Decimal(str(round(self.rng.uniform(1, 20), 3))) * min_qty
        return max(inst.floor_qty(raw), inst.step_size or raw)

    def ladder(self) -> dict[tuple[Side, Decimal], Decimal]:
        inst, cfg = self.instrument, self.config
        step = inst.tick_size * cfg.level_spacing_ticks
        best_bid = inst.round_price(self.mid) - step
        best_ask = inst.round_price(self.mid) + step
        wanted: dict[tuple[Side, Decimal], Decimal] = {}
        for i in range(cfg.levels):
            for side, price in ((Side.BUY, best_bid - i * step), (Side.SELL, best_ask + i * step)):
                if price <= 0:
                    continue
                key = (side, price)
                if key not in self._sizes:
                    self._sizes[key] = self._size()
                wanted[key] = self._sizes[key]
        return wanted

    def actions(self) -> list[Action]:
        """One step of the process."""
        cfg = self.config
        drift = Decimal(str(round(self.rng.gauss(0, cfg.volatility), 8)))
        self.mid = max(self.instrument.tick_size * 10, self.mid * (1 + drift))
        for _ in range(cfg.changes_per_step):  # some levels change size, as real books do
            if self._sizes:
                key = self.rng.choice(sorted(self._sizes))
                self._sizes[key] = self._size()
        wanted = self.ladder()
        out: list[Action] = []
        current = {
            (side, price)
            for (sym, side, price), o in self.provider.orders.items()
            if sym == self.symbol and o.status.is_open
        }
        for side, price in sorted(current - set(wanted)):
            out.append(SetLevel(self.symbol, side, price, ZERO))
            self._sizes.pop((side, price), None)
        for (side, price), qty in sorted(wanted.items()):
            out.append(SetLevel(self.symbol, side, price, qty))
        if self.rng.random() < cfg.trade_probability:
            out.append(self._noise_trade())
        return out

    def _noise_trade(self) -> Action:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        return TakeLiquidity(self.symbol, side, self._size())

    def step(self) -> None:
        for action in self.actions():
            apply(self.exchange, self.provider, action)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.step_seconds)
