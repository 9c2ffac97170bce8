"""Trailing stops: activation, the extreme they follow, the trigger, the limit offset."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.orders import (
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)
from eip.exchange_simulator.core.trailing import Offset, OffsetUnit, Trailing

from .test_engine import limit


def prints(exchange: Exchange, *prices: str) -> None:
    for price in prices:
        exchange.print_trade("BTCUSDT", D(price), D("0.01"), Side.BUY)


def trailing_sell(
    exchange: Exchange,
    offset: Offset,
    kind: OrderType = OrderType.STOP_LOSS,
    activation: str | None = None,
    price: str | None = None,
    limit_offset: Offset | None = None,
) -> Order:
    return exchange.place(
        OrderRequest(
            "alice",
            "BTCUSDT",
            Side.SELL,
            kind,
            D("0.5"),
            D(price) if price else None,
            time_in_force=TimeInForce.GTC if kind.has_limit_price else None,
            trailing=Trailing(offset, D(activation) if activation else None, limit_offset),
        )
    )


def test_a_sell_follows_the_high_and_fires_on_the_retrace(exchange: Exchange) -> None:
    exchange.place(limit("bob", Side.BUY, "1", "30000"))  # liquidity for the triggered sell
    prints(exchange, "40000")
    stop = trailing_sell(exchange, Offset(D(500)))
    assert stop.trigger_price == D(39500)
    prints(exchange, "41000", "42000", "41600")  # high 42000: fires at 41500 or lower
    assert stop.trigger_price == D(41500)
    assert not stop.is_working
    prints(exchange, "41500")
    assert stop.is_working
    assert stop.status is OrderStatus.FILLED
    assert stop.fills[0].price == D(30000)


def test_basis_points_as_binance_trailing_delta(exchange: Exchange) -> None:
    # Binance's FAQ, scenario E: 700 BIPS from a high of 45,500 fires at 42,315.
    exchange.place(limit("bob", Side.BUY, "1", "30000"))
    prints(exchange, "40000")
    stop = trailing_sell(
        exchange, Offset(D(700), OffsetUnit.BPS), OrderType.STOP_LOSS_LIMIT, price="39000"
    )
    prints(exchange, "42000", "39500", "45500", "42316")
    assert not stop.is_working
    prints(exchange, "42315")
    assert stop.is_working


def test_an_activation_price_holds_tracking_back_until_reached(exchange: Exchange) -> None:
    # Binance's FAQ, scenario D: TAKE_PROFIT_LIMIT sell, stopPrice 42,000, 750 BIPS.
    prints(exchange, "40000")
    stop = trailing_sell(
        exchange,
        Offset(D(750), OffsetUnit.BPS),
        OrderType.TAKE_PROFIT_LIMIT,
        activation="42000",
        price="41000",
    )
    prints(exchange, "41500", "39000")  # a 7.5 % fall, but not active yet
    assert stop.trigger_price is None
    assert not stop.is_working
    prints(exchange, "42000", "45000", "44000", "46500")
    assert stop.trigger_price == D("43012.5")
    prints(exchange, "43013")
    assert not stop.is_working
    prints(exchange, "43012.5")
    assert stop.is_working
    assert stop.price == D(41000)


def test_a_buy_follows_the_low_and_a_limit_offset_prices_it_at_trigger(
    exchange: Exchange,
) -> None:
    exchange.place(limit("bob", Side.SELL, "1", "39600"))
    prints(exchange, "40000")
    usdt = exchange.accounts["alice"].balance("USDT")
    stop = exchange.place(
        OrderRequest(
            "alice",
            "BTCUSDT",
            Side.BUY,
            OrderType.STOP_LOSS_LIMIT,
            D("0.5"),
            time_in_force=TimeInForce.GTC,
            trailing=Trailing(Offset(D(1), OffsetUnit.BPS), limit_offset=Offset(D("50.006"))),
        )
    )
    assert usdt.locked == 0  # a buy priced at trigger reserves then
    prints(exchange, "39000", "39003")  # low 39000, 1 bp: fires at 39003.9 or higher
    assert not stop.is_working
    prints(exchange, "39004")
    assert stop.price == D("39053.91")  # 39003.9 + 50.006, to the tick
    assert stop.status is OrderStatus.NEW  # rests: bob asks 39600
    assert usdt.locked == D("0.5") * D("39053.91")


def test_without_any_trade_a_trailing_stop_starts_at_the_next_one(exchange: Exchange) -> None:
    stop = trailing_sell(exchange, Offset(D(100)))
    assert stop.trigger_price is None
    prints(exchange, "50000")
    assert stop.trigger_price == D(49900)


def test_malformed_trailing_orders_are_refused(exchange: Exchange) -> None:
    prints(exchange, "40000")
    for bad in (
        {"offset": Offset(D(0))},
        {"offset": Offset(D(10)), "kind": OrderType.LIMIT, "price": "40000"},
        {"offset": Offset(D(10)), "kind": OrderType.STOP_LOSS_LIMIT},  # no price, no offset
        {"offset": Offset(D(10)), "activation": "41000"},  # already reached (a fall to it)
    ):
        with pytest.raises(Rejection):
            trailing_sell(exchange, **bad)
    assert exchange.open_orders("alice") == []
