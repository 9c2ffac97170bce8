"""The Coinbase dialect's REST API on the wire: accounts, order entry and its refusals in
Coinbase's shapes, client order ids, lists and their cursors, GTD expiry, stops, market data and
the v2 endpoints ccxt calls — one account shared with the Binance dialect."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from eip.exchange_simulator.client import SimulatorClient

from .coinbase_helpers import API, CoinbaseHttp, coinbase_http, new_coinbase_trader
from .helpers import binance

D = Decimal


def order_body(config: dict[str, Any], side: str = "BUY", product: str = "BTC-USDT") -> Any:
    return {
        "client_order_id": str(uuid.uuid4()),
        "product_id": product,
        "side": side,
        "order_configuration": config,
    }


async def get_order(cb: CoinbaseHttp, order_id: str) -> Any:
    return (await cb.get(f"{API}/orders/historical/{order_id}"))["order"]


async def all_pages(cb: CoinbaseHttp, path: str, items: str, **params: Any) -> list[Any]:
    out: list[Any] = []
    cursor = None
    for _ in range(50):
        body = await cb.get(path, **params, **({"cursor": cursor} if cursor else {}))
        out += body[items]
        cursor = body["cursor"]
        if not body.get("has_next", bool(cursor)):
            return out
    raise AssertionError("the cursor never ran out")


async def test_accounts_are_one_per_currency_with_available_and_hold_and_page_by_cursor(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USDT": "1000", "BTC": "0.5", "XRP": "7"})
    async with coinbase_http(clean_simulator, key) as cb:
        first = await cb.get(f"{API}/accounts", limit=2)
        accounts = await all_pages(cb, f"{API}/accounts", "accounts", limit=2)
        placed = await cb.limit_order("BUY", "0.01", "30000")
        usdt = next(a for a in accounts if a["currency"] == "USDT")
        after = await cb.get(f"{API}/accounts/{usdt['uuid']}")
    assert first["size"] == 2
    assert first["has_next"] is True
    assert first["cursor"] == first["accounts"][-1]["uuid"]
    currencies = [a["currency"] for a in accounts]
    assert currencies == sorted({"BTC", "ETH", "SOL", "USDT", "XRP"} | set(currencies))
    assert len(set(currencies)) == len(currencies)
    assert usdt["available_balance"] == {"value": "1000.00000000", "currency": "USDT"}
    assert usdt["hold"] == {"value": "0.00000000", "currency": "USDT"}
    assert usdt["type"] == "ACCOUNT_TYPE_CRYPTO"
    assert placed["success"] is True
    assert D(after["account"]["available_balance"]["value"]) == 700
    assert D(after["account"]["hold"]["value"]) == 300


async def test_order_refusals_come_in_coinbase_shapes(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USDT": "100", "BTC": "1"})
    async with coinbase_http(clean_simulator, key) as cb:
        last = D((await cb.get(f"{API}/products/BTC-USDT"))["price"])

        async def failure(config: dict[str, Any], side: str = "BUY", **extra: Any) -> Any:
            body = await cb.post(f"{API}/orders", {**order_body(config, side), **extra})
            assert body["success"] is False
            assert body["order_id"] == ""
            assert body["order_configuration"] == config
            return body["error_response"]

        poor = await failure({"limit_limit_gtc": {"base_size": "0.01", "limit_price": "30000"}})
        crossing = await failure(
            {
                "limit_limit_gtc": {
                    "base_size": "0.0001",
                    "limit_price": str(last * 2),
                    "post_only": True,
                }
            }
        )
        precision = await failure(
            {"limit_limit_gtc": {"base_size": "0.000001", "limit_price": "30000"}}
        )
        tiny = await failure({"limit_limit_gtc": {"base_size": "0.00001", "limit_price": "30000"}})
        unknown = await failure(
            {"limit_limit_gtc": {"base_size": "0.01", "limit_price": "30000"}},
            product_id="BTC-XYZ",
        )
        bracket = await failure({"twap_limit_gtd": {"base_size": "0.01", "limit_price": "30000"}})
        stop_above = await failure(
            {
                "stop_limit_stop_limit_gtc": {
                    "base_size": "0.01",
                    "limit_price": str((last * D("1.2")).quantize(D("0.01"))),
                    "stop_price": str((last * D("1.1")).quantize(D("0.01"))),
                    "stop_direction": "STOP_DIRECTION_STOP_DOWN",
                }
            },
            "SELL",
        )
        malformed = await cb.request(
            "POST",
            f"{API}/orders",
            json=order_body({"limit_limit_gtc": {"base_size": 0.01, "limit_price": "30000"}}),
        )
        no_client_id = await cb.request(
            "POST",
            f"{API}/orders",
            json={
                **order_body({"market_market_ioc": {"base_size": "0.01"}}),
                "client_order_id": "",
            },
        )
        exponent = await cb.request(
            "POST",
            f"{API}/orders",
            json=order_body({"limit_limit_gtc": {"base_size": "1e99999", "limit_price": "3"}}),
        )
        not_json = await cb.request("POST", f"{API}/orders", content="{")
        missing = await cb.request("GET", f"{API}/orders/historical/{uuid.uuid4()}")
    assert poor == {
        "error": "INSUFFICIENT_FUND",
        "message": "Insufficient balance in source account",
        "error_details": "Insufficient balance in source account",
        "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND",
        "new_order_failure_reason": "INSUFFICIENT_FUND",
    }
    assert crossing["error"] == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert crossing["preview_failure_reason"] == "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"
    assert precision["preview_failure_reason"] == "PREVIEW_INVALID_SIZE_PRECISION"
    assert tiny["preview_failure_reason"] == "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"
    assert unknown["error"] == "INVALID_PRODUCT_ID"
    assert bracket["error"] == "UNSUPPORTED_ORDER_CONFIGURATION"
    assert stop_above["preview_failure_reason"] == "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE"
    for bad in (malformed, no_client_id, exponent, not_json):
        assert bad.status_code == 400
        assert bad.json()["error"] == "INVALID_ARGUMENT"
        assert set(bad.json()) == {"error", "error_details", "message"}
    assert "decimal string" in malformed.json()["message"]
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "NOT_FOUND",
        "error_details": "order with this orderID was not found",
        "message": "order with this orderID was not found",
    }
    balances = await clean_simulator.balances(key.account_id)
    assert balances["USDT"] == {"free": 100, "locked": 0}  # nothing was half-placed


async def test_a_client_order_id_places_one_order_however_often_it_is_sent(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    other = await new_coinbase_trader(clean_simulator)
    client_id = str(uuid.uuid4())
    async with (
        coinbase_http(clean_simulator, key) as cb,
        coinbase_http(clean_simulator, other) as cb_other,
    ):
        first = await cb.limit_order("BUY", "0.01", "30000", client_order_id=client_id)
        again = await cb.limit_order("BUY", "0.02", "31000", client_order_id=client_id)
        elsewhere = await cb_other.limit_order("BUY", "0.01", "30000", client_order_id=client_id)
        await cb.post(f"{API}/orders/batch_cancel", {"order_ids": [first["order_id"]]})
        after_cancel = await cb.limit_order("BUY", "0.01", "30000", client_order_id=client_id)
        listed = await cb.get(f"{API}/orders/historical/batch")
    assert again["success"] is True
    assert again["order_id"] == first["order_id"] == after_cancel["order_id"]
    assert again["success_response"]["client_order_id"] == client_id
    assert elsewhere["order_id"] != first["order_id"]  # client ids are per account
    assert [o["order_id"] for o in listed["orders"]] == [first["order_id"]]
    assert listed["orders"][0]["status"] == "CANCELLED"


async def test_order_lists_filter_and_page_without_repeats(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        ids = [(await cb.limit_order("BUY", "0.001", str(30000 + n)))["order_id"] for n in range(5)]
        eth = (await cb.limit_order("BUY", "0.01", "1000", product="ETH-USDT"))["order_id"]
        await cb.post(f"{API}/orders/batch_cancel", {"order_ids": ids[:2]})
        everything = await all_pages(cb, f"{API}/orders/historical/batch", "orders", limit=2)
        still_open = await cb.get(
            f"{API}/orders/historical/batch", order_status="OPEN", product_ids="BTC-USDT"
        )
        cancelled = await cb.get(f"{API}/orders/historical/batch", order_status="CANCELLED")
        mixed = await cb.request(
            "GET",
            f"{API}/orders/historical/batch",
            params=[("order_status", "OPEN"), ("order_status", "FILLED")],
        )
    assert [o["order_id"] for o in everything] == [eth, *reversed(ids)]  # newest first
    assert {o["order_id"] for o in still_open["orders"]} == set(ids[2:])
    assert {o["order_id"] for o in cancelled["orders"]} == set(ids[:2])
    assert still_open["has_next"] is False
    assert mixed.status_code == 400
    order = everything[1]
    assert order["order_configuration"] == {
        "limit_limit_gtc": {"base_size": "0.00100", "limit_price": "30004.00", "post_only": False}
    }
    assert (order["order_type"], order["time_in_force"]) == ("LIMIT", "GOOD_UNTIL_CANCELLED")
    assert order["outstanding_hold_amount"] == "30.004"


async def test_fills_report_each_side_with_fees_in_quote_and_page(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        sells = [
            await cb.post(
                f"{API}/orders",
                order_body({"market_market_ioc": {"base_size": "0.02"}}, "SELL"),
            )
            for _ in range(3)
        ]
        buy = await cb.post(
            f"{API}/orders", order_body({"market_market_ioc": {"quote_size": "500.00"}})
        )
        fills = await all_pages(cb, f"{API}/orders/historical/fills", "fills", limit=2)
        of_buy = await cb.get(f"{API}/orders/historical/fills", order_ids=buy["order_id"])
        bought = await get_order(cb, buy["order_id"])
    order_ids = {s["order_id"] for s in sells} | {buy["order_id"]}
    assert {f["order_id"] for f in fills} == order_ids
    assert len({f["entry_id"] for f in fills}) == len(fills)
    times = [f["trade_time"] for f in fills]
    assert times == sorted(times, reverse=True)
    assert all(f["trade_type"] == "FILL" and f["liquidity_indicator"] == "TAKER" for f in fills)
    buy_fills = of_buy["fills"]
    assert {f["side"] for f in buy_fills} == {"BUY"}
    # The core takes a buyer's fee in BTC; Coinbase reports it in USDT at the fill price.
    quote_fees = sum(D(f["commission"]) for f in buy_fills)
    assert quote_fees == D(bought["total_fees"]) > 0
    spent = sum(D(f["price"]) * D(f["size"]) for f in buy_fills)
    assert spent == D(bought["filled_value"])
    assert D("499") <= spent <= D("500")
    assert bought["status"] == "FILLED"
    assert bought["size_in_quote"] is True
    assert bought["order_configuration"] == {"market_market_ioc": {"quote_size": "500.00"}}


async def test_a_gtd_order_expires_at_its_end_time(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    end = time.time() + 1.5
    end_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(end)) + f".{int(end % 1 * 1000):03d}Z"
    async with coinbase_http(clean_simulator, key) as cb:
        placed = await cb.post(
            f"{API}/orders",
            order_body(
                {
                    "limit_limit_gtd": {
                        "base_size": "0.01",
                        "limit_price": "30000",
                        "end_time": end_time,
                        "post_only": False,
                    }
                }
            ),
        )
        before = await get_order(cb, placed["order_id"])
        past = await cb.post(
            f"{API}/orders",
            order_body(
                {
                    "limit_limit_gtd": {
                        "base_size": "0.01",
                        "limit_price": "30000",
                        "end_time": "2020-01-01T00:00:00Z",
                    }
                }
            ),
        )
        await asyncio.sleep(2.5)
        after = await get_order(cb, placed["order_id"])
    assert before["status"] == "OPEN"
    assert before["time_in_force"] == "GOOD_UNTIL_DATE_TIME"
    assert "limit_limit_gtd" in before["order_configuration"]
    assert after["status"] == "EXPIRED"
    assert past["error_response"]["preview_failure_reason"] == "PREVIEW_INVALID_END_TIME"
    assert (await clean_simulator.balances(key.account_id))["USDT"]["locked"] == 0


async def test_a_stop_limit_waits_for_its_trigger(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        last = D((await cb.get(f"{API}/products/BTC-USDT"))["price"])
        stop, limit = (last * D("0.7")).quantize(D("0.01")), (last * D("0.69")).quantize(D("0.01"))
        config = {
            "stop_limit_stop_limit_gtc": {
                "base_size": "0.01000",
                "limit_price": str(limit),
                "stop_price": str(stop),
                "stop_direction": "STOP_DIRECTION_STOP_DOWN",
            }
        }
        placed = await cb.post(f"{API}/orders", order_body(config, "SELL"))
        order = await get_order(cb, placed["order_id"])
    assert order["status"] == "OPEN"
    assert order["order_type"] == "STOP_LIMIT"
    assert order["trigger_status"] == "STOP_PENDING"
    assert order["order_configuration"] == config
    assert (await clean_simulator.balances(key.account_id))["BTC"]["locked"] == D("0.01")


async def test_ioc_and_fok_orders_never_rest(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        ask = D(
            (await cb.get(f"{API}/best_bid_ask", product_ids="BTC-USDT"))["pricebooks"][0]["asks"][
                0
            ]["price"]
        )
        fok = await cb.post(
            f"{API}/orders",
            order_body({"limit_limit_fok": {"base_size": "0.01", "limit_price": "30000.00"}}),
        )
        ioc = await cb.post(
            f"{API}/orders",
            order_body({"sor_limit_ioc": {"base_size": "0.001", "limit_price": str(ask * 2)}}),
        )
        unfilled = await get_order(cb, fok["order_id"])
        filled = await get_order(cb, ioc["order_id"])
    assert (unfilled["status"], unfilled["filled_size"]) == ("CANCELLED", "0.00000")
    assert unfilled["time_in_force"] == "FILL_OR_KILL"
    assert (filled["status"], filled["filled_size"]) == ("FILLED", "0.00100")
    assert filled["time_in_force"] == "IMMEDIATE_OR_CANCEL"
    assert D(filled["average_filled_price"]) <= ask * 2
    assert (await clean_simulator.balances(key.account_id))["USDT"]["locked"] == 0


async def test_batch_cancel_answers_each_id(clean_simulator: SimulatorClient) -> None:
    key = await new_coinbase_trader(clean_simulator)
    stranger = await new_coinbase_trader(clean_simulator)
    async with (
        coinbase_http(clean_simulator, key) as cb,
        coinbase_http(clean_simulator, stranger) as cb_stranger,
    ):
        mine = (await cb.limit_order("BUY", "0.01", "30000"))["order_id"]
        theirs = (await cb_stranger.limit_order("BUY", "0.01", "30000"))["order_id"]
        body = await cb.post(
            f"{API}/orders/batch_cancel", {"order_ids": [mine, theirs, "not-an-order", mine]}
        )
        empty = await cb.request("POST", f"{API}/orders/batch_cancel", json={"order_ids": []})
        still_theirs = await get_order(cb_stranger, theirs)
    assert [(r["order_id"], r["success"], r["failure_reason"]) for r in body["results"]] == [
        (mine, True, "UNKNOWN_CANCEL_FAILURE_REASON"),
        (theirs, False, "UNKNOWN_CANCEL_ORDER"),
        ("not-an-order", False, "UNKNOWN_CANCEL_ORDER"),
        (mine, False, "UNKNOWN_CANCEL_ORDER"),  # already cancelled
    ]
    assert empty.status_code == 400
    assert still_theirs["status"] == "OPEN"


async def test_market_data_endpoints_public_and_private(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim)
    now = int(time.time())
    async with coinbase_http(sim, key) as cb:
        futures = await cb.http.get(f"{API}/market/products", params={"product_type": "FUTURE"})
        spot = await cb.get(f"{API}/products", product_ids="ETH-USDT")
        candles = (
            await cb.http.get(
                f"{API}/market/products/BTC-USDT/candles",
                params={"granularity": "ONE_MINUTE", "start": now - 600, "end": now + 60},
            )
        ).json()["candles"]
        too_many = await cb.http.get(
            f"{API}/market/products/BTC-USDT/candles",
            params={"granularity": "ONE_MINUTE", "start": now - 86400, "end": now},
        )
        ticker = await cb.get(f"{API}/products/BTC-USDT/ticker", limit=5)
        book = await cb.get(f"{API}/product_book", product_id="BTC-USDT", limit=3)
        unknown = await cb.http.get(f"{API}/market/products/BTC-XYZ/ticker")
    assert futures.json() == {"products": [], "num_products": 0}
    assert [p["product_id"] for p in spot["products"]] == ["ETH-USDT"]
    assert candles
    starts = [int(c["start"]) for c in candles]
    assert starts == sorted(starts, reverse=True)
    assert all(s % 60 == 0 for s in starts)
    assert all(D(c["low"]) <= D(c["open"]) <= D(c["high"]) for c in candles)
    assert too_many.status_code == 400
    assert "350" in too_many.json()["message"]
    trades = ticker["trades"]
    assert len(trades) == 5
    assert [t["time"] for t in trades] == sorted((t["time"] for t in trades), reverse=True)
    assert {t["side"] for t in trades} <= {"BUY", "SELL"}
    assert D(ticker["best_bid"]) < D(ticker["best_ask"])
    assert len(book["pricebook"]["bids"]) == 3
    assert unknown.status_code == 404


async def test_v2_endpoints_ccxt_calls_on_load_and_for_balances(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USD": "250.5", "BTC": "0.25"})
    async with coinbase_http(clean_simulator, key) as cb:
        fiat = (await cb.http.get("/v2/currencies")).json()["data"]
        crypto = (await cb.http.get("/v2/currencies/crypto")).json()["data"]
        rates = (await cb.http.get("/v2/exchange-rates")).json()["data"]
        server_time = (await cb.http.get("/v2/time")).json()["data"]
        page_one = await cb.get("/v2/accounts", limit=1)
        page_two = await cb.get(
            "/v2/accounts", limit=1, starting_after=page_one["pagination"]["next_starting_after"]
        )
        everything = await cb.get("/v2/accounts", limit=100)
        missing = await cb.request("GET", "/v2/accounts/nope")
    assert {"id": "USD", "name": "US Dollar", "min_size": "0.01"} in fiat
    assert {c["code"] for c in crypto} >= {"BTC", "ETH", "USDT", "SOL"}
    assert all(c["type"] == "crypto" for c in crypto)
    assert rates["currency"] == "USD"
    assert rates["rates"]["USD"] == "1"
    assert D("0") < D(rates["rates"]["BTC"]) < D("0.001")
    assert abs(server_time["epoch"] - time.time()) < 5
    assert page_one["data"][0]["id"] != page_two["data"][0]["id"]
    accounts = {a["currency"]["code"]: a for a in everything["data"]}
    assert accounts["USD"]["type"] == "fiat"
    assert accounts["USD"]["balance"] == {"amount": "250.50", "currency": "USD"}
    assert accounts["BTC"]["type"] == "wallet"
    assert accounts["BTC"]["balance"] == {"amount": "0.25000000", "currency": "BTC"}
    assert everything["pagination"]["next_uri"] is None
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"id": "not_found", "message": "Not found"}]}


async def test_transaction_summary_reports_the_fee_tier_and_volume(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        before = await cb.get(f"{API}/transaction_summary")
        await cb.post(f"{API}/orders", order_body({"market_market_ioc": {"quote_size": "100.00"}}))
        after = await cb.get(f"{API}/transaction_summary")
    assert before["fee_tier"]["maker_fee_rate"] == "0.001"
    assert before["fee_tier"]["taker_fee_rate"] == "0.001"
    assert before["total_volume"] == "0"
    assert D("99") <= D(after["total_volume"]) <= D("100")
    assert D(after["total_fees"]) > 0


async def test_a_fill_through_binance_shows_in_the_same_accounts_through_coinbase(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim, {"USDT": "10000", "BTC": "0"})
    binance_key = await sim.create_key(key.account_id, venue="binance")
    async with binance(sim, binance_key) as ex:
        bought = await ex.create_order("BTC/USDT", "market", "buy", 0.01)
    async with coinbase_http(sim, key) as cb:
        accounts = {a["currency"]: a for a in (await cb.get(f"{API}/accounts"))["accounts"]}
        listed = await cb.get(f"{API}/orders/historical/batch")
        fills = await cb.get(f"{API}/orders/historical/fills")
    truth = await sim.balances(key.account_id)
    btc = D(accounts["BTC"]["available_balance"]["value"])
    assert btc == truth["BTC"]["free"] == D(str(bought["filled"])) - D(str(bought["fee"]["cost"]))
    assert D(accounts["USDT"]["available_balance"]["value"]) == truth["USDT"]["free"] < 10000
    (order,) = listed["orders"]
    assert (order["status"], order["side"], order["order_type"]) == ("FILLED", "BUY", "MARKET")
    assert order["client_order_id"] == bought["clientOrderId"]
    assert {f["order_id"] for f in fills["fills"]} == {order["order_id"]}


async def test_rest_faults_apply_to_the_coinbase_endpoints(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    await clean_simulator.fail_requests(count=1, status=503, path_prefix="/api/v3/brokerage")
    async with coinbase_http(clean_simulator, key) as cb:
        failed = await cb.request("GET", f"{API}/accounts")
        fine = await cb.request("GET", f"{API}/accounts")
    assert failed.status_code == 503
    assert failed.json()["error"] == "INTERNAL"
    assert fine.status_code == 200


async def test_an_edit_changes_the_order_in_place_and_each_refusal_says_why(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator, {"USDT": "1000", "BTC": "1"})
    async with coinbase_http(clean_simulator, key) as cb:
        placed = (await cb.limit_order("BUY", "0.01", "30000"))["order_id"]

        async def edit(body: dict[str, Any], path: str = "edit") -> Any:
            return await cb.post(f"{API}/orders/{path}", {"order_id": placed, **body})

        smaller = await edit({"size": "0.005"})
        held_after_decrease = (await clean_simulator.balances(key.account_id))["USDT"]["locked"]
        moved = await edit({"size": "0.02", "price": "30500.00"})
        order = await get_order(cb, placed)
        same = await edit({"size": "0.02", "price": "30500.00"})
        too_big = await edit({"size": "0.05"})
        previewed = await edit({"price": "30100.00"}, "edit_preview")
        off_tick = await edit({"price": "30100.005"})
        unknown = await cb.post(f"{API}/orders/edit", {"order_id": str(uuid.uuid4()), "size": "1"})
        nothing = await cb.request("POST", f"{API}/orders/edit", json={"order_id": placed})
        await cb.post(f"{API}/orders/batch_cancel", {"order_ids": [placed]})
        closed = await edit({"size": "0.01"})

    assert smaller == {"success": True, "errors": []}
    assert held_after_decrease == D("150")
    assert moved["success"] is True
    assert order["order_id"] == placed
    assert order["order_configuration"]["limit_limit_gtc"]["limit_price"] == "30500.00"
    assert order["order_configuration"]["limit_limit_gtc"]["base_size"] == "0.02000"
    assert [e["size"] for e in order["edit_history"]] == ["0.00500", "0.02000"]
    assert order["outstanding_hold_amount"] == "610"

    def refusal(body: Any) -> tuple[str, str]:
        assert body["success"] is False
        (error,) = body["errors"]
        return error["edit_failure_reason"], error["preview_failure_reason"]

    unknown_preview = "UNKNOWN_PREVIEW_FAILURE_REASON"
    assert refusal(same) == ("EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST", unknown_preview)
    assert refusal(too_big) == ("COMMANDER_REJECTED_EDIT_ORDER", "PREVIEW_INSUFFICIENT_FUND")
    assert refusal(off_tick) == ("INVALID_EDITED_PRICE", unknown_preview)
    assert refusal(unknown) == ("ORDER_NOT_FOUND", unknown_preview)
    assert refusal(closed) == ("ONLY_OPEN_ORDERS_CAN_BE_EDITED", unknown_preview)
    assert previewed["errors"] == []
    assert D(previewed["quote_size"]) == D("0.02") * D("30100")
    assert nothing.status_code == 400


async def test_an_edit_may_not_go_below_the_filled_size(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim)
    await sim.pause_market()
    try:
        async with coinbase_http(sim, key) as cb:
            book = await cb.get(f"{API}/product_book", product_id="BTC-USDT", limit=1)
            best_ask = book["pricebook"]["asks"][0]
            size = D(best_ask["size"]) + D("0.01")  # takes the level, the rest rests there
            placed = await cb.limit_order("BUY", str(size), best_ask["price"])
            order = await get_order(cb, placed["order_id"])
            below = await cb.post(
                f"{API}/orders/edit", {"order_id": placed["order_id"], "size": "0.00001"}
            )
            down_to_filled = await cb.post(
                f"{API}/orders/edit",
                {"order_id": placed["order_id"], "size": order["filled_size"]},
            )
            done = await get_order(cb, placed["order_id"])
    finally:
        await sim.resume_market()
    assert order["status"] == "OPEN"
    assert D(order["filled_size"]) == D(best_ask["size"])
    assert below["errors"][0]["edit_failure_reason"] == "CANNOT_EDIT_TO_BELOW_FILLED_SIZE"
    assert down_to_filled["success"] is True  # the filled size is the whole order now
    assert done["status"] == "FILLED"


async def test_a_dropped_answer_leaves_the_order_placed(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim)
    await sim.drop_responses(f"{API}/orders", method="POST", venue="coinbase")
    async with coinbase_http(sim, key) as cb:
        cb.http.timeout = httpx.Timeout(2.0)
        with pytest.raises(httpx.ReadTimeout):
            await cb.limit_order("BUY", "0.01", "30000", client_order_id="lost-answer")
        cb.http.timeout = httpx.Timeout(10.0)
        listed = await cb.get(f"{API}/orders/historical/batch", order_status="OPEN")
        again = await cb.limit_order("BUY", "0.01", "30000", client_order_id="lost-answer")
    (order,) = listed["orders"]
    assert order["client_order_id"] == "lost-answer"
    assert again["order_id"] == order["order_id"]  # the retry with the same id places nothing


async def test_a_rest_fault_scoped_to_binance_leaves_coinbase_alone(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    await clean_simulator.fail_requests(count=1, path_prefix="/api/v3", venue="binance")
    async with coinbase_http(clean_simulator, key) as cb:
        untouched = await cb.request("GET", f"{API}/accounts")
        await clean_simulator.fail_requests(count=1, path_prefix="/api/v3", venue="coinbase")
        failed = await cb.request("GET", f"{API}/accounts")
    assert untouched.status_code == 200
    assert failed.status_code == 503


async def test_a_cursor_survives_its_order_leaving_the_listing(
    clean_simulator: SimulatorClient,
) -> None:
    key = await new_coinbase_trader(clean_simulator)
    async with coinbase_http(clean_simulator, key) as cb:
        ids = [(await cb.limit_order("BUY", "0.001", str(30000 + n)))["order_id"] for n in range(5)]
        path = f"{API}/orders/historical/batch"
        first = await cb.get(path, order_status="OPEN", limit=2)
        await cb.post(
            f"{API}/orders/batch_cancel", {"order_ids": [first["orders"][-1]["order_id"]]}
        )
        rest = await cb.get(path, order_status="OPEN", limit=10, cursor=first["cursor"])
        bad = await cb.request("GET", path, params={"cursor": "not-ours"})
    assert [o["order_id"] for o in first["orders"]] == [ids[4], ids[3]]
    assert [o["order_id"] for o in rest["orders"]] == [ids[2], ids[1], ids[0]]
    assert (rest["has_next"], rest["cursor"]) == (False, "")
    assert bad.status_code == 400


async def test_a_bracket_is_one_order_whose_stop_exits_the_position(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim, {"SOL": "10", "USDT": "1000"})
    async with coinbase_http(sim, key) as cb:
        config = {
            "trigger_bracket_gtc": {
                "base_size": "2.000",
                "limit_price": "400.00",
                "stop_trigger_price": "60.00",
            }
        }
        resting = await cb.post(f"{API}/orders", order_body(config, "SELL", "SOL-USDT"))
        before = await get_order(cb, resting["order_id"])
        held = (await sim.balances(key.account_id))["SOL"]["locked"]
        listed = await cb.get(f"{API}/orders/historical/batch", order_status="OPEN")
        await cb.post(f"{API}/orders/batch_cancel", {"order_ids": [resting["order_id"]]})
        cancelled = await get_order(cb, resting["order_id"])

        wrong_side = await cb.post(
            f"{API}/orders",
            order_body(
                {
                    "trigger_bracket_gtc": {
                        **config["trigger_bracket_gtc"],
                        "stop_trigger_price": "500.00",
                    }
                },
                "SELL",
                "SOL-USDT",
            ),
        )
        stopped = await cb.post(f"{API}/orders", order_body(config, "SELL", "SOL-USDT"))
        await sim.print_trades("SOLUSDT", 1, "55.00", "0.001")  # the stop triggers
        exited = await get_order(cb, stopped["order_id"])
        fills = await cb.get(f"{API}/orders/historical/fills", order_ids=stopped["order_id"])
    assert before["order_type"] == "BRACKET"
    assert before["order_configuration"] == config
    assert (before["status"], before["trigger_status"]) == ("OPEN", "STOP_PENDING")
    assert held == D("2")  # one reservation for both legs
    assert [o["order_id"] for o in listed["orders"]] == [resting["order_id"]]
    assert cancelled["status"] == "CANCELLED"
    assert wrong_side["error_response"]["preview_failure_reason"] == "PREVIEW_INVALID_STOP_PRICE"
    assert (exited["status"], exited["trigger_status"]) == ("FILLED", "STOP_TRIGGERED")
    assert exited["filled_size"] == "2.000"
    assert D(exited["average_filled_price"]) >= D("57")  # a limit 5 % below the trigger
    assert {f["order_id"] for f in fills["fills"]} == {stopped["order_id"]}
    balances = await sim.balances(key.account_id)
    assert balances["SOL"] == {"free": D("8"), "locked": D("0")}


async def test_v2_account_transactions_list_the_ledgers_transfers_of_that_currency(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    key = await new_coinbase_trader(sim, {"USD": "250", "BTC": "1"})
    account_id = key.account_id
    dep = await sim.record_transfer(account_id, "deposit", "BTC", "0.5", network="bitcoin")
    sent = await sim.record_transfer(
        account_id, "withdrawal", "BTC", "0.2", fee="0.0001", address="bc1qdest", tx_id="h9"
    )
    usd = await sim.record_transfer(account_id, "deposit", "USD", "100", status="pending")
    async with coinbase_http(sim, key) as cb:
        accounts = {a["currency"]["code"]: a["id"] for a in (await cb.get("/v2/accounts"))["data"]}
        btc_path = f"/v2/accounts/{accounts['BTC']}/transactions"
        newest = await cb.get(btc_path, limit=1)
        older = await cb.get(
            btc_path, limit=1, starting_after=newest["pagination"]["next_starting_after"]
        )
        oldest_first = await cb.get(btc_path, order="asc")
        fiat = await cb.get(f"/v2/accounts/{accounts['USD']}/transactions")
        bad_after = await cb.request("GET", btc_path, params={"starting_after": "nope"})
        missing = await cb.request("GET", "/v2/accounts/nope/transactions")
    [send] = newest["data"]
    assert (send["id"], send["type"], send["status"]) == (sent["id"], "send", "completed")
    assert send["amount"] == {"amount": "-0.20000000", "currency": "BTC"}
    assert send["network"]["transaction_fee"] == {"amount": "0.00010000", "currency": "BTC"}
    assert (send["network"]["hash"], send["to"]["address"]) == ("h9", "bc1qdest")
    [receive] = older["data"]
    assert (receive["id"], receive["type"], receive["network"]["name"]) == (
        dep["id"],
        "receive",
        "bitcoin",
    )
    assert "transaction_fee" not in receive["network"]
    assert older["pagination"]["next_starting_after"] is None
    assert [t["id"] for t in oldest_first["data"]] == [dep["id"], sent["id"]]
    [cash] = fiat["data"]
    assert (cash["id"], cash["type"], cash["status"], "network" in cash) == (
        usd["id"],
        "fiat_deposit",
        "pending",
        False,
    )
    assert bad_after.status_code == 400
    assert missing.status_code == 404
