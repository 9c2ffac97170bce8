"""The instrument-rules check alone, for what the simulator's Binance cannot show end to end:
it lists every order type and has post-only and quote-sized market orders, so the
``order_type_unsupported`` denial is tested here, against rules and capabilities as another
venue's adapter would report them (every other rule code: test_risk.py, on the venue)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from eip.exchanges.contract.trading import (
    InstrumentRules,
    OrderType,
    Support,
    TradingCapabilities,
)
from eip.order_management.commands import OrderSpec
from eip.order_management.risk.codes import DenialCode, Denied
from eip.order_management.risk.engine import check_instrument_rules

RULES = InstrumentRules(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.00001"),
    min_quantity=Decimal("0.00001"),
    max_quantity=None,
    min_notional=Decimal("5"),
    post_only=True,
    quote_quantity_market=True,
)
EVERYTHING = TradingCapabilities(post_only=Support.NATIVE, quote_quantity_market=Support.NATIVE)
LIMIT = OrderSpec(
    "venue", "BTC/USDT", "buy", OrderType.LIMIT, quantity=Decimal("0.01"), price=Decimal("1000")
)
POST_ONLY = dataclasses.replace(LIMIT, post_only=True)
QUOTE_SIZED = OrderSpec("venue", "BTC/USDT", "buy", OrderType.MARKET, quote_quantity=Decimal(50))


@pytest.mark.parametrize("spec", [LIMIT, POST_ONLY, QUOTE_SIZED])
def test_orders_the_venue_takes_pass_the_rules(spec: OrderSpec) -> None:
    check_instrument_rules(spec, RULES, EVERYTHING, True, Decimal(10))


@pytest.mark.parametrize(
    ("spec", "rules", "capabilities", "says"),
    [
        (
            LIMIT,
            dataclasses.replace(RULES, order_types=frozenset({OrderType.MARKET})),
            EVERYTHING,
            "takes no limit orders",
        ),
        (POST_ONLY, dataclasses.replace(RULES, post_only=False), EVERYTHING, "post-only"),
        (POST_ONLY, RULES, TradingCapabilities(quote_quantity_market=Support.NATIVE), "post-only"),
        (
            QUOTE_SIZED,
            RULES,
            TradingCapabilities(post_only=Support.NATIVE),
            "sized in the quote asset",
        ),
    ],
)
def test_an_order_type_the_venue_does_not_take_is_denied_with_its_code(
    spec: OrderSpec, rules: InstrumentRules, capabilities: TradingCapabilities, says: str
) -> None:
    with pytest.raises(Denied) as denied:
        check_instrument_rules(spec, rules, capabilities, True, Decimal(10))
    assert denied.value.code is DenialCode.ORDER_TYPE_UNSUPPORTED
    assert says in denied.value.message
