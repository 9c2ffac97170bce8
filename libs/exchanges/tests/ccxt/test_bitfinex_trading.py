"""Bitfinex (v2, exchange wallet) trading through unmodified ccxt, against a local server
answering with Bitfinex's documented responses: the order ccxt builds and signs (checked
against Bitfinex's documented HMAC-SHA384, computed here independently), the integer client
id, Decimals parsed from JSON numbers, refusals mapped from Bitfinex's text."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from eip.exchanges.bitfinex.trading import CAPABILITIES, PROFILE
from eip.exchanges.ccxt.trading import CcxtTradingAdapter
from eip.exchanges.contract.client_order_ids import client_order_id, fits
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import OrderRejected, RejectReason
from eip.exchanges.contract.trading import OrderRequest, OrderType, VenueOrderStatus

from .venue_server import adapter_at, fixture, venue_server

SECRET = ExchangeSecret("bitfinex-key-aa01", "bitfinex-secret-bb02")
NONCE = 1_700_000_000_000_000
CID = client_order_id("acct-1", "order-1", CAPABILITIES.client_order_ids)
DATA = json.loads(json.dumps(fixture("bitfinex")).replace("4242424242", CID))
CONF = "/v2/conf/pub:info:pair,pub:info:pair:futures,pub:list:pair:securities,pub:list:pair:margin"
ROUTES = {
    f"GET {CONF}": {"body": DATA["conf"]},
    "POST /v2/auth/w/order/submit": {"body": DATA["submit"]},
    "POST /v2/auth/r/orders/tBTCUSD": {"body": DATA["open"]},
}


def bitfinex_sign(path: str, nonce: str, body: str) -> str:
    """Bitfinex v2's documented signature: hex HMAC-SHA384 of ``/api/`` + path + nonce + body."""
    message = f"/api/{path}{nonce}{body}".encode()
    return hmac.new(SECRET.secret.encode(), message, hashlib.sha384).hexdigest()


async def adapter(url: str) -> CcxtTradingAdapter:
    from eip.exchanges.ccxt.market_data import new_client
    from eip.exchanges.ccxt.urls import rewrite_urls

    client = new_client("bitfinex")
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    try:
        markets = await client.fetch_markets()
    finally:
        await client.close()
    return adapter_at(PROFILE, SECRET, url, markets, nonce=NONCE)


def limit_buy() -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USD",
        side="buy",
        type=OrderType.LIMIT,
        client_order_id=CID,
        quantity=Decimal("0.001"),
        price=Decimal("15000"),
    )


def test_the_platforms_client_order_ids_are_bitfinex_integers() -> None:
    assert CID.isdigit()
    assert fits(CID, CAPABILITIES.client_order_ids)


async def test_a_limit_order_is_signed_with_bitfinexs_documented_hmac_sha384() -> None:
    async with venue_server(ROUTES) as server:
        bitfinex = await adapter(server.url)
        try:
            order = await bitfinex.place_order(limit_buy())
        finally:
            await bitfinex.close()
    sent = server.sent("POST", "/v2/auth/w/order/submit")
    body = json.loads(sent.body)
    assert body["cid"] == int(CID)
    assert (body["symbol"], body["type"], body["amount"], body["price"]) == (
        "tBTCUSD",
        "EXCHANGE LIMIT",
        "0.001",
        "15000",
    )
    assert sent.headers["bfx-apikey"] == SECRET.api_key
    assert sent.headers["bfx-nonce"] == str(NONCE)
    assert sent.headers["bfx-signature"] == bitfinex_sign(
        "v2/auth/w/order/submit", str(NONCE), sent.body
    )
    read_back = server.sent("POST", "/v2/auth/r/orders/tBTCUSD")
    assert json.loads(read_back.body) == {"id": [30630788061]}
    assert order.venue_order_id == "30630788061"
    assert order.client_order_id == CID
    assert order.status is VenueOrderStatus.PARTIALLY_FILLED
    assert order.quantity == Decimal("0.001")
    assert order.filled_quantity == Decimal("0.0004")
    assert order.average_price == Decimal("15000")


async def test_an_order_is_found_by_client_id_among_the_open_orders() -> None:
    async with venue_server(ROUTES) as server:
        bitfinex = await adapter(server.url)
        try:
            order = await bitfinex.fetch_order("BTC/USD", client_order_id=CID)
        finally:
            await bitfinex.close()
    assert order.venue_order_id == "30630788061"


async def test_rules_and_balances_are_exact_decimals() -> None:
    routes = {**ROUTES, "POST /v2/auth/r/wallets": {"body": DATA["wallets"]}}
    async with venue_server(routes) as server:
        bitfinex = await adapter(server.url)
        try:
            [btc] = await bitfinex.fetch_balances()
        finally:
            await bitfinex.close()
    rules = bitfinex.rules()["BTC/USD"]
    assert rules.min_quantity == Decimal("0.00004")
    assert rules.max_quantity == Decimal("2000.0")
    assert rules.lot_size == Decimal("0.00000001")
    assert (btc.asset, btc.free, btc.locked) == ("BTC", Decimal("0.4"), Decimal("0.1"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [("insufficient", RejectReason.INSUFFICIENT_FUNDS), ("minimum", RejectReason.LOT_SIZE)],
)
async def test_bitfinex_refusals_are_read_from_its_text_not_its_generic_code(
    body: str, reason: RejectReason
) -> None:
    routes = {**ROUTES, "POST /v2/auth/w/order/submit": {"status": 500, "body": DATA[body]}}
    async with venue_server(routes) as server:
        bitfinex = await adapter(server.url)
        try:
            with pytest.raises(OrderRejected) as refused:
                await bitfinex.place_order(limit_buy())
        finally:
            await bitfinex.close()
    assert refused.value.reason is reason


async def test_an_unclassified_server_error_on_a_placement_is_an_unknown_outcome() -> None:
    from eip.exchanges.contract.errors import OutcomeUnknown

    failure = ["error", 20060, "maintenance mode"]
    routes = {**ROUTES, "POST /v2/auth/w/order/submit": {"status": 500, "body": failure}}
    async with venue_server(routes) as server:
        bitfinex = await adapter(server.url)
        try:
            with pytest.raises(OutcomeUnknown):
                await bitfinex.place_order(limit_buy())
        finally:
            await bitfinex.close()
