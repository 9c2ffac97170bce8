"""The generated market behaves like its model: a deep book, the configured volatility, spread
and tape, a price that stays near its reference, and orders away from the price that rest.

Steps are driven directly (no wall clock), with fixed seeds, so every run sees the same market.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import httpx
import pytest

from eip.exchange_simulator.core.engine import OrderUpdate, TradeEvent
from eip.exchange_simulator.core.exchange import BookUpdate, Exchange, OrderRequest
from eip.exchange_simulator.core.instruments import Instrument, load_instruments
from eip.exchange_simulator.core.market import (
    GeneratedMarket,
    GeneratorConfig,
    LiquidityProvider,
)
from eip.exchange_simulator.core.orders import (
    ExecType,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from eip.exchange_simulator.settings import DEFAULT_MARKET
from eip.testing.simulator import run_simulator

from .conftest import FakeClock

MINUTE = 60.0
RICH = Decimal(10) ** 9
# BTCUSDT's markets, its touch (time, bid, ask) every second, and its tape
Run = tuple[dict[str, GeneratedMarket], list[tuple[float, Decimal, Decimal]], list[TradeEvent]]


def instruments(**changes: object) -> dict[str, Instrument]:
    """The default instruments, their market models changed by ``changes``."""
    found = {}
    for inst in load_instruments(DEFAULT_MARKET):
        assert inst.market is not None
        inst.market = dataclasses.replace(inst.market, **changes)  # type: ignore[arg-type]
        found[inst.symbol] = inst
    return found


def generate(
    symbols: list[str] | None = None, step: float = 0.1, seed: int = 7, **changes: object
) -> tuple[Exchange, dict[str, GeneratedMarket]]:
    chosen = instruments(**changes)
    picked = [chosen[s] for s in symbols] if symbols else list(chosen.values())
    exchange = Exchange(picked, clock=FakeClock())
    provider = LiquidityProvider(exchange)
    markets = {
        inst.symbol: GeneratedMarket(
            exchange, inst.symbol, seed, GeneratorConfig(step_seconds=step), provider
        )
        for inst in picked
    }
    return exchange, markets


def run(markets: dict[str, GeneratedMarket], seconds: float) -> Iterator[float]:
    """Step every market for ``seconds`` of market time; yields the time after each step."""
    step = next(iter(markets.values())).config.step_seconds
    for n in range(1, round(seconds / step) + 1):
        for market in markets.values():
            market.step()
        yield n * step


def touch(exchange: Exchange, symbol: str) -> tuple[Decimal, Decimal]:
    _, bids, asks = exchange.depth(symbol, 1)
    return bids[0][0], asks[0][0]


def smallest_order(inst: Instrument, price: Decimal) -> Decimal:
    """The least quantity the instrument's filters take at ``price``, with room to spare."""
    least = max(inst.min_qty, inst.min_notional * 2 / price)
    return (least / inst.step_size).to_integral_value(rounding=ROUND_CEILING) * inst.step_size


def test_an_order_five_percent_away_rests_for_minutes() -> None:
    exchange, markets = generate()
    for market in markets.values():
        market.warm_up(MINUTE)
    exchange.create_account("patient", {a: RICH for a in ("USDT", "USD", "BTC", "ETH", "SOL")})
    heard: list[OrderUpdate] = []
    exchange.listeners.order.append(lambda account, update: heard.append(update))
    resting = []
    for symbol, market in markets.items():
        inst = market.instrument
        for side, away in ((Side.BUY, Decimal("0.95")), (Side.SELL, Decimal("1.05"))):
            price = inst.round_price(market.mid * away)
            resting.append(
                exchange.place(
                    OrderRequest(
                        "patient",
                        symbol,
                        side,
                        OrderType.LIMIT,
                        smallest_order(inst, price),
                        price,
                        time_in_force=TimeInForce.GTC,
                    )
                )
            )
    trades: list[TradeEvent] = []
    exchange.listeners.trade.append(trades.append)
    start = {s: m.mid for s, m in markets.items()}
    closest = dict.fromkeys(markets, Decimal(1))
    for _ in run(markets, 6 * MINUTE):
        for order in resting:
            best_bid, best_ask = touch(exchange, order.symbol)
            assert order.price is not None
            gap = (
                order.price / best_bid - 1
                if order.side is Side.SELL
                else 1 - order.price / best_ask
            )
            closest[order.symbol] = min(closest[order.symbol], gap)
    assert all(o.status is OrderStatus.NEW and o.executed_qty == 0 for o in resting)
    assert [
        u for u in heard if u.order.account_id == "patient" and u.exec_type is ExecType.TRADE
    ] == []
    # ... while the market moved and traded all along
    assert {t.symbol for t in trades} == set(markets)
    assert all(markets[s].mid != start[s] for s in markets)
    assert all(Decimal("0.03") < gap for gap in closest.values()), closest


@pytest.fixture(scope="module")
def twenty_minutes() -> Run:
    """BTCUSDT for twenty minutes of 0.1 s steps: the book's touch every second, and the tape."""
    exchange, markets = generate(["BTCUSDT"])
    trades: list[TradeEvent] = []
    exchange.listeners.trade.append(trades.append)
    touches = []
    for elapsed in run(markets, 20 * MINUTE):
        if round(elapsed * 10) % 10 == 0:
            touches.append((elapsed, *touch(exchange, "BTCUSDT")))
    return markets, touches, trades


def test_the_realized_volatility_per_second_is_the_configured_one(
    twenty_minutes: Run,
) -> None:
    markets, touches, _ = twenty_minutes
    mids = [math.log((bid + ask) / 2) for _, bid, ask in touches]
    moves = [b - a for a, b in itertools.pairwise(mids)]
    realized = math.sqrt(sum(m * m for m in moves) / len(moves))
    assert len(moves) >= 1199
    assert realized == pytest.approx(markets["BTCUSDT"].model.volatility, rel=0.1)


def test_the_mean_spread_is_the_configured_one(
    twenty_minutes: Run,
) -> None:
    markets, touches, _ = twenty_minutes
    spreads = [float((ask - bid) / ((ask + bid) / 2)) * 10_000 for _, bid, ask in touches]
    model = markets["BTCUSDT"].model
    assert statistics.fmean(spreads) == pytest.approx(model.spread_bps, rel=0.02)
    assert min(spreads) > 0


def test_trades_print_at_the_configured_rate_and_size(
    twenty_minutes: Run,
) -> None:
    markets, _, trades = twenty_minutes
    model = markets["BTCUSDT"].model
    assert len(trades) / (20 * MINUTE) == pytest.approx(model.trade_rate, rel=0.15)
    orders: dict[int, Decimal] = defaultdict(Decimal)
    for trade in trades:
        orders[trade.taker_order_id] += trade.qty
    assert model.trade_size_median is not None
    median = statistics.median(orders.values())
    assert float(median / model.trade_size_median) == pytest.approx(1.0, rel=0.25)
    assert {t.taker_side for t in trades} == {Side.BUY, Side.SELL}


@pytest.mark.parametrize("half_life_s", [1800.0, math.inf])
def test_the_price_stays_near_its_reference_over_a_long_run(half_life_s: float) -> None:
    """A day of ten-second steps: mean reversion keeps the price within a few stationary
    sigmas of the reference; without it the same seed wanders off."""
    exchange, markets = generate(
        ["BTCUSDT"], step=10.0, levels=50, churn_rate=0.0, trade_rate=0.0, half_life_s=half_life_s
    )
    market = markets["BTCUSDT"]
    reference = market.instrument.reference_price
    away = []
    for _ in run(markets, 24 * 60 * MINUTE):
        bid, ask = touch(exchange, "BTCUSDT")
        away.append(math.log((bid + ask) / 2 / reference))
    band = dataclasses.replace(market.model, half_life_s=1800.0).stationary_sigma  # ~0.47 %
    farthest = max(abs(a) for a in away)
    if half_life_s == 1800.0:
        assert farthest < 4 * band
        assert math.sqrt(statistics.fmean(a * a for a in away)) == pytest.approx(band, rel=0.4)
    else:
        assert farthest > 4 * band  # the check above can fail: a random walk fails it


def test_the_book_is_five_hundred_levels_deep_and_shaped_like_the_model() -> None:
    exchange, markets = generate()
    for market in markets.values():
        market.warm_up(MINUTE)
    for symbol, market in markets.items():
        _, bids, asks = exchange.depth(symbol, 10_000)
        assert (len(bids), len(asks)) == (500, 500), symbol
        model = market.model
        mid = (bids[0][0] + asks[0][0]) / 2
        for side in (bids, asks):
            best = side[0][0]
            for i in (1, 5, 10, 20):
                offset = abs(math.log(side[i][0] / best)) * 10_000
                ideal = model.offset_bps(i)
                assert ideal / 2 <= offset <= ideal * 2 + float(market.tick / mid) * 10_000, (
                    symbol,
                    i,
                    offset,
                    ideal,
                )
        assert model.top_size is not None
        top = statistics.median(q for _, q in bids[:5] + asks[:5])
        # Lognormal sizes of sigma ~2: the median of ten sits within a factor of ten
        assert model.top_size / 10 < top < model.top_size * 10, symbol


def test_a_step_changes_only_what_moved() -> None:
    """Five hundred levels a side, yet a step touches a handful: the ladder is incremental."""
    exchange, markets = generate()
    for market in markets.values():
        market.warm_up(MINUTE)
    changes: list[int] = []
    exchange.listeners.book.append(lambda update: changes.append(len(update.changes)))
    steps = 0
    for _ in run(markets, MINUTE):
        steps += 1
    per_step = sum(changes) / steps / len(markets)
    assert per_step < 20, per_step  # rewriting a side would be 500
    assert len(changes) / steps / len(markets) < 10  # book updates (each sent to the streams)


def test_levels_a_user_takes_are_quoted_again_at_the_next_step() -> None:
    exchange, markets = generate(["ETHUSDT"], churn_rate=0.0, trade_rate=0.0)
    market = markets["ETHUSDT"]
    market.warm_up(MINUTE)
    _, _, before = exchange.depth("ETHUSDT", 10)
    exchange.create_account("taker", {"USDT": RICH})
    taken = sum((q for _, q in before), Decimal(0))
    order = exchange.place(OrderRequest("taker", "ETHUSDT", Side.BUY, OrderType.MARKET, taken))
    assert order.status is OrderStatus.FILLED
    _, _, swept = exchange.depth("ETHUSDT", 10)
    assert swept[0][0] > before[-1][0]  # ten levels gone
    next(run(markets, 0.1))
    _, _, after = exchange.depth("ETHUSDT", 10_000)
    assert len(after) == 500
    # The ten levels show their sizes again, where they were (the touch follows the price).
    assert [q for _, q in after[:10]] == [q for _, q in before]
    assert [p for p, _ in after[1:10]] == [p for p, _ in before[1:]]


def test_a_bid_inside_the_spread_is_filled_by_the_tape() -> None:
    """A fill without crossing: improve the best bid and the noise sellers come (within
    seconds while the price stays; once the market maker's touch passes the order, only when
    the price comes back)."""
    exchange, markets = generate(["BTCUSDT"])
    market = markets["BTCUSDT"]
    market.warm_up(MINUTE)
    exchange.create_account("improver", {"USDT": RICH})
    bid, _ = touch(exchange, "BTCUSDT")
    price = bid + market.tick * 100  # a dollar better than the best bid
    order = exchange.place(
        OrderRequest(
            "improver",
            "BTCUSDT",
            Side.BUY,
            OrderType.LIMIT,
            smallest_order(market.instrument, price),
            price,
            time_in_force=TimeInForce.GTC,
        )
    )
    waited = next(t for t in run(markets, 5 * MINUTE) if order.status is OrderStatus.FILLED)
    assert waited < 2 * MINUTE


def test_warm_up_leaves_a_history_stamped_in_the_past() -> None:
    exchange, markets = generate(["SOLUSDT"])
    exchange.clock_skew_ms = 1234  # a test's own skew survives the warm-up
    before = exchange.now_ms()
    markets["SOLUSDT"].warm_up(2 * MINUTE)
    trades = list(exchange.history["SOLUSDT"].trades)
    assert exchange.clock_skew_ms == 1234
    assert len(trades) > 30  # two minutes at 0.68 a second
    assert trades[0].time_ms < before - 100_000
    assert max(t.time_ms for t in trades) <= exchange.now_ms()
    assert len(exchange.history["SOLUSDT"].candles("1m", None, None, 10)) >= 2


def test_a_halted_market_stands_still_and_resumes() -> None:
    exchange, markets = generate(["ETHBTC"])
    market = markets["ETHBTC"]
    market.warm_up(MINUTE)
    seen: list[BookUpdate] = []
    exchange.listeners.book.append(seen.append)
    exchange.set_status("ETHBTC", "HALT")
    for _ in run(markets, MINUTE):
        pass
    assert seen == []
    exchange.set_status("ETHBTC", "TRADING")
    for _ in run(markets, MINUTE):
        pass
    assert seen
    _, bids, asks = exchange.depth("ETHBTC", 10_000)
    assert (len(bids), len(asks)) == (500, 500)


def test_spread_in_ticks_is_kept_exactly() -> None:
    exchange, markets = generate(["BTCUSD"], spread_ticks=3, spread_bps=None)
    for _ in run(markets, MINUTE):
        bid, ask = touch(exchange, "BTCUSD")
        assert ask - bid == 3 * markets["BTCUSD"].tick


def test_a_fresh_simulator_serves_a_minute_of_history(tmp_path: Path) -> None:
    one = tmp_path / "one.toml"
    one.write_text(
        '[[instrument]]\nsymbol = "BTCUSDT"\nbase = "BTC"\nquote = "USDT"\n'
        'tick_size = "0.01"\nstep_size = "0.00001"\nmin_notional = "5"\n'
        'reference_price = "65000"\n'
    )
    started_ms = time.time() * 1000
    with run_simulator(tmp_path, {"SIMULATOR_INSTRUMENTS_FILE": str(one)}) as process:
        trades = httpx.get(
            f"{process.base_url}/api/v3/trades", params={"symbol": "BTCUSDT", "limit": 1000}
        ).json()
        book = httpx.get(
            f"{process.base_url}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 1000}
        ).json()
    assert len(trades) > 10
    assert trades[0]["time"] < started_ms - 30_000  # from before the simulator served
    assert len(book["bids"]) == len(book["asks"]) == 500
