"""OKX trading through unmodified ccxt, against a local server answering with OKX's documented
and recorded responses: the requests ccxt builds and signs (checked against OKX's documented
signature, computed here independently), the orders, fills, balances and rules parsed to exact
Decimals, and OKX's refusals mapped to the contract's errors."""

from __future__ import annotations

import base64
import decimal
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import (
    CredentialRejected,
    NotSupported,
    OrderRejected,
    OutcomeUnknown,
    RejectReason,
    TransientExchangeError,
)
from eip.exchanges.contract.trading import (
    FillCursor,
    OrderRequest,
    OrderType,
    VenueOrderStatus,
)
from eip.exchanges.okx.trading import CAPABILITIES, PROFILE

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("okx-key-4f2a", "okx-secret-9b1c", passphrase="okx-pass-77")
NOW_MS = 1_700_000_000_000
NOW_ISO = "2023-11-14T22:13:20.000Z"
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("okx")).replace("CLIENTID", CID))


def okx_sign(timestamp: str, method: str, path_qs: str, body: str) -> str:
    """OKX's documented signature: base64 HMAC-SHA256 of timestamp + method + path + body."""
    message = f"{timestamp}{method}{path_qs}{body}".encode()
    return base64.b64encode(
        hmac.new(SECRET.secret.encode(), message, hashlib.sha256).digest()
    ).decode()


def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client

    market = new_client("okx").parse_market(DATA["instrument"])
    return adapter_at(PROFILE, SECRET, url, [market], nonce=NOW_MS)


def limit_buy() -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USDT",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal("0.005"),
        price=Decimal("51858.1"),
    )


ROUTES = {
    "POST /api/v5/trade/batch-orders": {"body": DATA["place"]},
    "GET /api/v5/trade/order": {"body": DATA["order"]},
}


async def test_a_limit_order_is_sent_as_okx_documents_it_signed_with_the_documented_hmac() -> None:
    async with venue_server(ROUTES) as server:
        okx = adapter(server.url)
        order = await okx.place_order(limit_buy())
        await okx.close()
    sent = server.sent("POST", "/api/v5/trade/batch-orders")
    # ccxt sends single orders through batch-orders (OKX's larger rate limit), a list of one
    assert json.loads(sent.body) == [
        {
            "instId": "BTC-USDT",
            "tdMode": "cash",
            "side": "buy",
            "ordType": "limit",
            "sz": "0.005",
            "tgtCcy": "base_ccy",  # sized in BTC
            "px": "51858.1",
            "clOrdId": CID,
        }
    ]
    assert sent.headers["OK-ACCESS-KEY"] == SECRET.api_key
    assert sent.headers["OK-ACCESS-PASSPHRASE"] == SECRET.passphrase
    assert sent.headers["OK-ACCESS-TIMESTAMP"] == NOW_ISO
    assert sent.headers["OK-ACCESS-SIGN"] == okx_sign(
        NOW_ISO, "POST", "/api/v5/trade/batch-orders", sent.body
    )
    read_back = server.sent("GET", "/api/v5/trade/order")
    assert read_back.path_qs == "/api/v5/trade/order?instId=BTC-USDT&ordId=312269865356374016"
    assert read_back.headers["OK-ACCESS-SIGN"] == okx_sign(NOW_ISO, "GET", read_back.path_qs, "")
    assert order.venue_order_id == "312269865356374016"
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("0.005")
    assert order.filled_quantity == Decimal("0.00192834")
    assert order.price == Decimal("51858.1")
    assert order.average_price == Decimal("51858")
    assert order.sequence == 1708587373362


async def test_a_placement_leaves_the_callers_decimal_context_as_it_was() -> None:
    """ccxt's price/amount formatting sets its caller's decimal context to ROUND_HALF_UP; the
    adapter runs every ccxt call in a context of its own (ccxt/decimal_context.py)."""
    before = decimal.getcontext()
    assert before.rounding == decimal.ROUND_HALF_EVEN
    async with venue_server(ROUTES) as server:
        okx = adapter(server.url)
        await okx.place_order(limit_buy())
        await okx.close()
    assert decimal.getcontext() is before
    assert before.rounding == decimal.ROUND_HALF_EVEN
    assert not before.traps[decimal.Underflow]


async def test_the_secret_is_on_the_ccxt_client_only_while_a_call_is_in_flight() -> None:
    async with venue_server(ROUTES) as server:
        okx = adapter(server.url)
        assert okx.client.secret == ""
        assert okx.client.password == ""
        await okx.place_order(limit_buy())
        assert okx.client.secret == ""
        assert okx.client.password == ""
        assert okx.client.apiKey == ""
        await okx.close()
    assert okx._secrets.handed_out == 2  # type: ignore[attr-defined]  # placement, read-back


async def test_an_order_is_looked_up_by_its_client_order_id() -> None:
    async with venue_server(ROUTES) as server:
        okx = adapter(server.url)
        order = await okx.fetch_order("BTC/USDT", client_order_id=CID)
        await okx.close()
    sent = server.sent("GET", "/api/v5/trade/order")
    assert sent.path_qs == f"/api/v5/trade/order?instId=BTC-USDT&clOrdId={CID}"
    assert order.venue_order_id == "312269865356374016"


async def test_an_amend_sends_the_new_total_size_and_keeps_the_ids() -> None:
    routes = {**ROUTES, "POST /api/v5/trade/amend-order": {"body": DATA["amend"]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        order = await okx.amend_order("BTC/USDT", client_order_id=CID, quantity=Decimal("0.004"))
        await okx.close()
    sent = server.sent("POST", "/api/v5/trade/amend-order")
    body = json.loads(sent.body)
    assert body["newSz"] == "0.004"
    assert body["ordId"] == "312269865356374016"
    assert "newPx" not in body
    assert sent.headers["OK-ACCESS-SIGN"] == okx_sign(
        NOW_ISO, "POST", "/api/v5/trade/amend-order", sent.body
    )
    assert order.venue_order_id == "312269865356374016"


async def test_fills_parse_to_exact_decimals_with_the_fee_paid_and_resume_after_the_cursor() -> (
    None
):
    routes = {"GET /api/v5/trade/fills-history": {"body": DATA["fills"]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        page = await okx.fetch_fills("BTC/USDT")
        again = await okx.fetch_fills("BTC/USDT", page.next_cursor)
        await okx.close()
    [fill] = page.fills
    assert fill.trade_id == "744876980"
    assert fill.venue_order_id == "312269865356374016"
    assert fill.price == Decimal("51858")
    assert fill.quantity == Decimal("0.00192834")
    assert fill.fee == Decimal("0.00000192834")
    assert fill.fee_asset == "BTC"
    assert fill.liquidity == "taker"
    assert again.fills == []  # the same fill is not delivered twice
    assert isinstance(page.next_cursor, FillCursor)


async def test_balances_keep_every_digit_okx_sent() -> None:
    routes = {"GET /api/v5/account/balance": {"body": DATA["balance"]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        [btc] = await okx.fetch_balances()
        await okx.close()
    assert btc.asset == "BTC"
    assert btc.free == Decimal("0.6612664522199999")
    # ccxt derives locked as total (eq) minus free (availBal), exactly on OKX's strings; the
    # recorded body's frozenBal says 0.4 and its availBal carries OKX's own float digits
    assert btc.locked == Decimal("1.06126645222") - Decimal("0.6612664522199999")
    assert btc.total == Decimal("1.06126645222")


def test_rules_come_from_okx_instruments() -> None:
    okx = adapter("http://127.0.0.1:9")
    rules = okx.rules()["BTC/USDT"]
    assert rules.tick_size == Decimal("0.1")
    assert rules.lot_size == Decimal("0.00000001")
    assert rules.min_quantity == Decimal("0.00001")
    assert rules.post_only
    assert rules.quote_quantity_market
    assert rules.amend


@pytest.mark.parametrize(
    ("body", "reason", "code"),
    [
        ("insufficient", RejectReason.INSUFFICIENT_FUNDS, "51008"),
        ("lot", RejectReason.LOT_SIZE, "51121"),
    ],
)
async def test_okx_refusals_are_rejections_with_a_reason(
    body: str, reason: RejectReason, code: str
) -> None:
    routes = {"POST /api/v5/trade/batch-orders": {"body": DATA[body]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        with pytest.raises(OrderRejected) as refused:
            await okx.place_order(limit_buy())
        await okx.close()
    assert refused.value.reason is reason
    assert refused.value.venue_code == code
    assert SECRET.secret not in str(refused.value)


async def test_a_refused_key_is_a_credential_rejection() -> None:
    routes = {"POST /api/v5/trade/batch-orders": {"status": 401, "body": DATA["bad_key"]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        with pytest.raises(CredentialRejected):
            await okx.place_order(limit_buy())
        await okx.close()


async def test_a_placement_refused_for_load_is_a_rate_limited_rejection_not_an_unknown() -> None:
    routes = {
        "POST /api/v5/trade/batch-orders": {
            "status": 429,
            "body": DATA["rate_limited"],
            "headers": {"Retry-After": "2"},
        }
    }
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        with pytest.raises(OrderRejected) as refused:
            await okx.place_order(limit_buy())
        await okx.close()
    assert refused.value.reason is RejectReason.RATE_LIMITED
    assert refused.value.retry_after_s == 2.0


async def test_a_placement_whose_answer_never_came_is_outcome_unknown_and_sent_once() -> None:
    routes = {"POST /api/v5/trade/batch-orders": {"hang": True}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        okx.client.timeout = 300
        with pytest.raises(OutcomeUnknown):
            await okx.place_order(limit_buy())
        await okx.close()
    assert [r.method for r in server.requests] == ["POST"]  # never retried


async def test_a_placement_that_could_not_connect_is_transient_not_unknown() -> None:
    okx = adapter("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(TransientExchangeError) as failed:
        await okx.place_order(limit_buy())
    await okx.close()
    assert not isinstance(failed.value, OutcomeUnknown)


async def test_conditional_orders_and_oco_are_left_to_the_platform() -> None:
    okx = adapter("http://127.0.0.1:9")
    stop = OrderRequest(
        symbol="BTC/USDT",
        side="sell",
        type=OrderType.STOP_MARKET,
        client_order_id=CID,
        quantity=Decimal("0.005"),
        stop_price=Decimal("50000"),
    )
    with pytest.raises(NotSupported):
        await okx.place_order(stop)
    await okx.close()


async def test_a_cancel_by_client_id_is_signed_and_answers_the_order_as_it_is_now() -> None:
    routes = {**ROUTES, "POST /api/v5/trade/cancel-order": {"body": DATA["cancel"]}}
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        try:
            order = await okx.cancel_order("BTC/USDT", client_order_id=CID)
        finally:
            await okx.close()
    sent = server.sent("POST", "/api/v5/trade/cancel-order")
    assert json.loads(sent.body) == {"instId": "BTC-USDT", "clOrdId": CID}
    assert sent.headers["OK-ACCESS-SIGN"] == okx_sign(
        NOW_ISO, "POST", "/api/v5/trade/cancel-order", sent.body
    )
    assert order.client_order_id == CID


async def test_cancelling_an_order_that_already_filled_answers_it_filled_not_an_error() -> None:
    routes = {
        "POST /api/v5/trade/cancel-order": {"body": DATA["cancel_completed"]},
        "GET /api/v5/trade/order": {"body": DATA["order_filled"]},
    }
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        try:
            order = await okx.cancel_order("BTC/USDT", venue_order_id="312269865356374016")
        finally:
            await okx.close()
    assert order.status is VenueOrderStatus.FILLED
    assert order.filled_quantity == Decimal("0.005")
    assert order.average_price == Decimal("51858.05")


async def test_open_and_closed_orders_are_read_and_sorted_by_update() -> None:
    routes = {
        "GET /api/v5/trade/orders-pending": {"body": DATA["order"]},
        "GET /api/v5/trade/orders-history": {"body": DATA["order_filled"]},
    }
    async with venue_server(routes) as server:
        okx = adapter(server.url)
        try:
            [open_order] = await okx.fetch_open_orders("BTC/USDT")
            since = datetime(2024, 2, 22, tzinfo=UTC)
            [closed] = await okx.fetch_closed_orders("BTC/USDT", since)
        finally:
            await okx.close()
    assert open_order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert closed.status is VenueOrderStatus.FILLED
    history = server.sent("GET", "/api/v5/trade/orders-history")
    assert "instType=SPOT" in history.path_qs
    assert "instId=BTC-USDT" in history.path_qs
    assert history.headers["OK-ACCESS-SIGN"] == okx_sign(NOW_ISO, "GET", history.path_qs, "")


async def test_a_quote_sized_market_buy_spends_the_quote_amount_as_okx_documents() -> None:
    async with venue_server(ROUTES) as server:
        okx = adapter(server.url)
        try:
            await okx.place_order(
                OrderRequest(
                    symbol="BTC/USDT",
                    side="buy",
                    type=OrderType.MARKET,
                    client_order_id=CID,
                    quote_quantity=Decimal("100.5"),
                )
            )
        finally:
            await okx.close()
    [sent] = json.loads(server.sent("POST", "/api/v5/trade/batch-orders").body)
    assert (sent["ordType"], sent["side"], sent["sz"], sent["tgtCcy"]) == (
        "market",
        "buy",
        "100.5",
        "quote_ccy",
    )
    assert sent["clOrdId"] == CID
