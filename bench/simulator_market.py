"""Generated market step cost: the calibrated generator (500 levels a side, an incremental
ladder) beside the generator it replaced (20 levels a side, the whole ladder recomputed and
re-set every step; kept here as the baseline), measured in the same run on the same machine.

Each variant runs the six default instruments inside a whole ``Simulator`` (``market=none``,
its generators added here), so every book change goes through the same engine, publishing and
dialect listeners as in production (no client connected). After the ladders are built, the
variant is stepped for ``--seconds`` of market time at ``--step`` and measured: CPU time of
this process per step (robust to a shared, busy machine), wall time per step, and the book
updates (one per engine operation, each sent to every stream) and level changes per step.
The new generator also runs at 20 and 2,000 levels a side: a step's cost must not grow with the
depth. Rounds alternate the variants and the best round of each counts.

Target: a step of the new generator at 500 levels costs no more CPU than a step of the old one
at 20.

    uv run python bench/simulator_market.py [--seconds 60] [--step 0.1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from eip.exchange_simulator.core.exchange import BookUpdate, Exchange
from eip.exchange_simulator.core.market import (
    Action,
    GeneratedMarket,
    GeneratorConfig,
    LiquidityProvider,
    SetLevel,
    TakeLiquidity,
    apply,
)
from eip.exchange_simulator.core.orders import Side
from eip.exchange_simulator.settings import SimulatorSettings
from eip.exchange_simulator.simulator import Simulator

ZERO = Decimal(0)
SEED = 42
BUILD_STEPS = 10  # not measured: the ladders are placed and settle


# -- the baseline: the generator as it was before the calibrated market ----------------------


@dataclass
class OldConfig:
    levels: int = 20  # per side
    level_spacing_ticks: int = 2
    volatility: float = 0.0004  # per step, relative
    changes_per_step: int = 3
    trade_probability: float = 0.3


class OldGeneratedMarket:
    """The previous generator, unchanged but for its name: a drifting mid, a 20-level ladder
    recomputed in full every step and re-set level by level, a noise trade with probability
    0.3 a step."""

    def __init__(
        self, exchange: Exchange, symbol: str, seed: int, provider: LiquidityProvider
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.config = OldConfig()
        self.rng = random.Random(f"{seed}:{symbol}")
        self.provider = provider
        self.instrument = exchange.instruments[symbol]
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
        cfg = self.config
        drift = Decimal(str(round(self.rng.gauss(0, cfg.volatility), 8)))
        self.mid = max(self.instrument.tick_size * 10, self.mid * (1 + drift))
        for _ in range(cfg.changes_per_step):
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
            side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
            out.append(TakeLiquidity(self.symbol, side, self._size()))
        return out

    def step(self) -> None:
        for action in self.actions():
            apply(self.exchange, self.provider, action)


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    levels: int
    cpu_us: float  # per step, all six instruments
    wall_us: float
    updates: float  # book updates per step
    changes: float  # level changes per step


def _variant(levels: int | None, step_s: float) -> tuple[Simulator, Callable[[], None]]:
    """A simulator with the variant's generators, and one market step of all of them."""
    sim = Simulator(SimulatorSettings(market="none", warmup_seconds=0))
    ex, provider = sim.exchange, sim.provider
    symbols = sorted(ex.instruments)
    markets: list[OldGeneratedMarket] | list[GeneratedMarket]
    if levels is None:
        markets = [OldGeneratedMarket(ex, s, SEED, provider) for s in symbols]
    else:
        for symbol in symbols:
            inst = ex.instruments[symbol]
            assert inst.market is not None
            inst.market = dataclasses.replace(inst.market, levels=levels)
        config = GeneratorConfig(step_seconds=step_s)
        markets = [GeneratedMarket(ex, s, SEED, config, provider) for s in symbols]

    def step() -> None:
        for market in markets:
            market.step()

    return sim, step


def measure(name: str, levels: int | None, step_s: float, seconds: float) -> Measure:
    sim, step = _variant(levels, step_s)
    for _ in range(BUILD_STEPS):
        step()
    updates: list[BookUpdate] = []
    sim.exchange.listeners.book.append(updates.append)
    steps = max(1, round(seconds / step_s))
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    _, bids, _ = sim.exchange.depth("BTCUSDT", 100_000)
    return Measure(
        name,
        len(bids),
        cpu / steps * 1e6,
        wall / steps * 1e6,
        len(updates) / steps,
        sum(len(u.changes) for u in updates) / steps,
    )


VARIANTS: list[tuple[str, int | None]] = [
    ("old generator (baseline)", None),
    ("new generator", 500),
    ("new generator", 20),
    ("new generator", 2000),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="market time per round")
    parser.add_argument("--step", type=float, default=0.1, help="SIMULATOR_STEP_SECONDS")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    best: dict[tuple[str, int | None], Measure] = {}
    for _ in range(args.rounds):
        for name, levels in VARIANTS:
            m = measure(name, levels, args.step, args.seconds)
            key = (name, levels)
            if key not in best or m.cpu_us < best[key].cpu_us:
                best[key] = m
    base = best[VARIANTS[0]]
    print(
        f"six instruments, {args.seconds:g} s of market at {args.step:g} s steps, best of"
        f" {args.rounds} rounds"
    )
    print(
        f"{'generator':<26}{'levels/side':>12}{'CPU us/step':>13}{'wall us/step':>14}"
        f"{'updates/step':>14}{'changes/step':>14}{'CPU ratio':>11}{'CPU share':>11}"
    )
    for key in VARIANTS:
        m = best[key]
        print(
            f"{m.name:<26}{m.levels:>12,}{m.cpu_us:>13,.0f}{m.wall_us:>14,.0f}"
            f"{m.updates:>14.1f}{m.changes:>14.1f}{m.cpu_us / base.cpu_us:>11.2f}"
            f"{m.cpu_us / 1e6 / args.step:>11.1%}"
        )
    new = best[VARIANTS[1]]
    ok = new.cpu_us <= base.cpu_us
    print(
        f"target: the new generator at {new.levels} levels costs no more CPU per step than the"
        f" old at {base.levels}: {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
