"""Coinbase Advanced Trade payloads without a venue: order configurations, the answer and
``user`` channel shapes, the table of refusals, REST error answers and fill cursors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eip.exchanges.coinbase import trading_wire as wire
from eip.exchanges.coinbase.rest import CoinbaseApiError, CoinbaseRest
from eip.exchanges.coinbase.trading import CAPABILITIES, _cursor, _parse_cursor
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.errors import (
    CredentialRejected,
    NotSupported,
    OrderRejected,
    RateLimited,
    RejectReason,
    TransientExchangeError,
)
from eip.exchanges.contract.trading import (
    FillCursor,
    OrderRequest,
    OrderType,
    Support,
    TimeInForce,
    TrailingOffset,
    VenueOrderStatus,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.resilience import CircuitBreaker, RetryPolicy

SYMBOLS = {"BTC-USD": "BTC/USD"}
CID = "0f8b4a52-8e8f-4b1e-9a0c-3c2d1e0f9a11"


def request(type_: OrderType = OrderType.LIMIT, **fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "symbol": "BTC/USD",
        "side": "buy",
        "type": type_,
        "client_order_id": CID,
        "quantity": Decimal("0.001"),
        "price": Decimal("10000.00"),
    }
    return OrderRequest(**{**base, **fields})


@pytest.mark.parametrize(
    ("order", "configuration"),
    [
        (
            request(OrderType.MARKET, price=None),
            {"market_market_ioc": {"base_size": "0.001"}},
        ),
        (
            request(OrderType.MARKET, price=None, quantity=None, quote_quantity=Decimal("10.50")),
            {"market_market_ioc": {"quote_size": "10.5"}},
        ),
        (
            request(post_only=True),
            {
                "limit_limit_gtc": {
                    "base_size": "0.001",
                    "limit_price": "10000",
                    "post_only": True,
                }
            },
        ),
        (
            request(
                time_in_force=TimeInForce.GTD,
                expire_time=datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
            ),
            {
                "limit_limit_gtd": {
                    "base_size": "0.001",
                    "limit_price": "10000",
                    "post_only": False,
                    "end_time": "2026-12-07T13:00:00.000000Z",
                }
            },
        ),
        (
            request(time_in_force=TimeInForce.IOC),
            {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "10000"}},
        ),
        (
            request(time_in_force=TimeInForce.FOK),
            {"limit_limit_fok": {"base_size": "0.001", "limit_price": "10000"}},
        ),
        (  # a sell stop-loss triggers on the way down
            request(OrderType.STOP_LIMIT, side="sell", stop_price=Decimal("9500")),
            {
                "stop_limit_stop_limit_gtc": {
                    "base_size": "0.001",
                    "limit_price": "10000",
                    "stop_price": "9500",
                    "stop_direction": "STOP_DIRECTION_STOP_DOWN",
                }
            },
        ),
        (  # a sell take-profit on the way up
            request(OrderType.TAKE_PROFIT_LIMIT, side="sell", stop_price=Decimal("11000")),
            {
                "stop_limit_stop_limit_gtc": {
                    "base_size": "0.001",
                    "limit_price": "10000",
                    "stop_price": "11000",
                    "stop_direction": "STOP_DIRECTION_STOP_UP",
                }
            },
        ),
        (  # a buy stop-loss on the way up
            request(OrderType.STOP_LIMIT, stop_price=Decimal("10500")),
            {
                "stop_limit_stop_limit_gtc": {
                    "base_size": "0.001",
                    "limit_price": "10000",
                    "stop_price": "10500",
                    "stop_direction": "STOP_DIRECTION_STOP_UP",
                }
            },
        ),
    ],
    ids=[
        "market-base",
        "market-quote",
        "post-only",
        "gtd",
        "ioc",
        "fok",
        "sell-stop",
        "sell-take-profit",
        "buy-stop",
    ],
)
def test_each_order_type_becomes_its_coinbase_configuration(
    order: OrderRequest, configuration: dict[str, Any]
) -> None:
    assert wire.order_configuration(order) == configuration


@pytest.mark.parametrize(
    "order",
    [
        request(OrderType.STOP_MARKET, price=None, stop_price=Decimal("9000")),
        request(OrderType.TAKE_PROFIT_MARKET, price=None, stop_price=Decimal("9000")),
        request(
            OrderType.TRAILING_STOP_MARKET,
            price=None,
            trailing=TrailingOffset(Decimal("100"), "bps"),
        ),
    ],
    ids=["stop-market", "take-profit-market", "trailing"],
)
def test_what_coinbase_has_no_native_form_of_is_not_supported(order: OrderRequest) -> None:
    with pytest.raises(NotSupported):
        wire.order_configuration(order)


@pytest.mark.parametrize(
    "fields",
    [
        {"reduce_only": True},
        {"time_in_force": TimeInForce.GTD},  # no expire time
        {"expire_time": datetime(2030, 1, 1, tzinfo=UTC)},  # not GTD
        {"type": OrderType.MARKET, "price": None, "quote_quantity": Decimal("5")},  # both sizes
        {"time_in_force": TimeInForce.IOC, "post_only": True},
        {"type": OrderType.STOP_LIMIT, "stop_price": None},
        {"type": OrderType.STOP_LIMIT, "stop_price": Decimal(1), "time_in_force": TimeInForce.IOC},
        {"quote_quantity": Decimal("5")},  # a limit sized in quote
    ],
)
def test_what_does_not_add_up_is_refused_before_sending(fields: dict[str, Any]) -> None:
    with pytest.raises(OrderRejected) as caught:
        wire.order_configuration(dataclasses.replace(request(), **fields))
    assert caught.value.reason is RejectReason.INVALID_ORDER
    assert caught.value.venue_code is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1E-8"), "0.00000001"), (Decimal("100.000"), "100"), (Decimal("0"), "0")],
)
def test_amounts_go_out_as_plain_digits(value: Decimal, text: str) -> None:
    assert wire.wire_decimal(value) == text


@pytest.mark.parametrize(
    ("error_response", "reason", "code"),
    [
        (
            {"error": "INSUFFICIENT_FUND", "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND"},
            RejectReason.INSUFFICIENT_FUNDS,
            "PREVIEW_INSUFFICIENT_FUND",
        ),
        (
            {
                "error": "INVALID_LIMIT_PRICE_POST_ONLY",
                "preview_failure_reason": "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
            },
            RejectReason.POST_ONLY_WOULD_TAKE,
            "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        ),
        (
            {
                "error": "INVALID_PRICE_PRECISION",
                "preview_failure_reason": "PREVIEW_INVALID_PRICE_PRECISION",
            },
            RejectReason.PRICE_FILTER,
            "PREVIEW_INVALID_PRICE_PRECISION",
        ),
        (
            {
                "error": "INVALID_SIZE_PRECISION",
                "preview_failure_reason": "PREVIEW_INVALID_SIZE_PRECISION",
            },
            RejectReason.LOT_SIZE,
            "PREVIEW_INVALID_SIZE_PRECISION",
        ),
        (
            {
                "error": "UNKNOWN_FAILURE_REASON",
                "preview_failure_reason": "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            },
            RejectReason.LOT_SIZE,
            "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
        ),
        (
            {
                "error": "UNKNOWN_FAILURE_REASON",
                "preview_failure_reason": "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
            },
            RejectReason.MIN_NOTIONAL,
            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
        ),
        (
            {
                "error": "UNKNOWN_FAILURE_REASON",
                "preview_failure_reason": "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
            },
            RejectReason.PRICE_FILTER,
            "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
        ),
        (
            {
                "error": "ORDER_ENTRY_DISABLED",
                "preview_failure_reason": "UNKNOWN_PREVIEW_FAILURE_REASON",
            },
            RejectReason.MARKET_CLOSED,
            "ORDER_ENTRY_DISABLED",
        ),
        (
            {"error": "INVALID_PRODUCT_ID", "preview_failure_reason": ""},
            RejectReason.UNKNOWN_SYMBOL,
            "INVALID_PRODUCT_ID",
        ),
        (
            {"error": "UNSUPPORTED_ORDER_CONFIGURATION"},
            RejectReason.INVALID_ORDER,
            "UNSUPPORTED_ORDER_CONFIGURATION",
        ),
        (
            {"error": "SOMETHING_NEW", "preview_failure_reason": "UNKNOWN_PREVIEW_FAILURE_REASON"},
            RejectReason.OTHER,
            "SOMETHING_NEW",
        ),
    ],
)
def test_every_refusal_the_simulator_sends_has_its_reason_and_keeps_its_code(
    error_response: dict[str, str], reason: RejectReason, code: str
) -> None:
    rejection = wire.refusal({**error_response, "message": "refused"})
    assert (rejection.reason, rejection.venue_code) == (reason, code)


@pytest.mark.parametrize(
    ("edit_failure_reason", "reason"),
    [
        ("ONLY_OPEN_ORDERS_CAN_BE_EDITED", RejectReason.ORDER_NOT_AMENDABLE),
        ("ONLY_LIMIT_ORDER_EDITS_SUPPORTED", RejectReason.ORDER_NOT_AMENDABLE),
        ("CANNOT_EDIT_TO_BELOW_FILLED_SIZE", RejectReason.ORDER_NOT_AMENDABLE),
        ("INVALID_EDITED_SIZE", RejectReason.LOT_SIZE),
        ("INVALID_EDITED_PRICE", RejectReason.PRICE_FILTER),
    ],
)
def test_edit_refusals_have_their_reasons(edit_failure_reason: str, reason: RejectReason) -> None:
    assert wire.reject_reason("UNKNOWN_PREVIEW_FAILURE_REASON", edit_failure_reason)[0] is reason
    # a commander refusal says why in its preview reason
    assert (
        wire.reject_reason("PREVIEW_INSUFFICIENT_FUND", "COMMANDER_REJECTED_EDIT_ORDER")[0]
        is RejectReason.INSUFFICIENT_FUNDS
    )


def rest_order(**fields: Any) -> dict[str, Any]:
    """An order as Coinbase's ``orders/historical/{id}`` documents it (trimmed)."""
    order = {
        "order_id": "0000-000000-000000",
        "product_id": "BTC-USD",
        "user_id": "2222-000000-000000",
        "order_configuration": {
            "limit_limit_gtc": {"base_size": "0.002", "limit_price": "10000", "post_only": False}
        },
        "side": "BUY",
        "client_order_id": CID,
        "status": "OPEN",
        "time_in_force": "GOOD_UNTIL_CANCELLED",
        "created_time": "2021-05-31T09:59:59.000Z",
        "completion_percentage": "50",
        "filled_size": "0.001",
        "average_filled_price": "9999.5",
        "number_of_fills": "2",
        "filled_value": "9.9995",
        "total_fees": "0.06",
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": "LIMIT",
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": False,
        "product_type": "SPOT",
        "last_fill_time": "2021-05-31T10:00:00.123456789Z",
    }
    return {**order, **fields}


def test_a_rest_order_parses_with_its_fill_state() -> None:
    order = wire.order(rest_order(), SYMBOLS)
    assert (order.symbol, order.side, order.type) == ("BTC/USD", "buy", OrderType.LIMIT)
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED  # OPEN with something filled
    assert (order.quantity, order.filled_quantity) == (Decimal("0.002"), Decimal("0.001"))
    assert (order.price, order.average_price) == (Decimal("10000"), Decimal("9999.5"))
    assert order.time_in_force is TimeInForce.GTC
    assert order.client_order_id == CID
    assert order.updated_time == datetime(2021, 5, 31, 10, 0, 0, 123456, tzinfo=UTC)
    assert order.sequence is None  # REST answers carry no sequence on Coinbase


@pytest.mark.parametrize(
    ("status", "trigger", "filled", "expected"),
    [
        ("OPEN", "INVALID_ORDER_TYPE", "0", VenueOrderStatus.OPEN),
        ("OPEN", "STOP_PENDING", "0", VenueOrderStatus.UNTRIGGERED),
        ("OPEN", "STOP_TRIGGERED", "0", VenueOrderStatus.OPEN),
        ("FILLED", "INVALID_ORDER_TYPE", "0.002", VenueOrderStatus.FILLED),
        ("CANCELLED", "INVALID_ORDER_TYPE", "0.001", VenueOrderStatus.CANCELED),
        ("EXPIRED", "INVALID_ORDER_TYPE", "0", VenueOrderStatus.EXPIRED),
        ("FAILED", "INVALID_ORDER_TYPE", "0", VenueOrderStatus.REJECTED),
    ],
)
def test_coinbase_statuses_read_as_the_platforms(
    status: str, trigger: str, filled: str, expected: VenueOrderStatus
) -> None:
    body = rest_order(status=status, trigger_status=trigger, filled_size=filled)
    assert wire.order(body, SYMBOLS).status is expected


def test_stop_limits_read_as_stop_loss_or_take_profit_by_direction_and_side() -> None:
    def stop(side: str, direction: str) -> OrderType:
        config = {
            "stop_limit_stop_limit_gtc": {
                "base_size": "0.001",
                "limit_price": "9000",
                "stop_price": "9500",
                "stop_direction": direction,
            }
        }
        return wire.order(rest_order(side=side, order_configuration=config), SYMBOLS).type

    assert stop("SELL", wire.STOP_DOWN) is OrderType.STOP_LIMIT
    assert stop("SELL", wire.STOP_UP) is OrderType.TAKE_PROFIT_LIMIT
    assert stop("BUY", wire.STOP_UP) is OrderType.STOP_LIMIT
    assert stop("BUY", wire.STOP_DOWN) is OrderType.TAKE_PROFIT_LIMIT


def test_a_quote_sized_market_order_has_no_base_quantity() -> None:
    body = rest_order(
        order_configuration={"market_market_ioc": {"quote_size": "10"}},
        status="FILLED",
        filled_size="0.001",
        time_in_force="IMMEDIATE_OR_CANCEL",
    )
    order = wire.order(body, SYMBOLS)
    assert (order.type, order.quantity, order.filled_quantity) == (
        OrderType.MARKET,
        None,
        Decimal("0.001"),
    )
    assert order.time_in_force is TimeInForce.IOC


def ws_order(**fields: Any) -> dict[str, Any]:
    """An order as the ``user`` channel sends it (Coinbase's documented fields)."""
    order = {
        "avg_price": "0",
        "cancel_reason": "",
        "client_order_id": CID,
        "completion_percentage": "0.00",
        "cumulative_quantity": "0",
        "filled_value": "0",
        "leaves_quantity": "0.002",
        "limit_price": "10000.00",
        "number_of_fills": "0",
        "order_id": "0000-000000-000000",
        "order_side": "BUY",
        "order_type": "Limit",
        "product_id": "BTC-USD",
        "status": "OPEN",
        "stop_price": "",
        "time_in_force": "GOOD_UNTIL_CANCELLED",
        "total_fees": "0",
        "trigger_status": "INVALID_ORDER_TYPE",
        "creation_time": "2024-01-01T00:00:00.123456Z",
        "end_time": "0001-01-01T00:00:00Z",
    }
    return {**order, **fields}


RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_user_channel_order_has_its_size_from_filled_and_leaves_while_open() -> None:
    body = ws_order(cumulative_quantity="0.0005", leaves_quantity="0.0015", avg_price="9999")
    order = wire.user_order(body, SYMBOLS, 7, None, None, RECEIVED)
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (order.quantity, order.filled_quantity) == (Decimal("0.002"), Decimal("0.0005"))
    assert (order.price, order.average_price, order.sequence) == (
        Decimal("10000.00"),
        Decimal("9999"),
        7,
    )
    assert order.stop_price is None
    assert order.created_time == datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_a_closed_user_channel_order_keeps_the_size_and_type_the_adapter_knew() -> None:
    canceled = ws_order(status="CANCELLED", leaves_quantity="0")
    known = wire.user_order(canceled, SYMBOLS, 9, Decimal("0.002"), None, RECEIVED)
    assert (known.status, known.quantity) == (VenueOrderStatus.CANCELED, Decimal("0.002"))
    unknown = wire.user_order(canceled, SYMBOLS, 9, None, None, RECEIVED)
    assert unknown.quantity is None  # not the zero the channel implies
    filled = ws_order(status="FILLED", cumulative_quantity="0.002", leaves_quantity="0")
    assert wire.user_order(filled, SYMBOLS, 9, None, None, RECEIVED).quantity == Decimal("0.002")
    stop = ws_order(order_type="Stop Limit", stop_price="11000", trigger_status="STOP_PENDING")
    taking = wire.user_order(stop, SYMBOLS, 9, None, OrderType.TAKE_PROFIT_LIMIT, RECEIVED)
    assert (taking.type, taking.status) == (
        OrderType.TAKE_PROFIT_LIMIT,
        VenueOrderStatus.UNTRIGGERED,
    )
    assert wire.user_order(stop, SYMBOLS, 9, None, None, RECEIVED).type is OrderType.STOP_LIMIT


def test_a_fill_has_its_fee_in_quote_and_its_liquidity() -> None:
    body = {
        "entry_id": "22222-2222222-22222222",
        "trade_id": "1111-11111-111111",
        "order_id": "0000-000000-000000",
        "trade_time": "2021-05-31T09:59:59.000Z",
        "trade_type": "FILL",
        "price": "10000.00",
        "size": "0.001",
        "commission": "0.06",
        "product_id": "BTC-USD",
        "sequence_timestamp": "2021-05-31T09:58:59.000Z",
        "liquidity_indicator": "MAKER",
        "size_in_quote": False,
        "user_id": "3333-333333-3333333",
        "side": "BUY",
    }
    fill = wire.fill(body, SYMBOLS, {"0000-000000-000000": CID})
    assert (fill.trade_id, fill.venue_order_id, fill.client_order_id) == (
        "1111-11111-111111",
        "0000-000000-000000",
        CID,
    )
    assert (fill.side, fill.price, fill.quantity) == ("buy", Decimal("10000.00"), Decimal("0.001"))
    assert (fill.fee, fill.fee_asset, fill.liquidity) == (Decimal("0.06"), "USD", "maker")
    assert fill.time == datetime(2021, 5, 31, 9, 59, 59, tzinfo=UTC)


def test_accounts_are_free_and_held_per_currency() -> None:
    accounts = [
        {
            "currency": "BTC",
            "available_balance": {"value": "1.23", "currency": "BTC"},
            "hold": {"value": "0.01", "currency": "BTC"},
        },
        {"currency": "USD", "available_balance": {"value": "0", "currency": "USD"}},
    ]
    rows = {b.asset: (b.free, b.locked) for b in wire.balances(accounts)}
    assert rows == {"BTC": (Decimal("1.23"), Decimal("0.01")), "USD": (Decimal(0), Decimal(0))}


def test_instrument_rules_come_from_the_product() -> None:
    product = {
        "product_id": "BTC-USD",
        "base_increment": "0.00000001",
        "quote_increment": "0.01",
        "price_increment": "0.01",
        "base_min_size": "0.00000001",
        "base_max_size": "3400",
        "quote_min_size": "1",
        "quote_max_size": "150000000",
        "status": "online",
        "trading_disabled": False,
        "base_currency_id": "BTC",
        "quote_currency_id": "USD",
        "product_type": "SPOT",
    }
    rules = wire.instrument_rules(product)
    assert (rules.symbol, rules.base, rules.quote) == ("BTC/USD", "BTC", "USD")
    assert (rules.tick_size, rules.lot_size) == (Decimal("0.01"), Decimal("0.00000001"))
    assert (rules.min_quantity, rules.max_quantity) == (Decimal("0.00000001"), Decimal("3400"))
    assert (rules.min_notional, rules.max_notional) == (Decimal("1"), Decimal("150000000"))
    assert (rules.trading, rules.amend, rules.post_only, rules.quote_quantity_market) == (
        True,
        True,
        True,
        True,
    )
    assert OrderType.STOP_MARKET not in rules.order_types
    assert TimeInForce.GTD in rules.time_in_force
    halted = wire.instrument_rules({**product, "status": "offline", "trading_disabled": True})
    assert not halted.trading


def test_coinbase_capabilities_say_what_is_native() -> None:
    assert CAPABILITIES.amend.native(quantity_down=True, quantity_up=True, price=True)
    assert CAPABILITIES.trailing_stop is Support.EMULATED
    assert CAPABILITIES.oco is Support.EMULATED
    assert CAPABILITIES.idempotent_client_order_id
    assert not CAPABILITIES.history_needs_symbol


@given(st.text(min_size=1, max_size=40))
def test_platform_client_ids_always_fit_coinbase(key: str) -> None:
    assert fits(
        client_order_id("account-1", key, CAPABILITIES.client_order_ids),
        CAPABILITIES.client_order_ids,
    )


def test_a_client_id_that_is_not_a_uuid_does_not_fit() -> None:
    for bad in ("has space", "x" * 37, "semi;colon", ""):
        assert not fits(bad, CAPABILITIES.client_order_ids)


def test_fill_cursors_carry_the_time_and_the_fills_read_at_it() -> None:
    moment = datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    cursor = _cursor("BTC/USD", moment, {("t2", "o1"), ("t1", "o2")})
    assert cursor == FillCursor("BTC/USD", "2024-01-01T00:00:00.500000Z|t1/o2,t2/o1")
    assert _parse_cursor(cursor) == (moment, {("t1", "o2"), ("t2", "o1")})
    assert _parse_cursor(FillCursor(None, "")) is None
    with pytest.raises(Exception, match="not a Coinbase fill cursor"):
        _parse_cursor(FillCursor(None, "|t1/o1"))


def answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=body,
        headers=headers or {},
        request=httpx.Request("POST", "https://api.coinbase.com/api/v3/brokerage/orders"),
    )


def test_coinbase_error_answers_are_the_platforms_errors() -> None:
    rest = CoinbaseRest(
        "https://api.coinbase.com",
        CircuitBreaker("test"),
        StreamHealth("coinbase"),
        RetryPolicy(attempts=1),
    )
    path = "/api/v3/brokerage/orders"
    refused = rest._error(
        path,
        answer(401, b"Unauthorized", {"WWW-Authenticate": 'Bearer error="invalid_token"'}),
    )
    assert isinstance(refused, CredentialRejected)
    limited = rest._error(path, answer(429, b'{"error":"rate limited"}', {"Retry-After": "2"}))
    assert isinstance(limited, RateLimited)
    assert limited.retry_after_s == 2.0
    denied = rest._error(
        path,
        answer(403, b'{"error":"PERMISSION_DENIED","message":"Missing required scopes"}'),
    )
    assert isinstance(denied, CoinbaseApiError)
    assert (denied.status, denied.error) == (403, "PERMISSION_DENIED")
    down = rest._error(path, answer(503, b'{"error":"INTERNAL","message":"x"}'))
    assert isinstance(down, TransientExchangeError)
    assert not isinstance(down, CoinbaseApiError)


def test_times_keep_microseconds_and_the_zero_time_is_none() -> None:
    assert wire.when("2024-01-01T00:00:00.123456789Z") == datetime(
        2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC
    )
    assert wire.when("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    assert wire.when("0001-01-01T00:00:00Z") is None
    assert wire.when("") is None
