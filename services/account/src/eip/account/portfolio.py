"""What the JSON endpoints answer and the charts draw: balances valued in a quote currency,
allocation, PnL and value over time, built from stored rows and the price graph.

Every function here is pure (rows and prices in, plain data out), so a chart is drawn from
exactly the numbers the JSON endpoint returns for the same query, and the tests check the
arithmetic without a server. Amounts are decimal strings in every answer; an unvalued asset has
``value: null`` and its reason, and is never counted as 0 in a total (the total says how many
assets it leaves out).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, Literal

from eip.account.pnl import Method, Position, Trade, compute
from eip.account.store import BalanceRow, HistoryPoint, StoredFill
from eip.account.valuation import PRECISION, PriceGraph, Rate, Unvalued

_ZERO = Decimal(0)
STEPS: Mapping[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
Step = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


def _value_of(rate: Rate | Unvalued, amount: Decimal) -> dict[str, Any]:
    if amount == 0:  # nothing of anything is worth exactly nothing: no price needed
        return {"value": "0", "route": None, "unvalued_reason": None}
    if isinstance(rate, Rate):
        with localcontext() as ctx:
            ctx.prec = PRECISION
            value = amount * rate.rate
        return {"value": str(value), "route": rate.describe(), "unvalued_reason": None}
    return {"value": None, "route": None, "unvalued_reason": rate.reason}


def _sum(values: Iterable[str | None]) -> tuple[Decimal, int]:
    total, missing = _ZERO, 0
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for v in values:
            if v is None:
                missing += 1
            else:
                total += Decimal(v)
    return total, missing


def balances_view(
    rows: Sequence[BalanceRow], graph: PriceGraph, quote: str, *, stable_par: bool = False
) -> dict[str, Any]:
    """Per venue and consolidated (per asset and wallet, over venues), valued in ``quote``."""
    rates = graph.rates({r.asset for r in rows}, quote, stable_par=stable_par)
    venues: dict[str, list[dict[str, Any]]] = defaultdict(list)
    consolidated: dict[tuple[str, str], list[Decimal]] = {}
    for r in rows:
        total = r.free + r.locked
        venues[r.exchange].append(
            {
                "asset": r.asset,
                "wallet": r.wallet,
                "free": str(r.free),
                "locked": str(r.locked),
                "total": str(total),
                "updated_at": r.updated_at.isoformat(),
                **_value_of(rates[r.asset], total),
            }
        )
        amounts = consolidated.setdefault((r.asset, r.wallet), [_ZERO, _ZERO])
        amounts[0] += r.free
        amounts[1] += r.locked
    exchanges = []
    for exchange, assets in sorted(venues.items()):
        value, unvalued = _sum(a["value"] for a in assets)
        exchanges.append(
            {"exchange": exchange, "assets": assets, "value": str(value), "unvalued": unvalued}
        )
    merged = [
        {
            "asset": asset,
            "wallet": wallet,
            "free": str(free),
            "locked": str(locked),
            "total": str(free + locked),
            **_value_of(rates[asset], free + locked),
        }
        for (asset, wallet), (free, locked) in sorted(consolidated.items())
    ]
    total, unvalued = _sum(a["value"] for a in merged)
    return {
        "quote": quote,
        "exchanges": exchanges,
        "consolidated": merged,
        "total_value": str(total),
        "unvalued_assets": [
            {"asset": a["asset"], "wallet": a["wallet"], "reason": a["unvalued_reason"]}
            for a in merged
            if a["value"] is None
        ],
        "unvalued": unvalued,
    }


def allocation(view: Mapping[str, Any], by: Literal["asset", "exchange"]) -> dict[str, Any]:
    """Shares of the valued total, by asset (wallets added up) or by exchange."""
    parts: dict[str, Decimal] = defaultdict(Decimal)
    if by == "asset":
        for a in view["consolidated"]:
            if a["value"] is not None:
                parts[a["asset"]] += Decimal(a["value"])
    else:
        for venue in view["exchanges"]:
            parts[venue["exchange"]] += Decimal(venue["value"])
    total = sum(parts.values(), _ZERO)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        entries = [
            {
                "key": key,
                "value": str(value),
                "share": str((value / total).quantize(Decimal("0.000001")) if total else _ZERO),
            }
            for key, value in sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
    return {
        "quote": view["quote"],
        "by": by,
        "total_value": str(total),
        "entries": entries,
        "unvalued_assets": view["unvalued_assets"],
    }


def trades_of(fills: Iterable[StoredFill]) -> list[Trade]:
    return [
        Trade(
            f.symbol, "buy" if f.side == "buy" else "sell", f.price, f.quantity, f.fee, f.fee_asset
        )
        for f in fills
    ]


def pnl_view(
    fills: Sequence[StoredFill],
    graph: PriceGraph,
    quote: str,
    method: Method,
    *,
    stable_par: bool = False,
) -> dict[str, Any]:
    """Realized and unrealized PnL per instrument (in its quote), per base asset and in total
    (in ``quote`` at current prices), and fees paid per asset."""
    positions = compute(trades_of(fills), method)
    assets = {p.base for p in positions.values()} | {p.quote for p in positions.values()}
    fee_assets = {a for p in positions.values() for a in p.fees}
    rates = graph.rates(assets | fee_assets, quote, stable_par=stable_par)
    instruments = []
    per_asset: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"realized": _ZERO, "unrealized": _ZERO}
    )
    unpriced: set[str] = set()
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for _, p in sorted(positions.items()):
            inst = _instrument(p, rates, quote)
            instruments.append(inst)
            to_quote = rates[p.quote]
            if not isinstance(to_quote, Rate):
                unpriced.add(p.quote)
                continue
            per_asset[p.base]["realized"] += p.realized * to_quote.rate
            if inst["unrealized"] is not None:
                per_asset[p.base]["unrealized"] += Decimal(inst["unrealized"]) * to_quote.rate
            elif p.quantity:
                unpriced.add(p.base)
        fees: dict[str, Decimal] = defaultdict(Decimal)
        for p in positions.values():
            for asset, amount in p.fees.items():
                fees[asset] += amount
        fee_rows = [
            {"asset": asset, "amount": str(amount), **_value_of(rates[asset], amount)}
            for asset, amount in sorted(fees.items())
        ]
        realized = sum((v["realized"] for v in per_asset.values()), _ZERO)
        unrealized = sum((v["unrealized"] for v in per_asset.values()), _ZERO)
    fees_value, fees_unvalued = _sum(r["value"] for r in fee_rows)
    return {
        "quote": quote,
        "method": method,
        "instruments": instruments,
        "assets": [
            {
                "asset": asset,
                "realized": str(v["realized"]),
                "unrealized": str(v["unrealized"]),
                "total": str(v["realized"] + v["unrealized"]),
            }
            for asset, v in sorted(per_asset.items())
        ],
        "realized": str(realized),
        "unrealized": str(unrealized),
        "total": str(realized + unrealized),
        "fees": fee_rows,
        "fees_value": str(fees_value),
        "fees_unvalued": fees_unvalued,
        "unpriced_assets": sorted(unpriced),
        "trades": len(fills),
    }


def _instrument(p: Position, rates: Mapping[str, Rate | Unvalued], quote: str) -> dict[str, Any]:
    base_rate, quote_rate = rates[p.base], rates[p.quote]
    unrealized: Decimal | None = None
    price: Decimal | None = None
    if p.quantity == 0:
        unrealized = -p.cost if p.cost else _ZERO
    elif isinstance(base_rate, Rate) and isinstance(quote_rate, Rate):
        price = base_rate.rate / quote_rate.rate  # base in the instrument's quote, now
        unrealized = p.unrealized(price)
    avg = p.average_cost
    return {
        "symbol": p.symbol,
        "quote_asset": p.quote,
        "quantity": str(p.quantity),
        "cost_basis": str(p.cost),
        "average_cost": None if avg is None else str(avg),
        "realized": str(p.realized),
        "unrealized": None if unrealized is None else str(unrealized),
        "price": None if price is None else str(price),
        "bought": str(p.bought),
        "sold": str(p.sold),
        "unmatched_quantity": str(p.unmatched_quantity),
        "fees": {asset: str(v) for asset, v in sorted(p.fees.items())},
        "trades": p.trades,
    }


# -- value over time ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Closes of one pair over time (open times ascending), from the market-data service."""

    times: list[datetime]
    closes: list[Decimal]

    def at(self, moment: datetime) -> Decimal | None:
        """The close of the last candle that opened at or before ``moment``."""
        i = bisect_right(self.times, moment)
        return self.closes[i - 1] if i else None


def steps_between(start: datetime, end: datetime, step: Step) -> list[datetime]:
    delta = STEPS[step]
    out, t = [], start
    while t <= end:
        out.append(t)
        t += delta
    return out


def holdings_over_time(
    points: Sequence[HistoryPoint], moments: Sequence[datetime]
) -> list[dict[str, Decimal]]:
    """Per moment, the total per asset (every wallet and connection added up) held then."""
    current: dict[tuple[str, str, str], Decimal] = {}
    out: list[dict[str, Decimal]] = []
    i = 0
    for moment in moments:
        while i < len(points) and points[i].ts <= moment:
            p = points[i]
            current[(p.credential_id, p.asset, p.wallet)] = p.total
            i += 1
        per_asset: dict[str, Decimal] = defaultdict(Decimal)
        for (_, asset, _), total in current.items():
            per_asset[asset] += total
        out.append({a: v for a, v in per_asset.items() if v != 0})
    return out


def value_history(
    holdings: Sequence[Mapping[str, Decimal]],
    moments: Sequence[datetime],
    routes: Mapping[str, Rate | Unvalued],
    series: Mapping[tuple[str, str], PriceSeries],
    quote: str,
) -> dict[str, Any]:
    """Value per moment: each asset through today's route, with each leg's close at that
    moment (``series`` by (exchange, symbol)). An asset without a route or without a close at
    a moment is left out of that moment's value and named."""
    out = []
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for moment, held in zip(moments, holdings, strict=True):
            total = _ZERO
            missing: list[str] = []
            for asset, amount in sorted(held.items()):
                rate = _historic_rate(routes.get(asset), series, moment)
                if rate is None:
                    missing.append(asset)
                else:
                    total += amount * rate
            out.append(
                {
                    "time": moment.isoformat(),
                    # nothing valued of something held is no value, not 0
                    "value": None if held and len(missing) == len(held) else str(total),
                    "unvalued_assets": missing,
                }
            )
    return {"quote": quote, "points": out}


def _historic_rate(
    route: Rate | Unvalued | None,
    series: Mapping[tuple[str, str], PriceSeries],
    moment: datetime,
) -> Decimal | None:
    if not isinstance(route, Rate):
        return None
    if route.kind in ("identity", "par"):
        return route.rate
    rate = Decimal(1)
    for leg in route.legs:
        s = series.get((leg.pair.exchange, leg.pair.symbol))
        close = s.at(moment) if s is not None else None
        if close is None or close <= 0:
            return None
        rate *= (Decimal(1) / close) if leg.inverse else close
    return rate
