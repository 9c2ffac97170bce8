"""Self-trade prevention: the taker's mode decides, nothing trades, funds stay consistent."""

from __future__ import annotations

from decimal import Decimal as D

from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.orders import (
    ExpiryReason,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

from .test_engine import limit, totals

STP = SelfTradePrevention


def taker(
    side: Side,
    qty: str,
    price: str | None,
    mode: SelfTradePrevention,
    tif: TimeInForce = TimeInForce.GTC,
) -> OrderRequest:
    kind = OrderType.LIMIT if price else OrderType.MARKET
    return OrderRequest(
        "alice",
        "BTCUSDT",
        side,
        kind,
        D(qty),
        D(price) if price else None,
        time_in_force=tif if price else None,
        self_trade_prevention=mode,
    )


def book_with_own_order_between_others(exchange: Exchange) -> None:
    """Asks: bob 0.2 @ 50000, alice 0.3 @ 50001, bob 0.5 @ 50002."""
    exchange.place(limit("bob", Side.SELL, "0.2", "50000"))
    exchange.place(limit("alice", Side.SELL, "0.3", "50001"))
    exchange.place(limit("bob", Side.SELL, "0.5", "50002"))


def test_none_lets_an_account_trade_with_itself(exchange: Exchange) -> None:
    book_with_own_order_between_others(exchange)
    order = exchange.place(taker(Side.BUY, "0.5", "50001", STP.NONE))
    assert order.status is OrderStatus.FILLED
    assert [f.price for f in order.fills] == [D(50000), D(50001)]


def test_expire_taker_stops_at_the_first_own_order(exchange: Exchange) -> None:
    before = totals(exchange)
    book_with_own_order_between_others(exchange)
    order = exchange.place(taker(Side.BUY, "1", "50002", STP.EXPIRE_TAKER))
    assert (order.status, order.expiry_reason) == (OrderStatus.EXPIRED, ExpiryReason.SELF_TRADE)
    assert order.executed_qty == D("0.2")
    assert order.prevented_qty == D("0.8")
    assert exchange.depth("BTCUSDT", 5)[2] == [(D(50001), D("0.3")), (D(50002), D("0.5"))]
    assert exchange.accounts["alice"].balance("USDT").locked == 0
    assert totals(exchange) == before


def test_expire_maker_removes_own_orders_and_goes_on(exchange: Exchange) -> None:
    book_with_own_order_between_others(exchange)
    order = exchange.place(taker(Side.BUY, "0.6", "50002", STP.EXPIRE_MAKER))
    own = exchange.orders[2]
    assert (own.status, own.expiry_reason, own.prevented_qty) == (
        OrderStatus.EXPIRED,
        ExpiryReason.SELF_TRADE,
        D("0.3"),
    )
    assert order.status is OrderStatus.FILLED
    assert [f.price for f in order.fills] == [D(50000), D(50002)]
    assert exchange.accounts["alice"].balance("BTC").locked == 0


def test_expire_both_expires_both_orders(exchange: Exchange) -> None:
    exchange.place(limit("alice", Side.BUY, "1", "49000"))
    order = exchange.place(taker(Side.SELL, "3", "49000", STP.EXPIRE_BOTH))
    own = exchange.orders[1]
    assert own.status is order.status is OrderStatus.EXPIRED
    assert (own.prevented_qty, order.prevented_qty) == (D(1), D(3))
    assert exchange.depth("BTCUSDT", 5)[1:] == ([], [])
    assert exchange.accounts["alice"].balance("USDT").locked == 0
    assert exchange.accounts["alice"].balance("BTC").locked == 0


def test_a_market_buy_reserves_for_the_liquidity_it_will_really_meet(exchange: Exchange) -> None:
    book_with_own_order_between_others(exchange)
    order = exchange.place(taker(Side.BUY, "0.7", None, STP.EXPIRE_MAKER))
    assert order.status is OrderStatus.FILLED
    assert order.cumulative_quote == D("0.2") * 50000 + D("0.5") * 50002
    assert exchange.accounts["alice"].balance("USDT").locked == 0


def test_fok_counts_only_what_it_could_trade(exchange: Exchange) -> None:
    book_with_own_order_between_others(exchange)
    fok = exchange.place(taker(Side.BUY, "0.5", "50002", STP.EXPIRE_TAKER, TimeInForce.FOK))
    assert (fok.status, fok.executed_qty) == (OrderStatus.EXPIRED, D(0))
    assert exchange.depth("BTCUSDT", 5)[2][0] == (D(50000), D("0.2"))
