"""Valuing 1,000 accounts x 50 assets in USD against live prices, per second: the account
service's way (``PriceGraph.rates``: each asset's best route found once per valuation round
against one consistent look at the graph, then one multiplication per holding) beside a naive
per-asset lookup (every holding of every account searches the ticker list for a direct pair,
an inverse pair, then a bridge), in the same run on the same prices.

Prices are live in the sense the service sees them: between rounds, a burst of ticker updates
(a tenth of the pairs) changes the graph, as ``md.tickers.v1`` does, so no round reuses the
last one's routes. Both sides value exactly the same holdings and must agree on every value.

    uv run python bench/account_valuation.py [--accounts 1000] [--assets 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal, localcontext

from eip.account.valuation import PRECISION, PriceGraph, Rate, value_amounts

BRIDGES = ("USDT", "USDC", "BTC", "ETH")


def market(universe: int, rng: random.Random) -> tuple[PriceGraph, list[tuple[str, str, str, str]]]:
    """A graph of ``universe`` assets: most quoted in USDT, some only in BTC, a few in USD;
    bridges priced in USD on two venues. Returns the graph and its ticker list."""
    graph = PriceGraph(max_age_s=1e9, bridges=BRIDGES)
    tickers: list[tuple[str, str, str, str]] = []
    for venue in ("binance", "kraken"):
        tickers += [
            (venue, "BTC/USD", "50000", "3"),
            (venue, "ETH/USD", "3000", "40"),
            (venue, "USDT/USD", "0.9995", "100000"),
            (venue, "USDC/USD", "1.0001", "100000"),
        ]
    for i in range(universe):
        asset = f"A{i:03d}"
        quote = "USDT" if i % 5 else ("BTC" if i % 10 else "USD")
        price = str(Decimal(rng.randint(1, 10_000)) / 100)
        tickers.append((rng.choice(("binance", "kraken")), f"{asset}/{quote}", price, "500"))
    for venue, symbol, price, size in tickers:
        graph.update(venue, symbol, bid=price, ask=price, bid_size=size, ask_size=size)
    return graph, tickers


def naive_rate(tickers: list[tuple[str, str, str, str]], asset: str, quote: str) -> Decimal | None:
    """Scan every ticker: direct, then inverse, then through each bridge."""

    def direct(a: str, b: str) -> Decimal | None:
        for _, symbol, price, _ in tickers:
            if symbol == f"{a}/{b}":
                return Decimal(price)
        for _, symbol, price, _ in tickers:
            if symbol == f"{b}/{a}":
                return 1 / Decimal(price)
        return None

    if asset == quote:
        return Decimal(1)
    found = direct(asset, quote)
    if found is not None:
        return found
    for bridge in BRIDGES:
        first = direct(asset, bridge)
        second = direct(bridge, quote) if first is not None else None
        if first is not None and second is not None:
            return first * second
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--universe", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    graph, tickers = market(args.universe, rng)
    names = [f"A{i:03d}" for i in range(args.universe)] + ["BTC", "ETH", "USDT", "USDC"]
    accounts = [
        {a: Decimal(rng.randint(1, 10**6)) / 1000 for a in rng.sample(names, args.assets)}
        for _ in range(args.accounts)
    ]
    holdings = args.accounts * args.assets
    best_fast = best_naive = float("inf")
    for _ in range(args.rounds):
        for venue, symbol, price, size in rng.sample(tickers, len(tickers) // 10):
            moved = str(Decimal(price) * Decimal(rng.choice(("0.999", "1.001"))))
            graph.update(venue, symbol, bid=moved, ask=moved, bid_size=size, ask_size=size)
        live = [
            (v, s, str(graph.known_price(v, s).price), z)  # type: ignore[union-attr]
            for v, s, _, z in tickers
        ]

        start = time.perf_counter()
        rates = graph.rates({a for acct in accounts for a in acct}, "USD")
        fast = [value_amounts(acct, rates)[1] for acct in accounts]
        best_fast = min(best_fast, time.perf_counter() - start)

        start = time.perf_counter()
        naive: list[Decimal] = []
        with localcontext() as ctx:
            ctx.prec = PRECISION
            for acct in accounts:
                total = Decimal(0)
                for asset, amount in acct.items():
                    rate = naive_rate(live, asset, "USD")
                    if rate is not None:
                        total += amount * rate
                naive.append(total)
        best_naive = min(best_naive, time.perf_counter() - start)
        unvalued = sum(1 for r in rates.values() if not isinstance(r, Rate))
        # same prices, same holdings: the totals agree (routes may differ only where the graph
        # picks a deeper venue for the same pair, which this market does not have)
        mismatches = sum(
            1 for a, b in zip(fast, naive, strict=True) if abs(a - b) > Decimal("1e-12")
        )
        assert mismatches == 0, f"{mismatches} accounts valued differently"
    print(
        f"{args.accounts} accounts x {args.assets} assets = {holdings:,} holdings per round, "
        f"{len(tickers)} pairs, {unvalued} assets unvalued, best of {args.rounds} rounds"
    )
    print(f"{'measure':<36}{'graph':>14}{'naive':>14}{'ratio':>8}")
    fast_rate, naive_rate_s = holdings / best_fast, holdings / best_naive
    print(
        f"{'holdings valued per second':<36}{fast_rate:>14,.0f}{naive_rate_s:>14,.0f}"
        f"{fast_rate / naive_rate_s:>8.1f}"
    )
    print(
        f"{'accounts valued per second':<36}{args.accounts / best_fast:>14,.0f}"
        f"{args.accounts / best_naive:>14,.0f}{best_naive / best_fast:>8.1f}"
    )


if __name__ == "__main__":
    main()
