"""Kraken and Coinbase public REST: pairs/products and depth of the same books."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from eip.exchange_simulator.client import SimulatorClient

D = Decimal


async def test_kraken_asset_pairs(clean_simulator: SimulatorClient) -> None:
    async with httpx.AsyncClient(base_url=clean_simulator.base_url) as http:
        every = (await http.get("/0/public/AssetPairs")).json()
        one = (await http.get("/0/public/AssetPairs", params={"pair": "BTC/USDT"})).json()
        unknown = await http.get("/0/public/AssetPairs", params={"pair": "BTCXYZ"})
    assert every["error"] == []
    assert set(every["result"]) == {
        "BTCUSDT",
        "ETHUSDT",
        "ETHBTC",
        "SOLUSDT",
        "BTCUSD",
        "ETHUSD",
    }
    btc = one["result"]["BTCUSDT"]
    assert btc["wsname"] == "BTC/USDT"
    assert btc["altname"] == "BTCUSDT"
    assert (btc["base"], btc["quote"]) == ("BTC", "USDT")
    assert (btc["pair_decimals"], btc["lot_decimals"]) == (2, 5)
    assert every["result"]["ETHBTC"]["pair_decimals"] == 5
    assert unknown.status_code == 200
    assert unknown.json() == {"error": ["EQuery:Unknown asset pair"]}


async def test_kraken_depth_is_the_true_book(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    await sim.pause_market()
    try:
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            body = (
                await http.get("/0/public/Depth", params={"pair": "ETHUSDT", "count": 5})
            ).json()
            bad = (await http.get("/0/public/Depth", params={"pair": "ETHUSDT", "count": 0})).json()
        truth = await sim.book("ETHUSDT", limit=5)
    finally:
        await sim.resume_market()
    book = body["result"]["ETHUSDT"]
    assert [(D(p), D(q)) for p, q, _ in book["bids"]] == [(D(p), D(q)) for p, q in truth["bids"]]
    assert [(D(p), D(q)) for p, q, _ in book["asks"]] == [(D(p), D(q)) for p, q in truth["asks"]]
    assert all(isinstance(t, int) for _, _, t in book["bids"])
    assert bad["error"] == ["EGeneral:Invalid arguments:count"]


async def test_kraken_rest_fault(clean_simulator: SimulatorClient) -> None:
    await clean_simulator.fail_requests(count=1, status=502, path_prefix="/0/public")
    async with httpx.AsyncClient(base_url=clean_simulator.base_url) as http:
        first = await http.get("/0/public/AssetPairs")
        second = await http.get("/0/public/AssetPairs")
    assert first.status_code == 502
    assert second.json()["error"] == []


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


async def test_unmodified_ccxt_kraken_reads_the_books(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    kraken = sim.ccxt_kraken()
    try:
        markets = await kraken.load_markets()
        assert markets["BTC/USDT"]["precision"]["price"] == 0.01
        for _ in range(3):
            watched = await kraken.watch_order_book("BTC/USDT")
        assert len(watched["bids"]) == 10
        await sim.pause_market()
        try:
            await asyncio.sleep(0.5)  # what was on its way has arrived
            watched = await kraken.watch_order_book("ETH/USDT", 10)
            fetched = await kraken.fetch_order_book("ETH/USDT", 10)
            truth = await sim.book("ETHUSDT", limit=10)
        finally:
            await sim.resume_market()
    finally:
        await kraken.close()
    expected = [(D(p), D(q)) for p, q in truth["bids"]]
    assert [(D(str(p)), D(str(q))) for p, q, *_ in fetched["bids"]] == expected
    assert [(D(str(p)), D(str(q))) for p, q in watched["bids"]] == expected
