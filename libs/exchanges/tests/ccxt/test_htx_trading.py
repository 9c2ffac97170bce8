"""HTX spot trading through unmodified ccxt, against a local server answering with HTX's
documented responses: the order ccxt builds and signs (checked against HTX's documented
signature version 2, computed here independently), Decimals parsed, refusals mapped."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qsl, quote

import pytest

from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import OrderRejected, RejectReason
from eip.exchanges.contract.trading import OrderRequest, OrderType, VenueOrderStatus
from eip.exchanges.htx.trading import CAPABILITIES, PROFILE

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("htx-key-5e5e", "htx-secret-0c0c")
NOW_MS = 1_700_000_000_000
NOW_UTC = "2023-11-14T22:13:20"
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("htx")).replace("CLIENTID", CID))
ROUTES = {
    "GET /v1/common/symbols": {"body": DATA["symbols"]},
    "GET /v1/account/accounts": {"body": DATA["accounts"]},
    "POST /v1/order/orders/place": {"body": DATA["place"]},
    "GET /v1/order/orders/356501383558845": {"body": DATA["order"]},
    "GET /v1/order/orders/getClientOrder": {"body": DATA["order"]},
}


def htx_sign(method: str, host: str, path: str, params: dict[str, str]) -> str:
    """HTX's documented signature v2: base64 HMAC-SHA256 of method, host, path and the
    parameters sorted by name and URL-encoded, joined by newlines."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items()))
    message = f"{method}\n{host}\n{path}\n{query}"
    digest = hmac.new(SECRET.secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client
    from eip.exchanges.ccxt.urls import rewrite_urls

    client = new_client("htx")
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    try:
        markets = await client.fetch_markets_by_type_and_sub_type("spot", None)
    finally:
        await client.close()
    return adapter_at(PROFILE, SECRET, url, markets, nonce=NOW_MS)


def limit_buy() -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USDT",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal("0.002"),
        price=Decimal("30000.01"),
    )


def signed_params(path_qs: str) -> tuple[dict[str, str], str]:
    params = dict(parse_qsl(path_qs.split("?", 1)[1]))
    return {k: v for k, v in params.items() if k != "Signature"}, params["Signature"]


async def test_a_limit_order_is_signed_with_htxs_documented_signature_v2() -> None:
    async with venue_server(ROUTES) as server:
        htx = await adapter(server.url)
        try:
            order = await htx.place_order(limit_buy())
            host = htx.client.hostname
        finally:
            await htx.close()
    sent = server.sent("POST", "/v1/order/orders/place")
    body = json.loads(sent.body)
    assert body["client-order-id"] == CID
    assert (body["symbol"], body["type"], body["amount"], body["price"]) == (
        "btcusdt",
        "buy-limit",
        "0.002",
        "30000.01",
    )
    assert body["account-id"] == "10000001"
    params, signature = signed_params(sent.path_qs)
    assert params == {
        "AccessKeyId": SECRET.api_key,
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": NOW_UTC,
    }
    assert signature == htx_sign("POST", host, "/v1/order/orders/place", params)
    assert order.venue_order_id == "356501383558845"
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("0.002")
    assert order.filled_quantity == Decimal("0.001")
    assert order.price == Decimal("30000.01")


async def test_an_order_is_looked_up_by_its_client_order_id() -> None:
    async with venue_server(ROUTES) as server:
        htx = await adapter(server.url)
        try:
            order = await htx.fetch_order("BTC/USDT", client_order_id=CID)
            host = htx.client.hostname
        finally:
            await htx.close()
    sent = server.sent("GET", "/v1/order/orders/getClientOrder")
    params, signature = signed_params(sent.path_qs)
    assert params["clientOrderId"] == CID
    assert signature == htx_sign("GET", host, "/v1/order/orders/getClientOrder", params)
    assert order.venue_order_id == "356501383558845"


async def test_rules_are_exact_decimals_from_htxs_precisions() -> None:
    async with venue_server(ROUTES) as server:
        htx = await adapter(server.url)
        await htx.close()
    rules = htx.rules()["BTC/USDT"]
    assert rules.tick_size == Decimal("0.01")
    assert rules.lot_size == Decimal("0.000001")
    assert rules.min_quantity == Decimal("0.0001")
    assert rules.min_notional == Decimal("5")
    assert not rules.amend


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("insufficient", RejectReason.INSUFFICIENT_FUNDS),
        ("min_value", RejectReason.MIN_NOTIONAL),
    ],
)
async def test_htx_refusals_map_to_reasons(body: str, reason: RejectReason) -> None:
    routes = {**ROUTES, "POST /v1/order/orders/place": {"body": DATA[body]}}
    async with venue_server(routes) as server:
        htx = await adapter(server.url)
        try:
            with pytest.raises(OrderRejected) as refused:
                await htx.place_order(limit_buy())
        finally:
            await htx.close()
    assert refused.value.reason is reason
    assert refused.value.venue_code == DATA[body]["err-code"]
