"""Coinbase public REST: products and depth of the same books (Kraken: test_kraken_public.py)."""

from __future__ import annotations

from decimal import Decimal

import httpx

from eip.exchange_simulator.client import SimulatorClient

D = Decimal


async def test_coinbase_product_book_is_the_true_book(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    await sim.pause_market()
    try:
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            body = (
                await http.get(
                    "/api/v3/brokerage/market/product_book",
                    params={"product_id": "BTC-USDT", "limit": 7},
                )
            ).json()
            missing = await http.get(
                "/api/v3/brokerage/market/product_book", params={"product_id": "BTC-XYZ"}
            )
        truth = await sim.book("BTCUSDT", limit=7)
    finally:
        await sim.resume_market()
    book = body["pricebook"]
    assert book["product_id"] == "BTC-USDT"
    assert [(D(b["price"]), D(b["size"])) for b in book["bids"]] == [
        (D(p), D(q)) for p, q in truth["bids"]
    ]
    assert [(D(a["price"]), D(a["size"])) for a in book["asks"]] == [
        (D(p), D(q)) for p, q in truth["asks"]
    ]
    best_bid, best_ask = D(truth["bids"][0][0]), D(truth["asks"][0][0])
    assert D(body["spread_absolute"]) == best_ask - best_bid
    assert D(body["mid_market"]) == (best_ask + best_bid) / 2
    assert missing.status_code == 404


async def test_coinbase_products(clean_simulator: SimulatorClient) -> None:
    async with httpx.AsyncClient(base_url=clean_simulator.base_url) as http:
        listed = (await http.get("/api/v3/brokerage/market/products")).json()
        one = (await http.get("/api/v3/brokerage/market/products/SOL-USDT")).json()
    assert listed["num_products"] == 6  # config/default-market.toml
    assert {p["product_id"] for p in listed["products"]} >= {"BTC-USDT", "ETH-BTC", "BTC-USD"}
    assert one["base_increment"] == "0.001"
    assert one["quote_increment"] == "0.01"
    assert one["status"] == "online"
