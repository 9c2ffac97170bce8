"""The numbers behind the JSON answers and the charts, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from eip.account.charts import allocation_chart, render, trades_chart, value_chart
from eip.account.portfolio import (
    PriceSeries,
    allocation,
    balances_view,
    holdings_over_time,
    steps_between,
    value_history,
)
from eip.account.store import BalanceRow, HistoryPoint
from eip.account.valuation import PriceGraph

D = Decimal
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def row(exchange: str, asset: str, total: str, wallet: str = "spot") -> BalanceRow:
    return BalanceRow("c-" + exchange, "a", exchange, asset, wallet, D(total), D(0), T0)


def graph() -> PriceGraph:
    g = PriceGraph(clock=lambda: 1000.0)
    g.update("x", "BTC/USD", last="100", received=1000.0)
    g.update("x", "DOT/USD", last="5", received=1000.0)
    return g


def test_consolidated_balances_keep_wallets_apart_and_totals_skip_the_unvalued() -> None:
    rows = [
        row("binance", "BTC", "1"),
        row("kraken", "BTC", "2"),
        row("kraken", "DOT", "10"),
        row("kraken", "DOT", "4", wallet="staked"),
        row("kraken", "ABC", "7"),
    ]
    view = balances_view(rows, graph(), "USD")
    merged = {(a["asset"], a["wallet"]): a for a in view["consolidated"]}
    assert merged[("BTC", "spot")]["total"] == "3"
    assert D(merged[("DOT", "staked")]["value"]) == D(20)
    assert merged[("ABC", "spot")]["value"] is None
    assert D(view["total_value"]) == D(300 + 50 + 20)
    assert view["unvalued_assets"] == [{"asset": "ABC", "wallet": "spot", "reason": "no_price"}]
    venues = {v["exchange"]: v for v in view["exchanges"]}
    assert (D(venues["kraken"]["value"]), venues["kraken"]["unvalued"]) == (D(270), 1)


def test_allocation_shares_add_up_by_asset_and_by_exchange() -> None:
    view = balances_view(
        [row("binance", "BTC", "1"), row("kraken", "DOT", "20"), row("kraken", "BTC", "1")],
        graph(),
        "USD",
    )
    by_asset = allocation(view, "asset")
    assert [(e["key"], e["share"]) for e in by_asset["entries"]] == [
        ("BTC", "0.666667"),
        ("DOT", "0.333333"),
    ]
    by_exchange = allocation(view, "exchange")
    assert {e["key"]: D(e["value"]) for e in by_exchange["entries"]} == {
        "kraken": D(200),
        "binance": D(100),
    }


def test_value_over_time_uses_holdings_then_and_the_close_of_that_time() -> None:
    moments = steps_between(T0, T0 + timedelta(hours=2), "1h")
    points = [
        HistoryPoint(T0 - timedelta(days=1), "c", "BTC", "spot", D(1)),
        HistoryPoint(T0 + timedelta(minutes=30), "c", "BTC", "spot", D(3)),
        HistoryPoint(T0 + timedelta(minutes=90), "c", "DOT", "staked", D(10)),
    ]
    held = holdings_over_time(points, moments)
    assert held == [{"BTC": D(1)}, {"BTC": D(3)}, {"BTC": D(3), "DOT": D(10)}]
    routes = graph().rates({"BTC", "DOT"}, "USD")
    series = {
        ("x", "BTC/USD"): PriceSeries(
            [T0, T0 + timedelta(hours=1)], [D(90), D(110)]
        ),  # no candle at 02:00: the 01:00 close carries
    }
    history = value_history(held, moments, routes, series, "USD")
    assert [(p["value"], p["unvalued_assets"]) for p in history["points"]] == [
        ("90", []),
        ("330", []),
        ("330", ["DOT"]),
    ]


async def test_charts_render_off_the_loop_as_png_and_svg() -> None:
    view = balances_view([row("binance", "BTC", "1")], graph(), "USD")
    history = {
        "quote": "USD",
        "points": [{"time": T0.isoformat(), "value": "1", "unvalued_assets": []}],
    }
    candles = [
        {
            "open_time": (T0 + timedelta(minutes=i)).isoformat(),
            "open": "1",
            "high": "2",
            "low": "0.5",
            "close": "1.5",
        }
        for i in range(3)
    ]
    fills = [{"side": "buy", "time": T0.isoformat(), "price": "1.2"}]
    for draw in (
        value_chart(history, "v"),
        allocation_chart(allocation(view, "asset"), "a"),
        trades_chart(candles, fills, "t"),
    ):
        assert (await render(draw, "png")).startswith(b"\x89PNG")
        assert b"<svg" in await render(draw, "svg")


def test_the_trades_chart_marks_each_buy_and_sell_at_its_time_and_price_on_the_candles() -> None:
    candles = [
        {
            "open_time": (T0 + timedelta(minutes=i)).isoformat(),
            "open": "100",
            "high": "110",
            "low": "95",
            "close": str(101 + i),
        }
        for i in range(4)
    ]
    fills = [
        {"side": "buy", "time": (T0 + timedelta(minutes=1)).isoformat(), "price": "101.5"},
        {"side": "sell", "time": (T0 + timedelta(minutes=2)).isoformat(), "price": "103.25"},
        {"side": "sell", "time": (T0 + timedelta(minutes=3)).isoformat(), "price": "104"},
    ]
    figure = Figure()
    trades_chart(candles, fills, "t")(figure)
    (ax,) = figure.axes
    assert len(ax.patches) == len(candles)  # one body per candle
    marks = {
        c.get_label(): np.asarray(c.get_offsets()).tolist() for c in ax.collections if c.get_label()
    }
    buy_at = float(date2num(T0 + timedelta(minutes=1)))  # type: ignore[no-untyped-call]
    assert marks["buy (1)"] == [[pytest.approx(buy_at), 101.5]]
    assert [p[1] for p in marks["sell (2)"]] == [103.25, 104.0]


def test_the_value_chart_draws_the_valued_points_of_the_history_and_no_zero_for_the_rest() -> None:
    history = {
        "quote": "USD",
        "points": [
            {"time": (T0 + timedelta(hours=i)).isoformat(), "value": v, "unvalued_assets": []}
            for i, v in enumerate(["10", None, "12.5"])
        ],
    }
    figure = Figure()
    value_chart(history, "v")(figure)
    (line,) = figure.axes[0].get_lines()
    assert np.asarray(line.get_ydata(), dtype=float).tolist() == [10.0, 12.5]
