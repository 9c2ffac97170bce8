"""KuCoin (classic account, HF spot) trading through unmodified ccxt, against a local server
answering with KuCoin's documented responses: the order ccxt builds and signs (checked against
KuCoin's documented API key v2 signature and signed passphrase, computed here independently),
Decimals parsed, refusals mapped."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import CredentialRejected, OrderRejected, RejectReason
from eip.exchanges.contract.trading import OrderRequest, OrderType, VenueOrderStatus
from eip.exchanges.kucoin.trading import CAPABILITIES, PROFILE

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("kucoin-key-0a77", "kucoin-secret-3e1f", passphrase="kucoin-pass-12")
NOW_MS = 1_700_000_000_000
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("kucoin")).replace("CLIENTID", CID))
ORDER_ID = "670fd33bf9406e0007ab3945"
ROUTES = {
    "GET /api/v2/symbols": {"body": DATA["symbols"]},
    "GET /api/v1/market/allTickers": {"body": DATA["tickers"]},
    "GET /api/v1/contracts/active": {"body": {"code": "200000", "data": []}},
    "POST /api/v1/hf/orders": {"body": DATA["place"]},
    f"GET /api/v1/hf/orders/{ORDER_ID}": {"body": DATA["order"]},
    f"GET /api/v1/hf/orders/client-order/{CID}": {"body": DATA["order"]},
}


def kucoin_b64(message: str) -> str:
    digest = hmac.new(SECRET.secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client
    from eip.exchanges.ccxt.urls import rewrite_urls

    client = new_client("kucoin")
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    try:
        markets = await client.fetch_markets()
    finally:
        await client.close()
    return adapter_at(PROFILE, SECRET, url, markets, nonce=NOW_MS)


def limit_buy() -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USDT",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal("0.00002"),
        price=Decimal("50000"),
    )


async def test_a_limit_order_is_signed_with_kucoins_documented_v2_signature() -> None:
    async with venue_server(ROUTES) as server:
        kucoin = await adapter(server.url)
        try:
            order = await kucoin.place_order(limit_buy())
        finally:
            await kucoin.close()
    sent = server.sent("POST", "/api/v1/hf/orders")
    body = json.loads(sent.body)
    assert body["clientOid"] == CID
    assert body["symbol"] == "BTC-USDT"
    assert (body["side"], body["type"], body["size"], body["price"]) == (
        "buy",
        "limit",
        "0.00002",
        "50000",
    )
    assert sent.headers["KC-API-KEY"] == SECRET.api_key
    assert sent.headers["KC-API-TIMESTAMP"] == str(NOW_MS)
    assert sent.headers["KC-API-KEY-VERSION"] == "2"
    assert sent.headers["KC-API-PASSPHRASE"] == kucoin_b64(str(SECRET.passphrase))
    assert sent.headers["KC-API-SIGN"] == kucoin_b64(f"{NOW_MS}POST/api/v1/hf/orders{sent.body}")
    assert order.venue_order_id == ORDER_ID
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("0.00002")
    assert order.filled_quantity == Decimal("0.00001")
    assert order.average_price == Decimal("50000")


async def test_an_order_is_looked_up_by_its_client_oid() -> None:
    async with venue_server(ROUTES) as server:
        kucoin = await adapter(server.url)
        try:
            order = await kucoin.fetch_order("BTC/USDT", client_order_id=CID)
        finally:
            await kucoin.close()
    sent = server.sent("GET", f"/api/v1/hf/orders/client-order/{CID}")
    assert sent.headers["KC-API-SIGN"] == kucoin_b64(f"{NOW_MS}GET{sent.path_qs}")
    assert order.venue_order_id == ORDER_ID


async def test_rules_and_balances_are_exact_decimals() -> None:
    routes = {**ROUTES, "GET /api/v1/accounts": {"body": DATA["accounts"]}}
    async with venue_server(routes) as server:
        kucoin = await adapter(server.url)
        try:
            balances = {b.asset: b for b in await kucoin.fetch_balances()}
        finally:
            await kucoin.close()
    assert server.sent("GET", "/api/v1/accounts").path_qs == "/api/v1/accounts?type=trade_hf"
    rules = kucoin.rules()["BTC/USDT"]
    assert rules.tick_size == Decimal("0.1")
    assert rules.lot_size == Decimal("0.00000001")
    assert rules.min_quantity == Decimal("0.00001")
    assert rules.min_notional == Decimal("0.1")
    assert not rules.amend  # KuCoin's alter is a cancel-replace under a new id
    assert balances["BTC"].free == Decimal("0.00999")
    assert balances["BTC"].locked == Decimal("0.00001")
    assert balances["USDT"].free == Decimal("26.66759503")


async def test_insufficient_balance_is_a_rejection_and_a_bad_passphrase_a_credential_refusal() -> (
    None
):
    async with venue_server(ROUTES) as server:
        kucoin = await adapter(server.url)
        try:
            server.routes["POST /api/v1/hf/orders"] = {"body": DATA["insufficient"]}
            with pytest.raises(OrderRejected) as refused:
                await kucoin.place_order(limit_buy())
            server.routes["POST /api/v1/hf/orders"] = {
                "status": 401,
                "body": DATA["bad_passphrase"],
            }
            with pytest.raises(CredentialRejected) as bad:
                await kucoin.place_order(limit_buy())
        finally:
            await kucoin.close()
    assert refused.value.reason is RejectReason.INSUFFICIENT_FUNDS
    assert refused.value.venue_code == "200004"
    assert str(SECRET.passphrase) not in str(bad.value)


async def test_an_amend_is_left_to_the_platforms_cancel_replace_and_nothing_is_changed() -> None:
    from eip.exchanges.contract.errors import NotSupported

    async with venue_server(ROUTES) as server:
        kucoin = await adapter(server.url)
        try:
            with pytest.raises(NotSupported):
                await kucoin.amend_order("BTC/USDT", client_order_id=CID, price=Decimal("49000"))
        finally:
            await kucoin.close()
    assert [r.method for r in server.requests if "/hf/orders" in r.path_qs] == [
        "GET"
    ]  # the lookup only
