"""Rule evaluation on the market-data stream: the automation service's indexed engine beside a
naive evaluate-every-rule-on-every-tick baseline, both in the same run on the same ticks.

Workload: 10,000 active rules of one account-set over 20 markets (``binance``, ``S00/USDT`` …):
70 % plain price crosses (last price above or below a level within ±2 % of the start price),
20 % percent moves (0.5-3 % within 60-600 s), 10 % ``all`` of a cross and a percent move. The
ticks are trades, a seeded random walk per market (±0.05 % a tick), markets taking turns.

- indexed: ``RuleEngine.on_trade`` — a tick reaches only its market's rules, and a plain cross
  only when the price passed its level (a sorted list per market; ``engine.py``);
- naive: the same compiled conditions, the same market state, but every one of the 10,000 rules
  evaluated on every tick.

Both must propose the same transitions (checked on the ticks the naive run takes): the index
may only skip work, never change an answer. Rates are per CPU second of this process (robust
on a shared, busy machine). "Rule evaluations per second" is ticks/s x active rules: after each
tick every active rule's answer is current, which is what a naive loop pays for in full.

    uv run python bench/automation_rules.py [--rules 10000] [--ticks 20000] [--naive-ticks 300]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eip.automation.rules.engine import CompiledRule, RuleEngine, Transition
from eip.automation.rules.model import RuleDefinition

MARKETS = 20
START = Decimal("100")
T0 = datetime(2026, 12, 7, tzinfo=UTC)


def definitions(count: int, seed: int = 7) -> list[RuleDefinition]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        symbol = f"S{i % MARKETS:02d}/USDT"
        cross = {
            "type": "price_cross",
            "exchange": "binance",
            "symbol": symbol,
            "direction": rng.choice(["above", "below"]),
            "level": str((START * Decimal(1 + rng.uniform(-0.02, 0.02))).quantize(Decimal("0.01"))),
        }
        move = {
            "type": "percent_move",
            "exchange": "binance",
            "symbol": symbol,
            "window_s": rng.choice([60, 300, 600]),
            "percent": str(rng.choice([0.5, 1, 2, 3])),
        }
        kind = rng.random()
        condition: dict[str, Any] = (
            cross
            if kind < 0.7
            else move
            if kind < 0.9
            else {"type": "all", "conditions": [cross, move]}
        )
        out.append(
            RuleDefinition.model_validate(
                {"name": f"r{i}", "condition": condition, "action": {"type": "alert"}}
            )
        )
    return out


def engine_with(rules: list[RuleDefinition]) -> RuleEngine:
    engine = RuleEngine()
    for i, definition in enumerate(rules):
        engine.add(CompiledRule(f"r{i:05d}", 1, "acct", definition, None, 0, None, None, T0))
    return engine


def ticks(count: int, seed: int = 11) -> list[tuple[str, datetime, Decimal]]:
    rng = random.Random(seed)
    prices = [START] * MARKETS
    out = []
    for n in range(count):
        m = n % MARKETS
        prices[m] = (prices[m] * Decimal(1 + rng.uniform(-0.0005, 0.0005))).quantize(
            Decimal("0.0001")
        )
        out.append((f"S{m:02d}/USDT", T0 + timedelta(milliseconds=50 * n), prices[m]))
    return out


def run_indexed(
    engine: RuleEngine, stream: list[tuple[str, datetime, Decimal]]
) -> list[Transition]:
    out: list[Transition] = []
    for symbol, at, price in stream:
        out += engine.on_trade("binance", symbol, at, price)
    return out


def run_naive(engine: RuleEngine, stream: list[tuple[str, datetime, Decimal]]) -> list[Transition]:
    """The market state moves as in the engine, then every rule is evaluated."""
    out: list[Transition] = []
    for symbol, at, price in stream:
        state = engine.market(("binance", symbol))
        state.last = price
        for (kind, _), window in state.windows.items():
            if kind == "last":
                window.add(at.timestamp(), price)
        out += engine.evaluate_all(at)
    return out


def cpu(call: Any) -> tuple[float, Any]:
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--naive-ticks", type=int, default=300)
    args = parser.parse_args()
    rules = definitions(args.rules)
    stream = ticks(args.ticks)

    # the same answers on the ticks both take
    check = stream[: args.naive_ticks]
    indexed_t = run_indexed(engine_with(rules), check)
    naive_engine = engine_with(rules)
    naive_cpu, naive_t = cpu(lambda: run_naive(naive_engine, check))
    same = sorted((t.rule.rule_id, t.at, t.level) for t in indexed_t) == sorted(
        (t.rule.rule_id, t.at, t.level) for t in naive_t
    )
    if not same:
        raise SystemExit("the indexed engine and the naive baseline disagree")

    engine = engine_with(rules)
    indexed_cpu, fired = cpu(lambda: run_indexed(engine, stream))
    indexed_rate = len(stream) / indexed_cpu
    naive_rate = len(check) / naive_cpu
    print(f"rules: {args.rules} active over {MARKETS} markets; same transitions: {same}")
    print(
        f"indexed: {len(stream)} ticks in {indexed_cpu:.2f} s CPU = {indexed_rate:,.0f} ticks/s"
        f" = {indexed_rate * args.rules:,.0f} rule evaluations/s"
        f" ({engine.evaluations / len(stream):.1f} conditions evaluated a tick,"
        f" {sum(t.fires for t in fired)} firings)"
    )
    print(
        f"naive:   {len(check)} ticks in {naive_cpu:.2f} s CPU = {naive_rate:,.1f} ticks/s"
        f" = {naive_rate * args.rules:,.0f} rule evaluations/s"
        f" ({naive_engine.evaluations / len(check):.0f} conditions evaluated a tick)"
    )
    print(f"ratio indexed/naive: {indexed_rate / naive_rate:,.0f}x")


if __name__ == "__main__":
    main()
