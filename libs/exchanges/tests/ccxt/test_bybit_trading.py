"""Bybit (v5, unified account) trading through unmodified ccxt, against a local server answering
with Bybit's documented responses: the order ccxt builds and signs (checked against Bybit's
documented signature, computed here independently), Decimals parsed, refusals mapped."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from eip.exchanges.bybit.trading import CAPABILITIES, PROFILE
from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import OrderRejected, OutcomeUnknown, RejectReason
from eip.exchanges.contract.trading import OrderRequest, OrderType, VenueOrderStatus

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("bybit-key-1c9e", "bybit-secret-55d0")
NOW_MS = 1_700_000_000_000
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("bybit")).replace("CLIENTID", CID))
ROUTES = {
    "GET /v5/market/instruments-info": {"body": DATA["instruments"]},
    "POST /v5/order/create": {"body": DATA["place"]},
    "GET /v5/order/realtime": {"body": DATA["order"]},
}


def bybit_sign(timestamp: str, recv_window: str, payload: str) -> str:
    """Bybit v5's documented HMAC: hex HMAC-SHA256 of timestamp + key + recv window + payload
    (the JSON body of a POST, the query string of a GET)."""
    message = f"{timestamp}{SECRET.api_key}{recv_window}{payload}".encode()
    return hmac.new(SECRET.secret.encode(), message, hashlib.sha256).hexdigest()


async def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client
    from eip.exchanges.ccxt.urls import rewrite_urls

    client = new_client("bybit")
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    try:
        markets = await client.fetch_spot_markets({})
    finally:
        await client.close()
    return adapter_at(PROFILE, SECRET, url, markets, nonce=NOW_MS)


def limit_buy(quantity: str = "0.002") -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USDT",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal(quantity),
        price=Decimal("30000.5"),
    )


async def test_a_limit_order_is_sent_as_bybit_documents_it_signed_with_the_documented_hmac() -> (
    None
):
    async with venue_server(ROUTES) as server:
        bybit = await adapter(server.url)
        try:
            order = await bybit.place_order(limit_buy())
        finally:
            await bybit.close()
    sent = server.sent("POST", "/v5/order/create")
    body = json.loads(sent.body)
    assert body == {
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "category": "spot",
        "qty": "0.002",
        "price": "30000.5",
        "orderLinkId": CID,
    } | {k: v for k, v in body.items() if k in ("timeInForce",)}
    assert sent.headers["X-BAPI-API-KEY"] == SECRET.api_key
    assert sent.headers["X-BAPI-TIMESTAMP"] == str(NOW_MS)
    window = sent.headers["X-BAPI-RECV-WINDOW"]
    assert sent.headers["X-BAPI-SIGN"] == bybit_sign(str(NOW_MS), window, sent.body)
    read_back = server.sent("GET", "/v5/order/realtime")
    query = read_back.path_qs.split("?", 1)[1]
    assert "orderId=1321003749386327552" in query
    assert read_back.headers["X-BAPI-SIGN"] == bybit_sign(str(NOW_MS), window, query)
    assert order.venue_order_id == "1321003749386327552"
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("0.002")
    assert order.filled_quantity == Decimal("0.0005")
    assert order.average_price == Decimal("30000.5")
    assert order.sequence == 1672211918520


async def test_an_order_is_looked_up_by_its_order_link_id() -> None:
    async with venue_server(ROUTES) as server:
        bybit = await adapter(server.url)
        try:
            order = await bybit.fetch_order("BTC/USDT", client_order_id=CID)
        finally:
            await bybit.close()
    sent = server.sent("GET", "/v5/order/realtime")
    assert sent.path_qs == f"/v5/order/realtime?category=spot&symbol=BTCUSDT&orderLinkId={CID}"
    assert order.client_order_id == CID


async def test_rules_and_balances_are_exact_decimals() -> None:
    routes = {**ROUTES, "GET /v5/account/wallet-balance": {"body": DATA["balance"]}}
    async with venue_server(routes) as server:
        bybit = await adapter(server.url)
        try:
            balances = await bybit.fetch_balances()
        finally:
            await bybit.close()
    rules = bybit.rules()["BTC/USDT"]
    assert rules.tick_size == Decimal("0.01")
    assert rules.lot_size == Decimal("0.000001")
    assert rules.min_quantity == Decimal("0.000048")
    assert rules.min_notional == Decimal("1")
    [btc] = balances
    assert btc.asset == "BTC"
    assert btc.total == Decimal("0.12")
    assert btc.locked == Decimal("0.0004")
    assert btc.free == Decimal("0.1196")


async def test_a_quantity_off_the_lot_step_is_refused_before_sending() -> None:
    async with venue_server(ROUTES) as server:
        bybit = await adapter(server.url)
        try:
            with pytest.raises(OrderRejected) as refused:
                await bybit.place_order(limit_buy("0.0020005"))
        finally:
            await bybit.close()
    assert refused.value.reason is RejectReason.LOT_SIZE
    assert not [r for r in server.requests if r.method == "POST"]


async def test_insufficient_balance_is_a_rejection_and_creation_timeout_an_unknown_outcome() -> (
    None
):
    async with venue_server(ROUTES) as server:
        bybit = await adapter(server.url)
        try:
            server.routes["POST /v5/order/create"] = {"body": DATA["insufficient"]}
            with pytest.raises(OrderRejected) as refused:
                await bybit.place_order(limit_buy())
            server.routes["POST /v5/order/create"] = {"body": DATA["timeout"]}
            with pytest.raises(OutcomeUnknown):
                await bybit.place_order(limit_buy())
        finally:
            await bybit.close()
    assert refused.value.reason is RejectReason.INSUFFICIENT_FUNDS
    assert refused.value.venue_code == "170131"


async def test_a_cancel_by_order_link_id_names_it_as_bybit_documents() -> None:
    cancelled = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"orderId": "1321003749386327552", "orderLinkId": CID},
        "retExtInfo": {},
        "time": 1672217377164,
    }
    routes = {**ROUTES, "POST /v5/order/cancel": {"body": cancelled}}
    async with venue_server(routes) as server:
        bybit = await adapter(server.url)
        try:
            order = await bybit.cancel_order("BTC/USDT", client_order_id=CID)
        finally:
            await bybit.close()
    sent = server.sent("POST", "/v5/order/cancel")
    body = json.loads(sent.body)
    assert body["orderLinkId"] == CID
    assert "orderId" not in body
    assert body["category"] == "spot"
    window = sent.headers["X-BAPI-RECV-WINDOW"]
    assert sent.headers["X-BAPI-SIGN"] == bybit_sign(str(NOW_MS), window, sent.body)
    assert order.client_order_id == CID
