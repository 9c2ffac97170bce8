"""The BitMEX trading adapter without BitMEX: requests built and signed as BitMEX checks them,
recorded answers parsed, refusals mapped — over real HTTP and WebSocket to a local stand-in
(``eip.testing.bitmex_venue``) that serves recorded bodies (``payloads/bitmex/trading``, sources
in ``payloads/README.md``) through the same code as live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from eip.exchanges.bitmex.private_stream import Tables
from eip.exchanges.bitmex.trading import PAGE, BitmexTradingAdapter, create_adapter
from eip.exchanges.bitmex.trading_wire import (
    CLIENT_ORDER_IDS,
    CURRENCY_UNITS,
    contract,
    order_params,
    reject_reason,
)
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.errors import (
    CredentialRejected,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RejectReason,
)
from eip.exchanges.contract.trading import (
    BalanceUpdate,
    FillEvent,
    OrderRequest,
    OrderType,
    OrderUpdate,
    PrivateEvent,
    StreamResumed,
    TimeInForce,
    TrailingOffset,
    VenueOrderStatus,
)
from eip.exchanges.registry import create_trading_adapter
from eip.resilience import RetryPolicy
from eip.testing.bitmex_venue import BitmexVenue, SchemeSigner, Seen

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex" / "trading"
CID = client_order_id("acct-1", "idem-1", CLIENT_ORDER_IDS)
ERRORS: dict[str, dict[str, Any]] = BitmexVenue(PAYLOADS).payload("errors.json")
RECORDED: dict[str, dict[str, Any]] = BitmexVenue(PAYLOADS).payload("orders_recorded.json")


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[BitmexVenue]:
    double = BitmexVenue(PAYLOADS)
    await double.start()
    yield double
    await double.close()


@pytest_asyncio.fixture
async def adapter(venue: BitmexVenue) -> AsyncIterator[BitmexTradingAdapter]:
    made = create_adapter(
        SchemeSigner(),
        base_url=venue.url,
        timeout_s=0.5,
        retry_policy=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02),
        reconnect_policy=RetryPolicy(attempts=100, base_delay_s=0.05, max_delay_s=0.1),
    )
    yield made
    await made.close()


def request(type_: OrderType = OrderType.LIMIT, **fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "type": type_,
        "client_order_id": CID,
        "quantity": Decimal("0.002"),
        "price": Decimal("42000"),
    }
    return OrderRequest(**{**base, **fields})


def open_row(**fields: Any) -> dict[str, Any]:
    """The order the stream's recorded insert shows, as REST answers it."""
    row = {
        "orderID": "3f1c2b7e-9d4a-4e5b-8c6d-7a8b9c0d1e2f",
        "clOrdID": CID,
        "account": 395724,
        "symbol": "XBTUSDT",
        "side": "Sell",
        "orderQty": 2000,
        "price": 42000,
        "stopPx": None,
        "pegPriceType": "",
        "ordType": "Limit",
        "timeInForce": "GoodTillCancel",
        "execInst": "",
        "ordStatus": "New",
        "leavesQty": 2000,
        "cumQty": 0,
        "avgPx": None,
        "text": "Submitted via API.",
        "transactTime": "2024-11-25T10:30:00.000Z",
        "timestamp": "2024-11-25T10:30:00.000Z",
    }
    return {**row, **fields}


# -- rules and quantities -------------------------------------------------------------------


async def test_rules_count_base_quantities_and_leave_out_inverse_contracts(
    adapter: BitmexTradingAdapter,
) -> None:
    rules = await adapter.load_rules()
    assert set(rules) == {"BTC/USDT", "BTC/USDT:USDT"}  # XBTUSD (inverse) is not listed
    spot, linear = rules["BTC/USDT"], rules["BTC/USDT:USDT"]
    assert spot.lot_size == Decimal("0.00001")  # 1000 satoshi contracts
    assert spot.max_quantity == Decimal("100")
    assert linear.lot_size == Decimal("0.001")  # 1000 contracts of a millionth BTC
    assert linear.max_quantity == Decimal("1000")
    assert linear.tick_size == Decimal("0.5")
    assert linear.amend
    assert linear.post_only
    assert not linear.quote_quantity_market


def test_quantities_convert_exactly_and_a_fraction_of_a_contract_is_refused() -> None:
    rows = BitmexVenue(PAYLOADS).payload("instruments_active.json")
    spot = contract(rows[0])
    assert spot is not None
    assert spot.to_contracts(Decimal("0.0001")) == 10_000  # as ccxt's recorded request sends
    assert spot.to_base(Decimal(10_000)) == Decimal("0.0001")
    with pytest.raises(OrderRejected) as refused:
        spot.to_contracts(Decimal("0.000000001"))
    assert refused.value.reason is RejectReason.LOT_SIZE
    assert contract(rows[2]) is None  # inverse


def test_client_order_ids_fit_bitmex() -> None:
    assert fits(CID, CLIENT_ORDER_IDS)
    assert len(CID) == 36


# -- order parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            request(OrderType.MARKET, price=None, side="buy"),
            {"side": "Buy", "orderQty": "2000", "ordType": "Market"},
        ),
        (
            request(),
            {"ordType": "Limit", "price": "42000", "timeInForce": "GoodTillCancel"},
        ),
        (
            request(post_only=True),
            {"ordType": "Limit", "execInst": "ParticipateDoNotInitiate"},
        ),
        (
            request(time_in_force=TimeInForce.FOK, reduce_only=True),
            {"timeInForce": "FillOrKill", "execInst": "ReduceOnly"},
        ),
        (
            request(OrderType.STOP_MARKET, price=None, stop_price=Decimal("41000.5")),
            {"ordType": "Stop", "stopPx": "41000.5"},
        ),
        (
            request(OrderType.STOP_LIMIT, stop_price=Decimal("41000"), price=Decimal("40990")),
            {"ordType": "StopLimit", "stopPx": "41000", "price": "40990"},
        ),
        (
            request(OrderType.TAKE_PROFIT_MARKET, price=None, stop_price=Decimal("45000")),
            {"ordType": "MarketIfTouched", "stopPx": "45000"},
        ),
        (
            request(
                OrderType.TRAILING_STOP_MARKET,
                price=None,
                trailing=TrailingOffset(Decimal("100"), "price"),
            ),
            # a sell's trigger trails below the price
            {"ordType": "Stop", "pegPriceType": "TrailingStopPeg", "pegOffsetValue": "-100"},
        ),
    ],
)
def test_orders_become_bitmex_parameters(order: OrderRequest, expected: dict[str, str]) -> None:
    rows = BitmexVenue(PAYLOADS).payload("instruments_active.json")
    found = contract(rows[1])
    assert found is not None
    params = order_params(order, found)
    assert params["symbol"] == "XBTUSDT"
    assert params["clOrdID"] == CID
    for name, value in expected.items():
        assert params[name] == value, name
    assert ("price" in params) == order.type.has_limit_price


@pytest.mark.parametrize(
    "order",
    [
        request(time_in_force=TimeInForce.GTD, expire_time=datetime(2026, 12, 8, tzinfo=UTC)),
        request(OrderType.MARKET, price=None, quantity=None, quote_quantity=Decimal("50")),
        request(
            OrderType.TRAILING_STOP_MARKET, price=None, trailing=TrailingOffset(Decimal(50), "bps")
        ),
        request(
            OrderType.TRAILING_STOP_MARKET,
            price=None,
            trailing=TrailingOffset(Decimal(100), "price"),
            stop_price=Decimal("43000"),
        ),
        request(symbol="BTC/USDT", reduce_only=True, quantity=Decimal("0.0001")),
    ],
)
def test_what_bitmex_cannot_say_is_not_supported(order: OrderRequest) -> None:
    rows = BitmexVenue(PAYLOADS).payload("instruments_active.json")
    found = contract(rows[0] if order.symbol == "BTC/USDT" else rows[1])
    assert found is not None
    with pytest.raises(NotSupported):
        order_params(order, found)


# -- REST: placement, answers, refusals ---------------------------------------------------


async def test_a_placement_is_signed_as_bitmex_checks_it_and_its_recorded_answer_parsed(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    answer = RECORDED["spot_limit_if_touched_open"]
    venue.routes[("POST", "/api/v1/order")] = lambda _: (200, answer)
    order = await adapter.place_order(
        request(
            OrderType.TAKE_PROFIT_LIMIT,
            symbol="BTC/USDT",
            side="buy",
            quantity=Decimal("0.0001"),
            price=Decimal("36000"),
            stop_price=Decimal("36944"),
        )
    )
    [sent] = venue.seen("POST", "/api/v1/order")
    assert sent.signed  # hex HMAC-SHA256 of verb + path + expires + body, the body as sent
    # ccxt's recorded request for the same order carries the same fields
    assert sent.form == {
        "symbol": "XBT_USDT",
        "side": "Buy",
        "orderQty": "10000",
        "ordType": "LimitIfTouched",
        "clOrdID": CID,
        "timeInForce": "GoodTillCancel",
        "price": "36000",
        "stopPx": "36944",
    }
    assert order.status is VenueOrderStatus.UNTRIGGERED
    assert (order.quantity, order.filled_quantity) == (Decimal("0.0001"), Decimal(0))
    assert (order.price, order.stop_price) == (Decimal(36000), Decimal(36944))
    assert order.type is OrderType.TAKE_PROFIT_LIMIT
    assert order.created_time == datetime(2023, 11, 19, 17, 10, 36, 824000, tzinfo=UTC)


def test_recorded_filled_orders_read_in_base_quantities() -> None:
    rows = BitmexVenue(PAYLOADS).payload("instruments_active.json")
    contracts = {c.venue_symbol: c for c in map(contract, rows) if c is not None}
    from eip.exchanges.bitmex.trading_wire import order

    spot = order(RECORDED["spot_market_filled"], contracts)
    assert (spot.symbol, spot.side, spot.status) == ("BTC/USDT", "sell", VenueOrderStatus.FILLED)
    assert (spot.quantity, spot.filled_quantity) == (Decimal("0.0001"), Decimal("0.0001"))
    assert spot.average_price == Decimal(30557)
    assert spot.client_order_id is None  # placed without one
    assert spot.time_in_force is TimeInForce.IOC
    swap = order(RECORDED["swap_market_filled"], contracts)
    assert (swap.symbol, swap.quantity) == ("BTC/USDT:USDT", Decimal("0.001"))
    assert swap.sequence == 1655725852376000


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("insufficient_balance", RejectReason.INSUFFICIENT_FUNDS),
        ("duplicate_clordid", RejectReason.DUPLICATE_CLIENT_ORDER_ID),
        ("invalid_qty", RejectReason.LOT_SIZE),
        ("access_denied", RejectReason.PERMISSION_DENIED),
        ("rate_limited", RejectReason.RATE_LIMITED),
        ("overloaded", RejectReason.RATE_LIMITED),  # load shedding: refused unqueued
    ],
)
async def test_a_refused_placement_is_rejected_with_its_reason_and_sent_once(
    venue: BitmexVenue, adapter: BitmexTradingAdapter, error: str, reason: RejectReason
) -> None:
    answer = ERRORS[error]
    venue.routes[("POST", "/api/v1/order")] = lambda _: (
        answer["status"],
        answer["body"],
        answer.get("headers", {}),
    )
    with pytest.raises(OrderRejected) as refused:
        await adapter.place_order(request())
    assert refused.value.reason is reason
    assert len(venue.seen("POST", "/api/v1/order")) == 1
    if error == "rate_limited":
        assert refused.value.retry_after_s == 1.0
    if error == "overloaded":
        assert refused.value.retry_after_s == 0.5


@pytest.mark.parametrize("error", ["service_unavailable", "server_error"])
async def test_a_5xx_after_a_placement_left_is_an_unknown_outcome(
    venue: BitmexVenue, adapter: BitmexTradingAdapter, error: str
) -> None:
    answer = ERRORS[error]
    venue.routes[("POST", "/api/v1/order")] = lambda _: (answer["status"], answer["body"])
    with pytest.raises(OutcomeUnknown):
        await adapter.place_order(request())
    assert len(venue.seen("POST", "/api/v1/order")) == 1


async def test_a_placement_whose_answer_never_comes_is_an_unknown_outcome(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    async def slow(_: Seen) -> tuple[int, Any]:
        await asyncio.sleep(2)
        return 200, open_row()

    venue.routes[("POST", "/api/v1/order")] = slow
    with pytest.raises(OutcomeUnknown):
        await adapter.place_order(request())
    assert len(venue.seen("POST", "/api/v1/order")) == 1


@pytest.mark.parametrize("error", ["invalid_api_key", "signature_not_valid", "key_disabled"])
async def test_a_refused_key_is_a_credential_rejection(
    venue: BitmexVenue, adapter: BitmexTradingAdapter, error: str
) -> None:
    answer = ERRORS[error]
    venue.routes[("GET", "/api/v1/user/margin")] = lambda _: (answer["status"], answer["body"])
    with pytest.raises(CredentialRejected):
        await adapter.fetch_balances()


async def test_a_post_only_order_bitmex_canceled_because_it_would_take_is_rejected(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    canceled = open_row(
        ordStatus="Canceled",
        execInst="ParticipateDoNotInitiate",
        leavesQty=0,
        text="Canceled: Order had execInst of ParticipateDoNotInitiate\nSubmitted via API.",
    )
    venue.routes[("POST", "/api/v1/order")] = lambda _: (200, canceled)
    with pytest.raises(OrderRejected) as refused:
        await adapter.place_order(request(post_only=True))
    assert refused.value.reason is RejectReason.POST_ONLY_WOULD_TAKE


async def test_cancelling_a_closed_order_answers_it_as_it_is(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    filled = open_row(
        ordStatus="Filled",
        leavesQty=0,
        cumQty=2000,
        avgPx=42000,
        error="Unable to cancel order due to existing state: Filled",
    )
    venue.routes[("DELETE", "/api/v1/order")] = lambda _: (200, [filled])
    order = await adapter.cancel_order("BTC/USDT:USDT", client_order_id=CID)
    assert order.status is VenueOrderStatus.FILLED
    [sent] = venue.seen("DELETE", "/api/v1/order")
    assert sent.form == {"clOrdID": CID}
    assert sent.signed


async def test_an_order_bitmex_does_not_know_is_not_found_by_client_id(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    venue.routes[("GET", "/api/v1/order")] = lambda _: (200, [])
    with pytest.raises(OrderNotFound):
        await adapter.fetch_order("BTC/USDT:USDT", client_order_id=CID)
    [sent] = venue.seen("GET", "/api/v1/order")
    assert sent.query["filter"] == f'{{"clOrdID":"{CID}"}}'
    assert sent.signed


async def test_an_amend_changes_quantity_and_price_in_place(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    amended = open_row(orderQty=3000, leavesQty=3000, price=41500)
    venue.routes[("PUT", "/api/v1/order")] = lambda _: (200, amended)
    order = await adapter.amend_order(
        "BTC/USDT:USDT", client_order_id=CID, quantity=Decimal("0.003"), price=Decimal("41500")
    )
    [sent] = venue.seen("PUT", "/api/v1/order")
    assert sent.form == {"origClOrdID": CID, "orderQty": "3000", "price": "41500"}
    assert (order.quantity, order.price, order.client_order_id) == (
        Decimal("0.003"),
        Decimal(41500),
        CID,
    )


async def test_amending_a_filled_order_is_not_amendable(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    answer = ERRORS["invalid_ordstatus"]
    venue.routes[("PUT", "/api/v1/order")] = lambda _: (answer["status"], answer["body"])
    filled = open_row(ordStatus="Filled", leavesQty=0, cumQty=2000, avgPx=42000)
    venue.routes[("GET", "/api/v1/order")] = lambda _: (200, [filled])
    with pytest.raises(OrderRejected) as refused:
        await adapter.amend_order("BTC/USDT:USDT", client_order_id=CID, price=Decimal(41000))
    assert refused.value.reason is RejectReason.ORDER_NOT_AMENDABLE


async def test_fills_read_in_base_quantities_with_fees_in_the_settlement_asset(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    executions = venue.payload("executions.json")
    venue.routes[("GET", "/api/v1/execution/tradeHistory")] = lambda seen: (
        200,
        executions[int(seen.query.get("start", "0")) :],
    )
    page = await adapter.fetch_fills(None)
    maker, taker = page.fills  # the funding row is no fill
    assert (maker.quantity, maker.price, maker.fee, maker.fee_asset) == (
        Decimal("0.001"),
        Decimal(42000),
        Decimal("0.0084"),
        "USDT",
    )
    assert (maker.liquidity, taker.liquidity) == ("maker", "taker")
    assert taker.fee == Decimal("0.0315")
    assert maker.client_order_id == "pLATFORMcid0000000000000000000001"
    assert maker.trade_id == "00000000-006d-1000-0000-001a2b3c4d01"
    [first] = venue.seen("GET", "/api/v1/execution/tradeHistory")
    assert first.query["reverse"] == "false"
    assert first.signed
    # resuming at the cursor reads from the last fill's time and drops what was read
    again = await adapter.fetch_fills(None, page.next_cursor)
    assert again.fills == []
    assert again.next_cursor == page.next_cursor
    assert venue.seen("GET", "/api/v1/execution/tradeHistory")[-1].query["startTime"] == (
        "2024-11-25T12:35:01.123Z"
    )


@pytest.mark.parametrize("limit", [None, 1])
async def test_fills_after_a_whole_page_of_funding_rows_are_read(
    venue: BitmexVenue, adapter: BitmexTradingAdapter, limit: int | None
) -> None:
    _, funding, trade = venue.payload("executions.json")
    rows = [funding] * PAGE + [trade]  # a page with no trade at all: every position's funding
    venue.routes[("GET", "/api/v1/execution/tradeHistory")] = lambda seen: (
        200,
        rows[int(seen.query["start"]) :][: int(seen.query["count"])],
    )
    page = await adapter.fetch_fills(None, limit=limit)
    assert [f.trade_id for f in page.fills] == [trade["trdMatchID"]]
    assert len(venue.seen("GET", "/api/v1/execution/tradeHistory")) == 2
    assert (await adapter.fetch_fills(None, page.next_cursor, limit)).fills == []


async def test_balances_are_free_and_locked_from_the_margin_rows(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    margin = venue.payload("margin.json")
    venue.routes[("GET", "/api/v1/user/margin")] = lambda _: (200, margin)
    balances = {b.asset: b for b in await adapter.fetch_balances()}
    assert set(balances) == {"BTC", "USDT"}  # LAMp: a unit this adapter does not know
    assert (balances["BTC"].free, balances["BTC"].locked) == (
        Decimal("0.99994411"),
        Decimal("0.00010769"),
    )
    assert (balances["USDT"].free, balances["USDT"].locked) == (
        Decimal("999.5401"),
        Decimal("0.42"),
    )
    assert venue.seen("GET", "/api/v1/user/margin")[0].query == {"currency": "all"}


def test_refusal_texts_map_to_reasons() -> None:
    assert reject_reason("Invalid ordStatus") is RejectReason.ORDER_NOT_AMENDABLE
    assert reject_reason("Invalid price tickSize") is RejectReason.PRICE_FILTER
    assert reject_reason("Something new") is RejectReason.OTHER
    assert CURRENCY_UNITS["XBt"] == ("BTC", Decimal(100_000_000))


def test_the_registry_builds_the_bitmex_adapter() -> None:
    made = create_trading_adapter("bitmex", SchemeSigner(), base_url="http://127.0.0.1:1")
    assert isinstance(made, BitmexTradingAdapter)
    assert made.stream.url == "ws://127.0.0.1:1/realtime"


# -- the private stream -------------------------------------------------------------------


def test_table_updates_merge_into_the_rows_the_partial_gave() -> None:
    tables = Tables()
    tables.apply({"table": "order", "action": "partial", "keys": ["orderID"], "data": []})
    [inserted] = tables.apply(
        {"table": "order", "action": "insert", "data": [open_row(orderID="a")]}
    )
    assert inserted["ordStatus"] == "New"
    [updated] = tables.apply(
        {"table": "order", "action": "update", "data": [{"orderID": "a", "cumQty": 1000}]}
    )
    assert (updated["cumQty"], updated["side"], updated["orderQty"]) == (1000, "Sell", 2000)
    [done] = tables.apply(
        {"table": "order", "action": "update", "data": [{"orderID": "a", "ordStatus": "Filled"}]}
    )
    assert done["side"] == "Sell"
    # a closed order leaves the kept table: a later update has only what it carries
    [late] = tables.apply(
        {"table": "order", "action": "update", "data": [{"orderID": "a", "text": "x"}]}
    )
    assert "side" not in late


async def next_events(events: AsyncIterator[PrivateEvent], n: int) -> list[PrivateEvent]:
    return [await asyncio.wait_for(anext(events), 5) for _ in range(n)]


async def test_the_private_stream_authenticates_and_turns_table_messages_into_events(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    unseen = open_row(
        orderID="0d0d0d0d-1111-4222-8333-444455556666",
        clOrdID="",
        ordStatus="Canceled",
        leavesQty=0,
        timestamp="2024-11-25T12:40:00.000Z",
    )
    venue.routes[("GET", "/api/v1/order")] = lambda _: (200, [unseen])
    events = adapter.private_events()
    try:
        got = await next_events(events, 7)
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    assert venue.ws_auth_ok == [True]  # authKeyExpires signed over GET/realtime + expires
    snapshot, opened, margin, fill, partial, filled, canceled = got
    assert isinstance(snapshot, BalanceUpdate)
    assert snapshot.snapshot
    assert [(b.asset, b.free, b.locked) for b in snapshot.balances] == [
        ("USDT", Decimal(1000), Decimal(0))
    ]
    assert isinstance(opened, OrderUpdate)
    assert (opened.order.status, opened.order.quantity) == (VenueOrderStatus.OPEN, Decimal("0.002"))
    assert isinstance(margin, BalanceUpdate)
    assert not margin.snapshot
    assert [(b.free, b.locked) for b in margin.balances] == [(Decimal("999.16"), Decimal("0.84"))]
    assert isinstance(fill, FillEvent)
    assert (fill.fill.quantity, fill.fill.fee, fill.fill.liquidity) == (
        Decimal("0.001"),
        Decimal("0.0084"),
        "maker",
    )
    # updates carry only what changed: merged with the insert, the order is whole
    assert isinstance(partial, OrderUpdate)
    assert partial.order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (partial.order.side, partial.order.quantity, partial.order.client_order_id) == (
        "sell",
        Decimal("0.002"),
        "pLATFORMcid0000000000000000000001",
    )
    assert isinstance(filled, OrderUpdate)
    assert filled.order.status is VenueOrderStatus.FILLED
    assert filled.order.average_price == Decimal("42000.25")
    assert filled.order.update_key() > partial.order.update_key()
    # an update of an order the table never held is read over REST
    assert isinstance(canceled, OrderUpdate)
    assert canceled.order.venue_order_id == "0d0d0d0d-1111-4222-8333-444455556666"
    assert canceled.order.status is VenueOrderStatus.CANCELED
    assert venue.seen("GET", "/api/v1/order")[0].signed


async def test_a_dropped_stream_catches_up_over_rest_before_resuming(
    venue: BitmexVenue, adapter: BitmexTradingAdapter
) -> None:
    venue.ws_frames = venue.ws_frames[:9]  # up to the order's insert
    venue.drop_after_frames = True
    filled = open_row(
        ordStatus="Filled",
        leavesQty=0,
        cumQty=2000,
        avgPx=42000.25,
        timestamp="2024-11-25T12:35:01.123Z",
    )
    executions = venue.payload("executions.json")
    margin = venue.payload("margin.json")
    venue.routes[("GET", "/api/v1/order")] = lambda seen: (
        200,
        [] if "open" in seen.query.get("filter", "") else [filled],
    )
    venue.routes[("GET", "/api/v1/execution/tradeHistory")] = lambda _: (200, executions)
    venue.routes[("GET", "/api/v1/user/margin")] = lambda _: (200, margin)
    events = adapter.private_events()
    seen: list[PrivateEvent] = []
    try:
        while not any(isinstance(e, StreamResumed) for e in seen):
            seen.append(await asyncio.wait_for(anext(events), 10))
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    assert venue.ws_connections == 2
    caught_up = seen[seen.index(next(e for e in seen if isinstance(e, OrderUpdate))) + 1 :]
    kinds = [type(e).__name__ for e in caught_up]
    # fills first, then the order as it is now, the balances, and only then StreamResumed
    assert kinds == [
        "FillEvent",
        "FillEvent",
        "OrderUpdate",
        "BalanceUpdate",
        "StreamResumed",
    ], kinds
    closed = caught_up[2]
    assert isinstance(closed, OrderUpdate)
    assert closed.order.status is VenueOrderStatus.FILLED
