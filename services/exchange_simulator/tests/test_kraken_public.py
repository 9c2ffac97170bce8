"""Kraken public REST under Kraken's real names, and unmodified ccxt reading it."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from eip.exchange_simulator.client import SimulatorClient

from .kraken_client import kraken_rest

D = Decimal


async def test_asset_pairs_carry_krakens_legacy_names(clean_simulator: SimulatorClient) -> None:
    async with kraken_rest(clean_simulator) as kraken:
        every = await kraken.public("AssetPairs")
        by_altname = await kraken.public("AssetPairs", pair="XBTUSD")
        by_wsname = await kraken.public("AssetPairs", pair="XBT/USDT,ETH/XBT")
        unknown = await kraken.public("AssetPairs", pair="BTCXYZ")
    assert every["error"] == []
    assert set(every["result"]) == {
        "XXBTZUSD",
        "XETHZUSD",
        "XBTUSDT",
        "ETHUSDT",
        "XETHXXBT",
        "SOLUSDT",
    }
    btc = by_altname["result"]["XXBTZUSD"]
    assert (btc["altname"], btc["wsname"]) == ("XBTUSD", "XBT/USD")
    assert (btc["base"], btc["quote"]) == ("XXBT", "ZUSD")
    assert (btc["pair_decimals"], btc["lot_decimals"]) == (1, 8)
    assert (btc["ordermin"], btc["costmin"], btc["tick_size"]) == ("0.00005", "0.5", "0.1")
    assert btc["status"] == "online"
    assert set(by_wsname["result"]) == {"XBTUSDT", "XETHXXBT"}
    usdt = by_wsname["result"]["XBTUSDT"]
    assert (usdt["base"], usdt["quote"], usdt["wsname"]) == ("XXBT", "USDT", "XBT/USDT")
    assert unknown == {"error": ["EQuery:Unknown asset pair"]}


async def test_assets_are_keyed_by_kraken_ids(clean_simulator: SimulatorClient) -> None:
    async with kraken_rest(clean_simulator) as kraken:
        assets = (await kraken.public("Assets"))["result"]
        one = (await kraken.public("Assets", asset="XBT"))["result"]
    assert set(assets) == {"XXBT", "XETH", "ZUSD", "USDT", "SOL"}
    assert assets["XXBT"]["altname"] == "XBT"
    assert assets["ZUSD"]["decimals"] == 4
    assert list(one) == ["XXBT"]


async def test_depth_is_the_true_book_under_the_rest_key(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    await sim.pause_market()
    try:
        async with kraken_rest(sim) as kraken:
            body = await kraken.public("Depth", pair="XBTUSD", count=5)
            bad = await kraken.public("Depth", pair="XBTUSD", count=0)
        truth = await sim.book("BTCUSD", limit=5)
    finally:
        await sim.resume_market()
    book = body["result"]["XXBTZUSD"]
    assert [(D(p), D(q)) for p, q, _ in book["bids"]] == [(D(p), D(q)) for p, q in truth["bids"]]
    assert [(D(p), D(q)) for p, q, _ in book["asks"]] == [(D(p), D(q)) for p, q in truth["asks"]]
    assert all(len(p.split(".")[1]) == 1 for p, _, _ in book["bids"])  # pair_decimals
    assert all(isinstance(t, int) for _, _, t in book["bids"])
    assert bad["error"] == ["EGeneral:Invalid arguments:count"]


async def test_ticker_trades_and_ohlc_describe_the_tape(clean_simulator: SimulatorClient) -> None:
    async with kraken_rest(clean_simulator) as kraken:
        ticker = (await kraken.public("Ticker", pair="XBTUSDT"))["result"]["XBTUSDT"]
        trades = (await kraken.public("Trades", pair="XBTUSDT", count=10))["result"]
        candles = (await kraken.public("OHLC", pair="XBTUSDT", interval=1))["result"]
        bad_interval = await kraken.public("OHLC", pair="XBTUSDT", interval=2)
        clock = (await kraken.public("Time"))["result"]
    bid, ask = D(ticker["b"][0]), D(ticker["a"][0])
    assert bid < ask
    assert D(ticker["l"][1]) <= D(ticker["c"][0]) <= D(ticker["h"][1])
    assert ticker["t"][1] > 0
    rows = trades["XBTUSDT"]
    assert 1 <= len(rows) <= 10
    price, volume, when, side, kind, _misc, trade_id = rows[-1]
    assert D(price) > 0
    assert D(volume) > 0
    assert side in ("b", "s")
    assert kind in ("m", "l")
    assert isinstance(trade_id, int)
    assert int(trades["last"]) == round(when * 1000) * 1_000_000  # nanoseconds
    ohlc = candles["XBTUSDT"]
    time_, o, h, lo, c, _vwap, v, count = ohlc[-1]
    assert D(lo) <= min(D(o), D(c)) <= max(D(o), D(c)) <= D(h)
    assert D(v) > 0
    assert count > 0
    assert time_ % 60 == 0
    assert bad_interval["error"] == ["EGeneral:Invalid arguments:interval"]
    assert abs(clock["unixtime"] - time.time()) < 5


async def test_a_halted_pair_is_cancel_only(clean_simulator: SimulatorClient) -> None:
    await clean_simulator.halt("ETHUSD")
    try:
        async with kraken_rest(clean_simulator) as kraken:
            pair = (await kraken.public("AssetPairs", pair="ETHUSD"))["result"]["XETHZUSD"]
    finally:
        await clean_simulator.resume_symbol("ETHUSD")
    assert pair["status"] == "cancel_only"


async def test_public_rest_faults_apply(clean_simulator: SimulatorClient) -> None:
    await clean_simulator.fail_requests(count=1, status=502, path_prefix="/0/public")
    async with kraken_rest(clean_simulator) as kraken:
        first = await kraken.http.get("/0/public/AssetPairs")
        second = await kraken.http.get("/0/public/AssetPairs")
    assert first.status_code == 502
    assert first.json() == {"error": ["EService:Unavailable"]}
    assert second.json()["error"] == []


async def test_unmodified_ccxt_reads_markets_and_books(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    kraken = sim.ccxt_kraken(pro=True)
    try:
        markets = await kraken.load_markets()
        assert {"BTC/USD", "ETH/USD", "BTC/USDT", "ETH/BTC"} <= set(markets)
        assert markets["BTC/USD"]["id"] == "XXBTZUSD"
        assert markets["BTC/USD"]["precision"] == {"amount": 1e-08, "price": 0.1}
        assert markets["BTC/USD"]["limits"]["amount"]["min"] == 5e-05
        assert markets["ETH/BTC"]["id"] == "XETHXXBT"
        assert kraken.currencies["BTC"]["id"] == "XXBT"
        for _ in range(3):
            watched = await kraken.watch_order_book("BTC/USDT")
        assert len(watched["bids"]) == 10
        await sim.pause_market()
        try:
            await asyncio.sleep(0.5)  # what was on its way has arrived
            watched = await kraken.watch_order_book("ETH/USD", 10)
            # ccxt keeps updating the book it returned: copy it before the market moves on
            watched_bids = [(D(str(p)), D(str(q))) for p, q in watched["bids"]]
            fetched = await kraken.fetch_order_book("ETH/USD", 10)
            truth = await sim.book("ETHUSD", limit=10)
        finally:
            await sim.resume_market()
    finally:
        await kraken.close()
    expected = [(D(p), D(q)) for p, q in truth["bids"]]
    assert [(D(str(p)), D(str(q))) for p, q, *_ in fetched["bids"]] == expected
    assert watched_bids == expected


async def test_unmodified_ccxt_fetches_ticker_trades_and_candles(
    clean_simulator: SimulatorClient,
) -> None:
    kraken = clean_simulator.ccxt_kraken()
    try:
        ticker = await kraken.fetch_ticker("BTC/USD")
        trades = await kraken.fetch_trades("BTC/USD", limit=20)
        candles = await kraken.fetch_ohlcv("BTC/USD", "1m", limit=5)
        hourly = await kraken.fetch_ohlcv("BTC/USD", "1h", limit=5)
    finally:
        await kraken.close()
    assert ticker["symbol"] == "BTC/USD"
    assert 0 < ticker["bid"] < ticker["ask"]
    assert ticker["last"] > 0
    assert ticker["baseVolume"] > 0
    assert trades
    assert all(t["symbol"] == "BTC/USD" for t in trades)
    assert all(t["amount"] > 0 for t in trades)
    assert trades[-1]["id"] is not None
    assert candles
    _t, o, h, lo, c, v = candles[-1]
    assert lo <= min(o, c) <= max(o, c) <= h
    assert v > 0
    assert hourly[-1][0] % 3_600_000 == 0
    assert hourly[-1][5] >= v  # the hour holds at least its last minute
