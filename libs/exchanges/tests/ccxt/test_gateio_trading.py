"""Gate.io (API v4, classic spot) trading through unmodified ccxt, against a local server
answering with Gate's documented responses: the order ccxt builds and signs (checked against
Gate's documented SIGN, computed here independently), Decimals parsed, refusals mapped."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.trading import OrderRequest, OrderType, VenueOrderStatus
from eip.exchanges.gateio.trading import CAPABILITIES, PROFILE

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("gate-key-77aa", "gate-secret-e01b")
NOW_MS = 1_700_000_000_000
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("gateio")).replace("CLIENTID", CID))
ROUTES = {
    "GET /api/v4/spot/currency_pairs": {"body": DATA["pairs"]},
    "GET /api/v4/margin/currency_pairs": {"body": []},
    "POST /api/v4/spot/orders": {"status": 201, "body": DATA["order"]},
    "GET /api/v4/spot/orders/12332324": {"body": DATA["order"]},
    f"GET /api/v4/spot/orders/{CID}": {"body": DATA["order"]},
}


def gate_sign(method: str, path: str, query: str, body: str, timestamp: str) -> str:
    """Gate v4's documented SIGN: hex HMAC-SHA512 over method, path, query, the hex SHA-512
    of the body and the timestamp, joined by newlines."""
    body_hash = hashlib.sha512(body.encode()).hexdigest()
    message = f"{method}\n{path}\n{query}\n{body_hash}\n{timestamp}"
    return hmac.new(SECRET.secret.encode(), message.encode(), hashlib.sha512).hexdigest()


async def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client
    from eip.exchanges.ccxt.urls import rewrite_urls

    client = new_client("gateio")
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    try:
        markets = await client.fetch_spot_markets({})
    finally:
        await client.close()
    return adapter_at(PROFILE, SECRET, url, markets, nonce=NOW_MS)


def limit_buy(quantity: str = "1") -> OrderRequest:
    return OrderRequest(
        symbol="ETH/USDT",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal(quantity),
        price=Decimal("2500.5"),
    )


def test_the_platforms_client_order_ids_fit_gates_text_rule() -> None:
    assert CID.startswith("t-")
    assert len(CID) == 28  # ccxt counts the prefix in Gate's 28
    assert fits(CID, CAPABILITIES.client_order_ids)


async def test_a_limit_order_is_signed_with_gates_documented_sign() -> None:
    async with venue_server(ROUTES) as server:
        gate = await adapter(server.url)
        try:
            order = await gate.place_order(limit_buy())
        finally:
            await gate.close()
    sent = server.sent("POST", "/api/v4/spot/orders")
    body = json.loads(sent.body)
    assert body["text"] == CID
    assert (body["currency_pair"], body["side"], body["amount"], body["price"]) == (
        "ETH_USDT",
        "buy",
        "1",
        "2500.5",
    )
    assert sent.headers["KEY"] == SECRET.api_key
    timestamp = sent.headers["Timestamp"]
    assert timestamp == str(NOW_MS // 1000)
    assert sent.headers["SIGN"] == gate_sign(
        "POST", "/api/v4/spot/orders", "", sent.body, timestamp
    )
    assert order.venue_order_id == "12332324"
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("1")
    assert order.filled_quantity == Decimal("0.5")
    assert order.average_price == Decimal("2500.5")
    assert order.sequence == 1548000100123


async def test_an_order_is_looked_up_by_its_text_in_place_of_the_id() -> None:
    async with venue_server(ROUTES) as server:
        gate = await adapter(server.url)
        try:
            order = await gate.fetch_order("ETH/USDT", client_order_id=CID)
        finally:
            await gate.close()
    sent = server.sent("GET", f"/api/v4/spot/orders/{CID}")
    path, _, query = sent.path_qs.partition("?")
    assert "currency_pair=ETH_USDT" in query
    assert sent.headers["SIGN"] == gate_sign("GET", path, query, "", sent.headers["Timestamp"])
    assert order.venue_order_id == "12332324"


async def test_rules_and_balances_are_exact_decimals() -> None:
    routes = {**ROUTES, "GET /api/v4/spot/accounts": {"body": DATA["accounts"]}}
    async with venue_server(routes) as server:
        gate = await adapter(server.url)
        try:
            [eth] = await gate.fetch_balances()
        finally:
            await gate.close()
    rules = gate.rules()["ETH/USDT"]
    assert rules.tick_size == Decimal("0.000001")
    assert rules.lot_size == Decimal("0.001")
    assert rules.min_quantity == Decimal("0.001")
    assert rules.min_notional == Decimal("1.0")
    assert (eth.asset, eth.free, eth.locked) == ("ETH", Decimal("968.8"), Decimal("0.5"))


async def test_gate_refusals_map_to_reasons_and_base_sized_market_buys_are_not_sent() -> None:
    async with venue_server(ROUTES) as server:
        gate = await adapter(server.url)
        try:
            server.routes["POST /api/v4/spot/orders"] = {
                "status": 400,
                "body": DATA["insufficient"],
            }
            with pytest.raises(OrderRejected) as funds:
                await gate.place_order(limit_buy())
            server.routes["POST /api/v4/spot/orders"] = {"status": 400, "body": DATA["precision"]}
            with pytest.raises(OrderRejected) as precision:
                await gate.place_order(limit_buy())
            market_buy = OrderRequest(
                symbol="ETH/USDT",
                side="buy",
                type=OrderType.MARKET,
                client_order_id=CID,
                quantity=Decimal("1"),
            )
            with pytest.raises(NotSupported):
                await gate.place_order(market_buy)
        finally:
            await gate.close()
    assert funds.value.reason is RejectReason.INSUFFICIENT_FUNDS
    assert precision.value.reason is RejectReason.LOT_SIZE
    assert precision.value.venue_code == "INVALID_PRECISION"
    assert len([r for r in server.requests if r.method == "POST"]) == 2


async def test_an_amend_is_a_signed_patch_of_the_new_price_keeping_the_ids() -> None:
    routes = {**ROUTES, "PATCH /api/v4/spot/orders/12332324": {"body": DATA["order"]}}
    async with venue_server(routes) as server:
        gate = await adapter(server.url)
        try:
            order = await gate.amend_order(
                "ETH/USDT", client_order_id=CID, price=Decimal("2400.25")
            )
        finally:
            await gate.close()
    sent = server.sent("PATCH", "/api/v4/spot/orders/12332324")
    path, _, query = sent.path_qs.partition("?")
    body = json.loads(sent.body)
    assert body["price"] == "2400.25"
    assert "amount" not in body
    assert sent.headers["SIGN"] == gate_sign(
        "PATCH", path, query, sent.body, sent.headers["Timestamp"]
    )
    assert order.venue_order_id == "12332324"
    assert order.client_order_id == CID
