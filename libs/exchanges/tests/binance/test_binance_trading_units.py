"""Binance trading payloads and rules without a venue: order parameters, the documented answer
and event shapes, the table of error codes, weights, and the private stream's de-duplication."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eip.exchanges.binance import trading_wire as wire
from eip.exchanges.binance.symbols import binance_symbol_map
from eip.exchanges.binance.trading import CAPABILITIES, _parse_cursor
from eip.exchanges.binance.weights import weight_of
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.errors import BadRequest, NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.trading import (
    FillCursor,
    OcoRequest,
    OrderRequest,
    OrderType,
    Support,
    TimeInForce,
    TrailingOffset,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)
from eip.exchanges.machinery.private_state import PrivateState

# rest-api.md's exchangeInfo symbol entry (as in shared/protocols, trimmed of what is unused)
BTCUSDT: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "orderTypes": [
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ],
    "ocoAllowed": True,
    "quoteOrderQtyMarketAllowed": True,
    "allowTrailingStop": True,
    "amendAllowed": True,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "120.00000000",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
    ],
}
SYMBOLS = binance_symbol_map({"symbols": [BTCUSDT]})


def request(**fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": OrderType.LIMIT,
        "client_order_id": "cid-1",
        "quantity": Decimal("0.01"),
        "price": Decimal("65000.5"),
    }
    return OrderRequest(**{**base, **fields})


# -- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"time_in_force": TimeInForce.IOC},
            {"type": "LIMIT", "timeInForce": "IOC", "quantity": "0.01", "price": "65000.5"},
        ),
        ({"time_in_force": TimeInForce.FOK}, {"type": "LIMIT", "timeInForce": "FOK"}),
        ({"post_only": True}, {"type": "LIMIT_MAKER", "price": "65000.5"}),
        (
            {"type": OrderType.MARKET, "price": None},
            {"type": "MARKET", "quantity": "0.01"},
        ),
        (
            {
                "type": OrderType.MARKET,
                "price": None,
                "quantity": None,
                "quote_quantity": Decimal("25"),
            },
            {"type": "MARKET", "quoteOrderQty": "25"},
        ),
        (
            {"type": OrderType.STOP_MARKET, "price": None, "stop_price": Decimal("60000")},
            {"type": "STOP_LOSS", "stopPrice": "60000"},
        ),
        (
            {"type": OrderType.STOP_LIMIT, "stop_price": Decimal("60000")},
            {"type": "STOP_LOSS_LIMIT", "stopPrice": "60000", "timeInForce": "GTC"},
        ),
        (
            {"type": OrderType.TAKE_PROFIT_MARKET, "price": None, "stop_price": Decimal("70000")},
            {"type": "TAKE_PROFIT", "stopPrice": "70000"},
        ),
        (
            {"type": OrderType.TAKE_PROFIT_LIMIT, "stop_price": Decimal("70000")},
            {"type": "TAKE_PROFIT_LIMIT", "price": "65000.5", "stopPrice": "70000"},
        ),
    ],
    ids=lambda v: v.get("type", "") if isinstance(v, dict) else "",
)
def test_each_order_type_becomes_binance_parameters(
    fields: dict[str, Any], expected: dict[str, str]
) -> None:
    params = wire.order_params(request(**fields), "BTCUSDT")
    assert params["symbol"] == "BTCUSDT"
    assert params["side"] == "BUY"
    assert params["newClientOrderId"] == "cid-1"
    assert params["newOrderRespType"] == "RESULT"
    for name, value in expected.items():
        assert params[name] == value
    if params["type"] in ("MARKET", "STOP_LOSS", "TAKE_PROFIT", "LIMIT_MAKER"):
        assert "timeInForce" not in params  # Binance refuses one where none is wanted


@pytest.mark.parametrize(
    "fields",
    [
        {"post_only": True, "time_in_force": TimeInForce.IOC},
        {"post_only": True, "type": OrderType.MARKET, "price": None},
        {"time_in_force": TimeInForce.GTD},
        {"reduce_only": True},
        {"type": OrderType.MARKET, "price": None, "quote_quantity": Decimal("5")},
        {"type": OrderType.MARKET},  # a price on a market order
        {"quote_quantity": Decimal("5")},
        {"price": None},
        {"stop_price": Decimal("1")},
        {"type": OrderType.STOP_MARKET, "price": None},
        {"type": OrderType.MARKET, "price": None, "time_in_force": TimeInForce.IOC},
    ],
)
def test_what_binance_cannot_take_is_refused_before_sending(fields: dict[str, Any]) -> None:
    with pytest.raises(OrderRejected) as caught:
        wire.order_params(request(**fields), "BTCUSDT")
    assert caught.value.reason is RejectReason.INVALID_ORDER
    assert caught.value.venue_code is None


def test_trailing_stops_trail_by_whole_basis_points_with_an_optional_activation_price() -> None:
    trailing = request(
        type=OrderType.TRAILING_STOP_MARKET,
        side="sell",
        price=None,
        trailing=TrailingOffset(Decimal("100"), "bps"),
    )
    params = wire.order_params(trailing, "BTCUSDT")
    assert (params["type"], params["trailingDelta"]) == ("STOP_LOSS", "100")
    assert "stopPrice" not in params  # trailing from the start
    activated = wire.order_params(
        dataclasses.replace(trailing, stop_price=Decimal("70000")), "BTCUSDT"
    )
    assert activated["stopPrice"] == "70000"
    limit = wire.order_params(
        dataclasses.replace(trailing, type=OrderType.TRAILING_STOP_LIMIT, price=Decimal("64000")),
        "BTCUSDT",
    )
    assert (limit["type"], limit["price"], limit["timeInForce"]) == (
        "STOP_LOSS_LIMIT",
        "64000",
        "GTC",
    )
    with pytest.raises(NotSupported):  # a price distance: the platform emulates it
        wire.order_params(
            dataclasses.replace(trailing, trailing=TrailingOffset(Decimal("50"), "price")),
            "BTCUSDT",
        )
    for bad in (TrailingOffset(Decimal("10.5"), "bps"), None):
        with pytest.raises(OrderRejected) as caught:
            wire.order_params(dataclasses.replace(trailing, trailing=bad), "BTCUSDT")
        assert caught.value.reason is RejectReason.INVALID_ORDER
    with pytest.raises(OrderRejected):  # an offset on an order that does not trail
        wire.order_params(request(trailing=TrailingOffset(Decimal("100"), "bps")), "BTCUSDT")
    assert CAPABILITIES.trailing_stop is Support.NATIVE


@pytest.mark.parametrize(
    ("side", "limit_side", "stop_side"), [("sell", "above", "below"), ("buy", "below", "above")]
)
def test_an_oco_puts_the_limit_leg_on_the_profit_side_and_the_stop_on_the_other(
    side: str, limit_side: str, stop_side: str
) -> None:
    oco = OcoRequest(
        symbol="BTC/USDT",
        side="sell" if side == "sell" else "buy",
        quantity=Decimal("0.01"),
        price=Decimal("70000"),
        stop_price=Decimal("60000"),
        list_client_id="list-1",
        limit_client_order_id="limit-1",
        stop_client_order_id="stop-1",
    )
    params = wire.oco_params(oco, "BTCUSDT")
    assert params["side"] == side.upper()
    assert params["quantity"] == "0.01"
    assert params["listClientOrderId"] == "list-1"
    assert params[f"{limit_side}Type"] == "LIMIT_MAKER"
    assert params[f"{limit_side}Price"] == "70000"
    assert params[f"{limit_side}ClientOrderId"] == "limit-1"
    assert params[f"{stop_side}Type"] == "STOP_LOSS"
    assert params[f"{stop_side}StopPrice"] == "60000"
    assert f"{stop_side}Price" not in params
    with_limit = wire.oco_params(dataclasses.replace(oco, stop_limit_price=Decimal("59000")), "X")
    assert with_limit[f"{stop_side}Type"] == "STOP_LOSS_LIMIT"
    assert with_limit[f"{stop_side}Price"] == "59000"
    assert with_limit[f"{stop_side}TimeInForce"] == "GTC"
    assert CAPABILITIES.oco is Support.NATIVE


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("0.00001000"), "0.00001"),
        (Decimal("65000.50"), "65000.5"),
        (Decimal("1E-8"), "0.00000001"),
    ],
)
def test_decimals_go_out_plain_never_with_an_exponent(value: Decimal, text: str) -> None:
    assert wire.wire_decimal(value) == text


def test_an_order_is_named_by_venue_id_first_and_ids_are_checked() -> None:
    assert wire.order_id_params("c", "42") == {"orderId": "42"}
    assert wire.order_id_params("c", None) == {"origClientOrderId": "c"}
    with pytest.raises(BadRequest):
        wire.order_id_params(None, None)
    with pytest.raises(BadRequest):
        wire.order_id_params(None, "not-a-number")


@given(st.text(min_size=1, max_size=60))
def test_platform_client_ids_always_fit_binance(key: str) -> None:
    assert fits(client_order_id("acct", key, wire.CLIENT_ORDER_IDS), wire.CLIENT_ORDER_IDS)


def test_binance_client_id_rules_are_its_documented_pattern() -> None:
    rules = CAPABILITIES.client_order_ids
    assert fits("x-TKT5PX2Fa1b2c3d4_-", rules)
    assert fits("a" * 36, rules)
    assert not fits("a" * 37, rules)
    assert not fits("has space", rules)
    assert not fits("dot.ted", rules)


# -- answers and events --------------------------------------------------------------------------


def test_a_placement_result_parses_with_its_fill_state() -> None:
    # rest-api.md RESULT/FULL answer of a market buy
    body = {
        "symbol": "BTCUSDT",
        "orderId": 5003,
        "orderListId": -1,
        "clientOrderId": "x-TKT5PX2Fa1b2c3d4",
        "transactTime": 1717000000500,
        "price": "0.00000000",
        "origQty": "0.02000000",
        "executedQty": "0.02000000",
        "origQuoteOrderQty": "0.00000000",
        "cummulativeQuoteQty": "1337.61000000",
        "status": "FILLED",
        "timeInForce": "GTC",
        "type": "MARKET",
        "side": "BUY",
        "workingTime": 1717000000500,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    order = wire.order(body, SYMBOLS)
    assert order.symbol == "BTC/USDT"
    assert (order.venue_order_id, order.client_order_id) == ("5003", "x-TKT5PX2Fa1b2c3d4")
    assert (order.type, order.side, order.status) == (
        OrderType.MARKET,
        "buy",
        VenueOrderStatus.FILLED,
    )
    assert order.quantity == Decimal("0.02")
    assert order.average_price == Decimal("66880.5")
    assert order.price is None
    assert order.sequence == 1717000000500
    assert order.updated_time == datetime(2024, 5, 29, 16, 26, 40, 500000, tzinfo=UTC)


def test_a_quote_sized_market_order_has_no_base_quantity_until_filled() -> None:
    body = {
        "symbol": "BTCUSDT",
        "orderId": 7,
        "clientOrderId": "q",
        "transactTime": 1,
        "price": "0.00000000",
        "origQty": "0.00000000",
        "executedQty": "0.00000000",
        "origQuoteOrderQty": "25.00000000",
        "cummulativeQuoteQty": "0.00000000",
        "status": "EXPIRED",
        "type": "MARKET",
        "side": "BUY",
    }
    order = wire.order(body, SYMBOLS)
    assert order.quantity is None
    assert order.remaining_quantity is None
    assert order.average_price is None
    assert order.status is VenueOrderStatus.EXPIRED


def test_a_waiting_stop_is_untriggered_and_a_cancel_answer_keeps_the_orders_own_id() -> None:
    stop = {
        "symbol": "BTCUSDT",
        "orderId": 9,
        "clientOrderId": "mine",
        "price": "0.00000000",
        "origQty": "0.01000000",
        "executedQty": "0.00000000",
        "cummulativeQuoteQty": "0.00000000",
        "status": "NEW",
        "timeInForce": "GTC",
        "type": "STOP_LOSS",
        "side": "SELL",
        "stopPrice": "60000.00000000",
        "time": 5,
        "updateTime": 6,
        "workingTime": -1,
    }
    parsed = wire.order(stop, SYMBOLS)
    assert parsed.status is VenueOrderStatus.UNTRIGGERED
    assert (parsed.type, parsed.stop_price) == (OrderType.STOP_MARKET, Decimal("60000"))
    canceled = {
        **{k: v for k, v in stop.items() if k not in ("time", "updateTime", "workingTime")},
        "status": "CANCELED",
        "origClientOrderId": "mine",
        "clientOrderId": "the-cancel-request",
        "transactTime": 8,
    }
    after = wire.order(canceled, SYMBOLS)
    assert after.client_order_id == "mine"
    assert after.status is VenueOrderStatus.CANCELED
    assert after.sequence == 8


def test_a_trailing_stop_and_a_self_trade_expiry_read_as_such() -> None:
    trailing = {
        "symbol": "BTCUSDT",
        "orderId": 11,
        "clientOrderId": "t",
        "price": "0.00000000",
        "origQty": "0.01000000",
        "executedQty": "0.00000000",
        "cummulativeQuoteQty": "0.00000000",
        "status": "NEW",
        "type": "STOP_LOSS",
        "side": "SELL",
        "stopPrice": "0.00000000",
        "trailingDelta": 100,
        "updateTime": 3,
        "workingTime": -1,
    }
    order = wire.order(trailing, SYMBOLS)
    assert order.type is OrderType.TRAILING_STOP_MARKET
    assert order.stop_price is None  # no activation price: trailing from the start
    assert order.status is VenueOrderStatus.UNTRIGGERED
    expired = wire.order({**trailing, "type": "LIMIT", "status": "EXPIRED_IN_MATCH"}, SYMBOLS)
    assert expired.status is VenueOrderStatus.EXPIRED
    assert expired.reason == "self_trade_prevention"
    event = {**TRADE_REPORT, "x": "EXPIRED", "X": "EXPIRED_IN_MATCH", "d": 0}
    event.update({"l": "0", "L": "0", "n": "0", "N": None, "t": -1})
    reported, fill = wire.execution_report(event, SYMBOLS)
    assert fill is None
    assert reported.type is OrderType.LIMIT  # d 0: does not trail
    assert reported.reason == "self_trade_prevention"
    trail_event = {**TRADE_REPORT, "o": "STOP_LOSS_LIMIT", "d": 100}
    assert wire.execution_report(trail_event, SYMBOLS)[0].type is OrderType.TRAILING_STOP_LIMIT


def test_an_amend_answer_is_the_order_with_its_lower_quantity() -> None:
    # rest-api.md, PUT /api/v3/order/amend/keepPriority (the client id sent back unchanged)
    amended: dict[str, Any] = {
        "transactTime": 1741926410255,
        "executionId": 75,
        "amendedOrder": {
            "symbol": "BTCUSDT",
            "orderId": 33,
            "orderListId": -1,
            "origClientOrderId": "5xrgbMyg6z36NzBn2pbT8H",
            "clientOrderId": "5xrgbMyg6z36NzBn2pbT8H",
            "price": "6.00000000",
            "qty": "5.00000000",
            "executedQty": "0.00000000",
            "preventedQty": "0.00000000",
            "quoteOrderQty": "0.00000000",
            "cumulativeQuoteQty": "0.00000000",
            "status": "NEW",
            "timeInForce": "GTC",
            "type": "LIMIT",
            "side": "SELL",
            "workingTime": 1741926410242,
            "selfTradePreventionMode": "NONE",
        },
    }
    order = wire.order(amended["amendedOrder"], SYMBOLS)
    assert (order.venue_order_id, order.client_order_id) == ("33", "5xrgbMyg6z36NzBn2pbT8H")
    assert (order.quantity, order.price, order.status) == (
        Decimal("5"),
        Decimal("6"),
        VenueOrderStatus.OPEN,
    )


# user-data-stream.md executionReport (as in shared/protocols)
TRADE_REPORT: dict[str, Any] = {
    "e": "executionReport",
    "E": 1717000000501,
    "s": "BTCUSDT",
    "c": "x-TKT5PX2Fa1b2c3d4",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "0.02000000",
    "p": "66880.50000000",
    "P": "0.00000000",
    "F": "0.00000000",
    "g": -1,
    "C": "",
    "x": "TRADE",
    "X": "PARTIALLY_FILLED",
    "r": "NONE",
    "i": 5004,
    "l": "0.01000000",
    "z": "0.01000000",
    "L": "66880.50000000",
    "n": "0.00001000",
    "N": "BTC",
    "T": 1717000000500,
    "t": 3600006,
    "I": 88001,
    "w": True,
    "m": True,
    "M": False,
    "O": 1716999990000,
    "Z": "668.80500000",
    "Y": "668.80500000",
    "Q": "0.00000000",
    "W": 1716999990000,
    "V": "EXPIRE_MAKER",
}


def test_a_trade_execution_report_is_the_order_now_and_its_fill() -> None:
    order, fill = wire.execution_report(TRADE_REPORT, SYMBOLS)
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (order.filled_quantity, order.remaining_quantity) == (Decimal("0.01"), Decimal("0.01"))
    assert order.average_price == Decimal("66880.5")
    assert order.sequence == 1717000000500
    assert fill is not None
    assert (fill.trade_id, fill.venue_order_id, fill.client_order_id) == (
        "3600006",
        "5004",
        "x-TKT5PX2Fa1b2c3d4",
    )
    assert (fill.price, fill.quantity, fill.fee, fill.fee_asset) == (
        Decimal("66880.5"),
        Decimal("0.01"),
        Decimal("0.00001"),
        "BTC",
    )
    assert (fill.side, fill.liquidity) == ("buy", "maker")


def test_a_cancel_execution_report_names_the_order_by_its_own_client_id() -> None:
    report = {**TRADE_REPORT, "x": "CANCELED", "X": "CANCELED", "c": "cancel-req", "C": "orig"}
    report.update({"l": "0", "L": "0", "n": "0", "N": None, "t": -1})
    order, fill = wire.execution_report(report, SYMBOLS)
    assert fill is None
    assert order.client_order_id == "orig"
    assert order.status is VenueOrderStatus.CANCELED


def test_rest_trades_account_and_balance_events_parse_exactly() -> None:
    row = {
        "symbol": "BTCUSDT",
        "id": 28457,
        "orderId": 100234,
        "orderListId": -1,
        "price": "4.00000100",
        "qty": "12.00000000",
        "quoteQty": "48.000012",
        "commission": "10.10000000",
        "commissionAsset": "BNB",
        "time": 1499865549590,
        "isBuyer": True,
        "isMaker": False,
        "isBestMatch": True,
    }
    fill = wire.my_trade(row, SYMBOLS, {"100234": "known-id"})
    assert (fill.trade_id, fill.client_order_id, fill.fee_asset, fill.liquidity) == (
        "28457",
        "known-id",
        "BNB",
        "taker",
    )
    assert fill.price == Decimal("4.00000100")
    assert wire.my_trade(row, SYMBOLS, {}).client_order_id is None
    assert wire.balances([{"asset": "BTC", "free": "0.5", "locked": "0.01"}])[0].total == Decimal(
        "0.51"
    )
    event = {"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073}
    event["B"] = [{"a": "ETH", "f": "10000.000000", "l": "0.000000"}]
    update = wire.account_position(event, datetime.now(UTC))
    assert not update.snapshot
    assert (update.balances[0].asset, update.balances[0].free) == ("ETH", Decimal("10000"))


def test_simple_earn_positions_in_the_account_are_the_earn_wallet_not_spot() -> None:
    # GET /api/v3/account lists Simple Earn flexible positions as LD<asset> beside spot
    rows = [
        {"asset": "BTC", "free": "0.50000000", "locked": "0.01000000"},
        {"asset": "LDBTC", "free": "0.25000000", "locked": "0.00000000"},
        {"asset": "LDO", "free": "12.00000000", "locked": "0.00000000"},
    ]
    got = [(b.asset, b.wallet, b.free, b.locked) for b in wire.balances(rows)]
    assert got == [
        ("BTC", "spot", Decimal("0.5"), Decimal("0.01")),
        ("BTC", "earn", Decimal("0.25"), Decimal(0)),
        ("LDO", "spot", Decimal(12), Decimal(0)),
    ]
    event = {"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073}
    event["B"] = [{"a": "LDUSDT", "f": "100.00000000", "l": "0.00000000"}]
    (pushed,) = wire.account_position(event, datetime.now(UTC)).balances
    assert (pushed.asset, pushed.wallet, pushed.total) == ("USDT", "earn", Decimal(100))


def test_instrument_rules_come_from_the_filters() -> None:
    rules = wire.instrument_rules(BTCUSDT)
    assert (rules.symbol, rules.base, rules.quote) == ("BTC/USDT", "BTC", "USDT")
    assert (rules.tick_size, rules.lot_size) == (Decimal("0.01"), Decimal("0.00001"))
    assert (rules.min_quantity, rules.max_quantity) == (Decimal("0.00001"), Decimal("9000"))
    assert (rules.min_notional, rules.max_notional) == (Decimal("5"), Decimal("9000000"))
    assert rules.max_market_quantity == Decimal("120")
    assert rules.order_types == {
        OrderType.LIMIT,
        OrderType.MARKET,
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TAKE_PROFIT_LIMIT,
        OrderType.TRAILING_STOP_MARKET,  # allowTrailingStop
        OrderType.TRAILING_STOP_LIMIT,
    }
    assert rules.post_only
    assert rules.quote_quantity_market
    assert rules.trading
    assert rules.amend
    assert rules.oco
    halted = wire.instrument_rules({**BTCUSDT, "status": "HALT"})
    assert not halted.trading
    plain = wire.instrument_rules({**BTCUSDT, "allowTrailingStop": False, "ocoAllowed": False})
    assert OrderType.TRAILING_STOP_MARKET not in plain.order_types
    assert not plain.oco
    legacy = {**BTCUSDT, "filters": [{"filterType": "MIN_NOTIONAL", "minNotional": "10"}]}
    assert wire.instrument_rules(legacy).min_notional == Decimal("10")


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "msg", "reason"),
    [
        (-2010, "Account has insufficient balance for requested action.", "insufficient_funds"),
        (-2010, "Duplicate order sent.", "duplicate_client_order_id"),
        (-2010, "Order would immediately match and take.", "post_only_would_take"),
        (-2010, "Order would trigger immediately.", "invalid_order"),
        (-2010, "Market is closed.", "market_closed"),
        (-2010, "Unsupported order combination", "invalid_order"),
        (-2010, "This action is disabled on this account.", "permission_denied"),
        (-2010, "something new", "other"),
        (-1013, "Filter failure: PRICE_FILTER", "price_filter"),
        (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE", "price_filter"),
        (-1013, "Filter failure: LOT_SIZE", "lot_size"),
        (-1013, "Filter failure: MARKET_LOT_SIZE", "lot_size"),
        (-1013, "Filter failure: NOTIONAL", "min_notional"),
        (-1013, "Filter failure: MIN_NOTIONAL", "min_notional"),
        (-1013, "Filter failure: MAX_NUM_ORDERS", "other"),
        (-1013, "Invalid quantity.", "invalid_order"),
        (-1015, "Too many new orders; current limit is 100 orders per 10 SECOND.", "rate_limited"),
        (-1121, "Invalid symbol.", "unknown_symbol"),
        (-2011, "Unknown order sent.", "order_not_amendable"),
        (-2038, "The requested action would change no state; rejecting", "order_not_amendable"),
        (-1013, "Filter failure: TRAILING_DELTA", "invalid_order"),
        (-1102, "Mandatory parameter 'price' was not sent", "invalid_order"),
        (-1111, "Parameter 'quantity' has too much precision.", "invalid_order"),
        (-1106, "Parameter 'price' sent when not required.", "invalid_order"),
        (None, "not Binance's", "other"),
    ],
)
def test_every_binance_refusal_the_simulator_sends_has_a_reason(
    code: int | None, msg: str, reason: str
) -> None:
    assert wire.reject_reason(code, msg) is RejectReason(reason)


def test_the_keys_own_refusals_are_told_apart_from_order_refusals() -> None:
    assert {-2014, -2015, -1022} <= wire.KEY_REFUSED
    assert -2010 not in wire.KEY_REFUSED


@pytest.mark.parametrize(
    ("method", "path", "params", "weight"),
    [
        ("POST", "/api/v3/order", {}, 1),
        ("DELETE", "/api/v3/order", {}, 1),
        ("GET", "/api/v3/order", {}, 4),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
        ("GET", "/api/v3/openOrders", {}, 80),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": 5}, 5),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/account", {}, 20),
        ("PUT", "/api/v3/order/amend/keepPriority", {}, 4),
        ("GET", "/api/v3/exchangeInfo", {}, 20),
    ],
)
def test_request_weights_follow_binances_table(
    method: str, path: str, params: dict[str, Any], weight: int
) -> None:
    assert weight_of(method, path, params) == weight


def test_fill_cursors_carry_the_trade_and_the_order() -> None:
    assert _parse_cursor(None) is None
    assert _parse_cursor(FillCursor("BTC/USDT", "")) is None
    assert _parse_cursor(FillCursor("BTC/USDT", "28457:100234")) == (28457, 100234)
    with pytest.raises(BadRequest):
        _parse_cursor(FillCursor("BTC/USDT", "abc"))


# -- the private stream's memory -----------------------------------------------------------------


def order(venue_id: str, sequence: int, filled: str, status: VenueOrderStatus) -> VenueOrder:
    return VenueOrder(
        exchange="binance",
        symbol="BTC/USDT",
        venue_order_id=venue_id,
        client_order_id=f"c{venue_id}",
        side="buy",
        type=OrderType.LIMIT,
        status=status,
        quantity=Decimal(1),
        filled_quantity=Decimal(filled),
        sequence=sequence,
    )


def fill(trade_id: str, venue_order_id: str) -> VenueFill:
    return VenueFill(
        exchange="binance",
        symbol="BTC/USDT",
        trade_id=trade_id,
        venue_order_id=venue_order_id,
        client_order_id=None,
        side="buy",
        price=Decimal(1),
        quantity=Decimal(1),
        fee=Decimal(0),
        fee_asset=None,
        liquidity="taker",
        time=datetime.now(UTC),
    )


def test_an_order_update_older_than_the_last_delivered_is_dropped() -> None:
    state = PrivateState()
    assert state.admit_order(order("1", 10, "0", VenueOrderStatus.OPEN))
    assert state.admit_order(order("1", 10, "0.5", VenueOrderStatus.PARTIALLY_FILLED))
    assert not state.admit_order(order("1", 10, "0.5", VenueOrderStatus.PARTIALLY_FILLED))
    assert not state.admit_order(order("1", 10, "0", VenueOrderStatus.OPEN))  # a late snapshot
    assert state.admit_order(order("1", 11, "1", VenueOrderStatus.FILLED))
    assert "1" not in state.open_orders
    assert state.admit_order(order("2", 5, "0", VenueOrderStatus.OPEN))  # orders apart
    assert state.open_orders == {"2": "BTC/USDT"}


def test_each_fill_passes_once_both_sides_of_a_self_trade_included() -> None:
    state = PrivateState()
    assert state.admit_fill(fill("100", "1"))
    assert state.admit_fill(fill("100", "2"))  # the same trade, the account's other order
    assert not state.admit_fill(fill("100", "1"))
    assert state.admit_fill(fill("99", "3"))
    assert state.newest_trade("BTC/USDT") == 100
    assert state.newest_trade("ETH/USDT") is None


def test_the_memory_of_orders_and_trades_is_bounded() -> None:
    state = PrivateState(max_orders=3, max_trades_per_symbol=2)
    for n in range(10):
        state.admit_order(order(str(n), n, "0", VenueOrderStatus.OPEN))
        state.admit_fill(fill(str(n), str(n)))
    assert len(state.client_ids) == 3
    assert state.admit_order(order("0", 0, "0", VenueOrderStatus.OPEN))  # long forgotten
    assert not state.admit_fill(fill("9", "9"))  # recent ones are remembered
