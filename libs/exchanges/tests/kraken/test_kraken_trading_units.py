"""Kraken trading payloads without a venue: Kraken's error strings as reject reasons (the whole
table), order parameters, REST orders and trades (fees back in the asset charged), the
WebSocket v2 ``executions`` items merged into one order's life, balances, pair rules, and the
API counter's arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.errors import NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.trading import (
    OrderRequest,
    OrderType,
    TimeInForce,
    TrailingOffset,
    VenueOrderStatus,
)
from eip.exchanges.kraken import trading_wire as wire
from eip.exchanges.kraken.rest import ApiCounter, KrakenRest, Nonces, decode
from eip.exchanges.kraken.trading import CAPABILITIES

D = Decimal
SYMBOLS = {"XBTUSDT": "BTC/USDT", "XXBTZUSD": "BTC/USD", "XBTUSD": "BTC/USD"}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        # every refusal the simulator's Kraken dialect gives an order, amend or cancel
        ("EOrder:Insufficient funds", RejectReason.INSUFFICIENT_FUNDS),
        ("EOrder:Order minimum not met", RejectReason.LOT_SIZE),
        ("EOrder:Cost minimum not met", RejectReason.MIN_NOTIONAL),
        ("EOrder:Tick size check failed", RejectReason.PRICE_FILTER),
        (
            "EOrder:Invalid price:XBTUSDT price can only be specified up to 2 decimals.",
            RejectReason.PRICE_FILTER,
        ),
        (
            "EOrder:Invalid price:trigger price would trigger immediately",
            RejectReason.INVALID_ORDER,
        ),
        ("EOrder:Post only order", RejectReason.POST_ONLY_WOULD_TAKE),
        ("EOrder:Rate limit exceeded", RejectReason.RATE_LIMITED),
        ("EOrder:Orders limit exceeded", RejectReason.OTHER),
        ("EGeneral:Permission denied", RejectReason.PERMISSION_DENIED),
        ("EGeneral:Invalid arguments:volume", RejectReason.LOT_SIZE),
        (
            "EGeneral:Invalid arguments:cl_ord_id already in use",
            RejectReason.DUPLICATE_CLIENT_ORDER_ID,
        ),
        ("EGeneral:Invalid arguments:ordertype", RejectReason.INVALID_ORDER),
        ("EGeneral:Invalid arguments", RejectReason.INVALID_ORDER),
        ("EService:Market in cancel_only mode", RejectReason.MARKET_CLOSED),
        ("EService:Market in post_only mode", RejectReason.MARKET_CLOSED),
        ("EQuery:Unknown asset pair", RejectReason.UNKNOWN_SYMBOL),
        ("EOrder:Invalid order:amend would change nothing", RejectReason.INVALID_ORDER),
        ("EOrder:Trading agreement required", RejectReason.PERMISSION_DENIED),
        ("EOrder:Margin allowance exceeded", RejectReason.INSUFFICIENT_FUNDS),
        ("EFunding:Unknown withdraw key", RejectReason.OTHER),
    ],
)
def test_krakens_errors_map_to_the_platforms_reasons(error: str, reason: RejectReason) -> None:
    assert wire.reject_reason(error) is reason


def test_every_table_entry_is_reachable_by_its_own_text() -> None:
    for error, reason in wire.REJECT_REASONS.items():
        assert wire.reject_reason(error) is reason


def request(**given: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": OrderType.LIMIT,
        "client_order_id": "abc123",
        "quantity": D("0.0100"),
        "price": D("1000.50"),
    }
    fields.update(given)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_order_parameters_for_each_kind_kraken_takes() -> None:
    assert wire.order_params(request(post_only=True), "XBTUSDT") == {
        "pair": "XBTUSDT",
        "type": "buy",
        "ordertype": "limit",
        "cl_ord_id": "abc123",
        "volume": "0.01",
        "price": "1000.5",
        "oflags": "post",
    }
    quote = wire.order_params(
        request(type=OrderType.MARKET, quantity=None, price=None, quote_quantity=D("30")),
        "XBTUSDT",
    )
    assert (quote["ordertype"], quote["volume"], quote["oflags"]) == ("market", "30", "viqc")
    stop_limit = wire.order_params(
        request(type=OrderType.STOP_LIMIT, side="sell", stop_price=D("900"), price=D("890")),
        "XBTUSDT",
    )
    assert (stop_limit["ordertype"], stop_limit["price"], stop_limit["price2"]) == (
        "stop-loss-limit",
        "900",
        "890",
    )
    trailing = wire.order_params(
        request(
            type=OrderType.TRAILING_STOP_MARKET,
            side="sell",
            price=None,
            trailing=TrailingOffset(D("100"), "bps"),
        ),
        "XBTUSDT",
    )
    assert (trailing["ordertype"], trailing["price"]) == ("trailing-stop", "+1%")
    by_price = wire.order_params(
        request(
            type=OrderType.TRAILING_STOP_MARKET,
            side="sell",
            price=None,
            trailing=TrailingOffset(D("50"), "price"),
        ),
        "XBTUSDT",
    )
    assert by_price["price"] == "+50"
    ioc = wire.order_params(request(time_in_force=TimeInForce.IOC), "XBTUSDT")
    assert ioc["timeinforce"] == "IOC"
    gtd = wire.order_params(
        request(time_in_force=TimeInForce.GTD, expire_time=datetime(2030, 1, 1, tzinfo=UTC)),
        "XBTUSDT",
    )
    assert gtd["expiretm"] == "1893456000"


@pytest.mark.parametrize(
    "given",
    [
        {"time_in_force": TimeInForce.FOK},
        {"type": OrderType.MARKET, "price": None, "side": "sell", "quote_quantity": D("1")},
        {"post_only": True, "time_in_force": TimeInForce.IOC},
        {"type": OrderType.STOP_MARKET, "price": None},
        {"reduce_only": True},
        {"time_in_force": TimeInForce.GTD},
    ],
)
def test_orders_kraken_cannot_take_are_refused_before_sending(given: dict[str, object]) -> None:
    if given.get("type") is OrderType.MARKET:
        given = {**given, "quantity": None}
    with pytest.raises(OrderRejected) as caught:
        wire.order_params(request(**given), "XBTUSDT")
    assert caught.value.reason is RejectReason.INVALID_ORDER
    assert caught.value.venue_code is None


def test_trailing_stops_with_an_activation_price_are_the_platforms_to_emulate() -> None:
    with pytest.raises(NotSupported):
        wire.order_params(
            request(
                type=OrderType.TRAILING_STOP_MARKET,
                price=None,
                stop_price=D("900"),
                trailing=TrailingOffset(D("100"), "bps"),
            ),
            "XBTUSDT",
        )


def rest_order(**given: object) -> dict[str, object]:
    """An order entry as Kraken's OpenOrders/ClosedOrders/QueryOrders write it."""
    entry: dict[str, object] = {
        "refid": None,
        "userref": None,
        "cl_ord_id": "abc123",
        "status": "open",
        "opentm": D("1765100000.123"),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": "XBTUSDT",
            "type": "buy",
            "ordertype": "limit",
            "price": "1000.00",
            "price2": "0",
            "order": "buy 0.03000000 XBTUSDT @ limit 1000.00",
        },
        "vol": "0.03000000",
        "vol_exec": "0.01000000",
        "cost": "10.00000000",
        "fee": "0.00001000",
        "price": "1000.00",
        "stopprice": "0.00",
        "limitprice": "0.00",
        "oflags": "fcib",
    }
    entry.update(given)
    return entry


def test_a_rest_order_entry_reads_as_the_contracts_order() -> None:
    order = wire.order("OUF4EM-FRGI2-MQMWZD", rest_order(), SYMBOLS)
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (order.symbol, order.side, order.type) == ("BTC/USDT", "buy", OrderType.LIMIT)
    assert (order.quantity, order.filled_quantity, order.price) == (D("0.03"), D("0.01"), D(1000))
    assert order.remaining_quantity == D("0.02")
    assert order.client_order_id == "abc123"
    assert order.sequence == 1_765_100_000_123_000  # microseconds of the open time
    closed = wire.order(
        "OUF4EM-FRGI2-MQMWZD",
        rest_order(status="closed", vol_exec="0.03000000", closetm=D("1765100001.5")),
        SYMBOLS,
    )
    assert closed.status is VenueOrderStatus.FILLED
    assert closed.sequence is not None
    assert order.sequence is not None
    assert closed.update_key() > order.update_key()


def test_a_conditional_order_open_with_nothing_filled_is_untriggered() -> None:
    stop = wire.order(
        "O1",
        rest_order(
            vol_exec="0",
            descr={"pair": "XBTUSDT", "type": "sell", "ordertype": "stop-loss", "price": "900.00"},
            stopprice="900.00",
        ),
        SYMBOLS,
    )
    assert (stop.status, stop.type, stop.stop_price) == (
        VenueOrderStatus.UNTRIGGERED,
        OrderType.STOP_MARKET,
        D(900),
    )
    assert stop.price is None
    assert stop.average_price is None
    trailing = wire.order(
        "O2",
        rest_order(
            vol_exec="0",
            descr={"pair": "XBTUSDT", "type": "sell", "ordertype": "trailing-stop", "price": "+1%"},
            stopprice="1089.00",
        ),
        SYMBOLS,
    )
    assert (trailing.type, trailing.stop_price) == (OrderType.TRAILING_STOP_MARKET, D(1089))
    quote_sized = wire.order(
        "O3",
        rest_order(
            descr={"pair": "XBTUSDT", "type": "buy", "ordertype": "market", "price": "0"},
            oflags="fcib,viqc",
        ),
        SYMBOLS,
    )
    assert quote_sized.quantity is None  # 30 USDT, not 30 BTC


def test_a_trades_fee_is_given_back_in_the_asset_the_order_paid_it_in() -> None:
    row = {
        "ordertxid": "OUF4EM-FRGI2-MQMWZD",
        "pair": "XBTUSDT",
        "time": D("1765100000.5"),
        "type": "buy",
        "ordertype": "market",
        "price": "1000.00",
        "cost": "20.00000000",
        "fee": "0.02000000",  # in USDT, as TradesHistory always says
        "vol": "0.02000000",
        "trade_id": 41,
        "maker": False,
    }
    bought = wire.trade("TKH2SE-M7IF5-CFI7LT", row, SYMBOLS, "abc123", base_fee=True)
    assert (bought.fee, bought.fee_asset) == (D("0.00002"), "BTC")
    assert (bought.trade_id, bought.liquidity, bought.client_order_id) == ("41", "taker", "abc123")
    sold = wire.trade("TKH2SE-M7IF5-CFI7LU", {**row, "type": "sell"}, SYMBOLS, None, False)
    assert (sold.fee, sold.fee_asset, sold.side) == (D("0.02"), "USDT", "sell")


def ws(text: str) -> dict[str, object]:
    parsed = decode(text)
    assert isinstance(parsed, dict)
    return parsed


def test_executions_items_build_one_orders_life_and_its_fills() -> None:
    pending = ws(
        '{"order_id":"O1","exec_type":"pending_new","order_status":"pending_new",'
        '"timestamp":"2026-12-07T12:00:00.100000Z","order_userref":0,"cl_ord_id":"abc123",'
        '"symbol":"BTC/USDT","side":"buy","order_type":"limit","time_in_force":"GTC",'
        '"order_qty":0.03000,"limit_price":1000.00,"exec_id":"E1"}'
    )
    order, fill = wire.execution(pending, None)
    assert order is not None
    assert fill is None
    assert (order.status, order.quantity, order.price) == (
        VenueOrderStatus.OPEN,
        D("0.03"),
        D(1000),
    )
    assert order.time_in_force is TimeInForce.GTC
    short_new = ws(
        '{"order_id":"O1","exec_type":"new","order_status":"new",'
        '"timestamp":"2026-12-07T12:00:00.100000Z","order_userref":0,"cl_ord_id":"abc123"}'
    )
    again, _ = wire.execution(short_new, order)
    assert again is not None
    assert again.update_key() == order.update_key()
    trade = ws(
        '{"order_id":"O1","exec_type":"trade","order_status":"partially_filled",'
        '"timestamp":"2026-12-07T12:00:01.000000Z","cl_ord_id":"abc123","trade_id":7,'
        '"exec_id":"T1","last_qty":0.01000,"last_price":1000.00,"liquidity_ind":"m",'
        '"fees":[{"asset":"BTC","qty":0.00001000}],"cum_qty":0.01000,"avg_price":1000.00}'
    )
    partly, first = wire.execution(trade, again)
    assert partly is not None
    assert first is not None
    assert partly.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (partly.quantity, partly.filled_quantity) == (D("0.03"), D("0.01"))
    assert partly.update_key() > order.update_key()
    assert (first.trade_id, first.quantity, first.fee, first.fee_asset, first.liquidity) == (
        "7",
        D("0.01"),
        D("0.00001"),
        "BTC",
        "maker",
    )
    amended = ws(
        '{"order_id":"O1","exec_type":"amended","order_status":"partially_filled",'
        '"timestamp":"2026-12-07T12:00:02.000000Z","order_qty":0.02000,"cum_qty":0.01000}'
    )
    smaller, _ = wire.execution(amended, partly)
    assert smaller is not None
    assert smaller.quantity == D("0.02")
    canceled = ws(
        '{"order_id":"O1","exec_type":"canceled","order_status":"canceled",'
        '"timestamp":"2026-12-07T12:00:03.000000Z","cum_qty":0.01000,'
        '"cancel_reason":"User requested"}'
    )
    gone, _ = wire.execution(canceled, smaller)
    assert gone is not None
    assert (gone.status, gone.reason, gone.client_order_id) == (
        VenueOrderStatus.CANCELED,
        "User requested",
        "abc123",
    )
    # an item about an order never seen, with too little to build it: the caller reads it
    assert wire.execution(canceled, None) == (None, None)


def test_balances_are_free_and_locked_per_wallet() -> None:
    rows = wire.balances(
        {
            "XXBT": {"balance": "1.5000000000", "hold_trade": "0.5000000000"},
            "ZUSD": {
                "balance": "100.0000",
                "hold_trade": "0.0000",
                "credit": "10",
                "credit_used": "4",
            },
            "DOT.S": {"balance": "3.0000000000", "hold_trade": "0"},
        }
    )
    by_key = {(b.asset, b.wallet): (b.free, b.locked) for b in rows}
    assert by_key == {
        ("BTC", "spot"): (D(1), D("0.5")),
        ("USD", "spot"): (D(106), D(0)),
        ("DOT", "staked"): (D(3), D(0)),
    }


def test_pair_rules_and_names_from_asset_pairs() -> None:
    pairs: dict[str, dict[str, Any]] = {
        "XBTUSDT": {
            "altname": "XBTUSDT",
            "wsname": "XBT/USDT",
            "base": "XXBT",
            "quote": "USDT",
            "pair_decimals": 2,
            "lot_decimals": 5,
            "ordermin": "0.00001",
            "costmin": "5",
            "tick_size": "0.01",
            "status": "cancel_only",
        },
        "XBTUSDT.d": {"altname": "XBTUSDT.d"},  # dark pool: no WebSocket name, left out
    }
    rules = wire.instrument_rules(pairs["XBTUSDT"])
    assert (rules.symbol, rules.tick_size, rules.lot_size) == ("BTC/USDT", D("0.01"), D("0.00001"))
    assert (rules.min_quantity, rules.min_notional, rules.trading) == (D("0.00001"), D(5), False)
    assert OrderType.TRAILING_STOP_MARKET in rules.order_types
    assert OrderType.TRAILING_STOP_LIMIT not in rules.order_types
    to_symbol, to_pair = wire.pair_names(pairs)
    assert to_symbol == {"XBTUSDT": "BTC/USDT", "XBT/USDT": "BTC/USDT"}
    assert to_pair == {"BTC/USDT": "XBTUSDT"}


def test_the_platforms_client_order_ids_fit_kraken() -> None:
    rules = CAPABILITIES.client_order_ids
    made = client_order_id("account-1", "idempotency-key", rules)
    assert len(made) == 18
    assert made.isalnum()
    assert fits(made, rules)
    assert not fits("x" * 19, rules)
    assert not fits("has space", rules)


def test_the_api_counter_decays_and_is_filled_when_kraken_says_so() -> None:
    counter = ApiCounter.of_tier("starter")
    assert (counter.maximum, counter.decay_per_s) == (15, 0.33)
    assert counter.headroom() == 1
    assert counter.saturate() == pytest.approx(1 / 0.33)
    assert counter.headroom() < 0.01
    with pytest.raises(ValueError, match="Kraken tiers are"):
        ApiCounter.of_tier("diamond")


async def test_the_api_counter_waits_rather_than_pass_the_maximum() -> None:
    counter = ApiCounter(maximum=2, decay_per_s=100)
    for _ in range(6):
        await counter.acquire("Balance")  # 1 each
        assert counter.level() <= 2
    await counter.acquire("TradesHistory")  # 2
    assert counter.level() <= 2
    before = counter.level()
    await counter.acquire("AddOrder")  # order entry is the trading counter's: free here
    assert counter.level() <= before


def test_nonces_only_go_up() -> None:
    nonces = Nonces()
    drawn = [nonces.next() for _ in range(1000)]
    assert drawn == sorted(set(drawn))


def test_krakens_error_array_is_the_refusal_and_transport_errors_are_shared_ones() -> None:
    from eip.exchanges.contract.errors import RateLimited, TransientExchangeError
    from eip.exchanges.kraken.rest import KrakenApiError, KrakenDeadline
    from eip.exchanges.machinery.health import StreamHealth
    from eip.resilience import CircuitBreaker, RetryPolicy

    rest = KrakenRest(
        "http://unused",
        ApiCounter.of_tier("starter"),
        CircuitBreaker("unit"),
        StreamHealth("kraken", 30),
        RetryPolicy(attempts=1),
    )
    assert rest._decode("/0/public/Time", b'{"error":[],"result":{"unixtime":1}}') == {
        "unixtime": 1
    }
    cases = [
        ("EOrder:Insufficient funds", KrakenApiError),
        ("EAPI:Rate limit exceeded", RateLimited),
        ("EAPI:Invalid nonce", TransientExchangeError),
        ("EService:Unavailable", TransientExchangeError),
        ("EService:Deadline elapsed", KrakenDeadline),
    ]
    for error, kind in cases:
        with pytest.raises(kind):
            rest._decode("/0/private/AddOrder", f'{{"error":["{error}"]}}'.encode())
