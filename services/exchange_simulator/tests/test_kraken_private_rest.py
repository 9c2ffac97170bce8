"""Kraken private REST at the wire: signing, nonces, the error array, permissions, rate limits,
order entry (cl_ord_id, validate, batches, edits, cancels) and the queries, over one account
that other dialects share."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from eip.exchange_simulator.client import SimulatorClient

from .helpers import binance
from .kraken_client import (
    KrakenRest,
    kraken_rest,
    kraken_trader,
    reset_kraken_limits,
    set_kraken_limits,
)

D = Decimal


async def far_below(kraken: KrakenRest, pair: str = "XBTUSD") -> str:
    """A limit price 10 % under the best bid: an order there rests."""
    depth = (await kraken.public("Depth", pair=pair, count=1))["result"]
    bid = D(next(iter(depth.values()))["bids"][0][0])
    return str((bid * D("0.9")).quantize(D("0.1")))


async def test_signature_nonce_and_key_failures_are_krakens_errors(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken:
        assert await kraken.error("Balance", api_key="bm90IGEga2V5") == "EAPI:Invalid key"
        assert await kraken.error("Balance", api_key="") == "EAPI:Invalid key"
        wrong = "A" * 86 + "=="
        assert await kraken.error("Balance", secret=wrong) == "EAPI:Invalid signature"
        assert await kraken.error("Balance", nonce=0) == "EAPI:Invalid nonce"
        first = await kraken.private("Balance", nonce=5_000_000)
        assert first.json()["error"] == []
        assert await kraken.error("Balance", nonce=5_000_000) == "EAPI:Invalid nonce"
        assert await kraken.error("Balance", nonce=4_999_999) == "EAPI:Invalid nonce"
        assert (await kraken.private("Balance", nonce=5_000_001)).json()["error"] == []
        # A forged request does not burn the owner's next nonce.
        assert await kraken.error("Balance", nonce=9_000_000, secret=wrong) == (
            "EAPI:Invalid signature"
        )
        assert (await kraken.private("Balance", nonce=6_000_000)).json()["error"] == []
        assert await kraken.error("NoSuchMethod") == "EGeneral:Unknown method"


async def test_a_binance_key_is_unknown_to_kraken(kraken_wire: SimulatorClient) -> None:
    account = f"mixed-{uuid.uuid4().hex[:8]}"
    binance_creds = await kraken_wire.create_account_with_key(account, {"USD": "10"})
    async with kraken_rest(kraken_wire, binance_creds) as kraken:
        assert await kraken.error("Balance") == "EAPI:Invalid key"


async def test_balances_use_kraken_asset_ids_and_show_holds(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "1000", "BTC": "0.5", "USDT": "7"})
    async with kraken_rest(kraken_wire, creds) as kraken:
        assert await kraken.result("Balance") == {
            "XXBT": "0.5000000000",
            "USDT": "7.00000000",
            "ZUSD": "1000.0000",
        }
        price = await far_below(kraken)
        await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": price,
            },
        )
        extended = await kraken.result("BalanceEx")
    held = D("0.01") * D(price)
    assert D(extended["ZUSD"]["balance"]) == 1000
    assert D(extended["ZUSD"]["hold_trade"]) == held
    assert D(extended["XXBT"]["hold_trade"]) == 0


async def test_read_only_key_may_read_but_not_trade(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, profile="read-only")
    async with kraken_rest(kraken_wire, creds) as kraken:
        assert "ZUSD" in await kraken.result("Balance")
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"}
        assert await kraken.error("AddOrder", order) == "EGeneral:Permission denied"
        assert await kraken.error("CancelAll") == "EGeneral:Permission denied"
        # only a withdrawal key may ask how to withdraw (what key validation probes)
        assert await kraken.error("WithdrawMethods") == "EGeneral:Permission denied"


async def test_withdraw_methods_answer_only_a_key_that_may_withdraw(
    kraken_wire: SimulatorClient,
) -> None:
    for profile, allowed in (("trading", False), ("trading+withdrawal", True)):
        creds = await kraken_trader(kraken_wire, profile=profile)
        async with kraken_rest(kraken_wire, creds) as kraken:
            answer = (await kraken.private("WithdrawMethods", {"asset": "XBT"})).json()
        if allowed:
            assert answer == {"error": [], "result": []}
        else:
            assert answer["error"] == ["EGeneral:Permission denied"]


async def test_ip_allow_list_is_enforced(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    elsewhere = await kraken_wire.create_key(
        creds.account_id, ip_allowlist=["10.9.8.0/24"], venue="kraken"
    )
    async with kraken_rest(kraken_wire, elsewhere) as kraken:
        assert await kraken.error("Balance") == "EGeneral:Permission denied"


async def test_order_errors_in_the_error_array(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "10"})
    base = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit"}
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        cases: list[tuple[dict[str, Any], str]] = [
            ({**base, "volume": "1", "price": price}, "EOrder:Insufficient funds"),
            ({**base, "volume": "0.00001", "price": price}, "EOrder:Order minimum not met"),
            (
                {**base, "volume": "0.001", "price": "60000.05"},
                "EOrder:Invalid price:XBTUSD price can only be specified up to 1 decimals.",
            ),
            (
                {**base, "volume": "0.000000001", "price": price},
                "EGeneral:Invalid arguments:volume",
            ),
            ({**base, "pair": "XBTEUR", "volume": "1", "price": "1"}, "EQuery:Unknown asset pair"),
            (
                {**base, "ordertype": "iceberg", "volume": "1", "price": "1"},
                "EGeneral:Invalid arguments:ordertype",
            ),
            ({**base, "volume": "0.001"}, "EGeneral:Invalid arguments:price"),
            (
                {**base, "volume": "0.001", "price": price, "oflags": "fcib,fciq"},
                "EGeneral:Invalid arguments:oflags",
            ),
            (
                {**base, "volume": "0.001", "price": price, "oflags": "viqc"},
                "EGeneral:Invalid arguments:viqc",
            ),
            (
                {**base, "volume": "0.001", "price": price, "cl_ord_id": "has spaces in it"},
                "EGeneral:Invalid arguments:cl_ord_id",
            ),
            (
                {**base, "type": "hold", "volume": "0.001", "price": price},
                "EGeneral:Invalid arguments:type",
            ),
        ]
        for params, expected in cases:
            assert await kraken.error("AddOrder", params) == expected, params
        assert await kraken.error("CancelOrder", {"txid": "OAAAAA-BBBBB-CCCCCC"}) == (
            "EOrder:Unknown order"
        )
        assert await kraken.result("OpenOrders") == {"open": {}}


async def test_halted_pair_takes_no_orders(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    await kraken_wire.halt("BTCUSD")
    try:
        async with kraken_rest(kraken_wire, creds) as kraken:
            order = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"}
            assert await kraken.error("AddOrder", order) == "EService:Market in cancel_only mode"
    finally:
        await kraken_wire.resume_symbol("BTCUSD")


async def test_cl_ord_id_names_an_order_until_it_closes(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    client_id = "my-order-0001"
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        order = {
            "pair": "XXBTZUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.001",
            "price": price,
            "cl_ord_id": client_id,
        }
        placed = await kraken.result("AddOrder", order)
        txid = placed["txid"][0]
        assert placed["descr"]["order"] == f"buy 0.00100000 XBTUSD @ limit {price}"
        assert await kraken.error("AddOrder", order) == (
            "EGeneral:Invalid arguments:cl_ord_id already in use"
        )
        found = await kraken.result("OpenOrders", {"cl_ord_id": client_id})
        assert list(found["open"]) == [txid]
        assert found["open"][txid]["cl_ord_id"] == client_id
        assert (await kraken.result("CancelOrder", {"cl_ord_id": client_id})) == {"count": 1}
        closed = await kraken.result("QueryOrders", {"txid": txid})
        assert closed[txid]["status"] == "canceled"
        assert closed[txid]["reason"] == "User requested"
        again = await kraken.result("AddOrder", order)  # free again once the first closed
        assert again["txid"][0] != txid
        uuid_id = str(uuid.uuid4())
        assert "txid" in await kraken.result("AddOrder", {**order, "cl_ord_id": uuid_id})


async def test_userref_groups_orders_for_queries_and_cancels(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.001"}
        for userref in (7, 7, 8):
            await kraken.result("AddOrder", {**order, "price": price, "userref": userref})
        sevens = await kraken.result("OpenOrders", {"userref": 7})
        assert len(sevens["open"]) == 2
        assert all(o["userref"] == 7 for o in sevens["open"].values())
        assert await kraken.result("CancelOrder", {"txid": "7"}) == {"count": 2}
        assert [o["userref"] for o in (await kraken.result("OpenOrders"))["open"].values()] == [8]


async def test_validate_checks_without_placing(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "10"})
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": price}
        checked = await kraken.result("AddOrder", {**order, "volume": "0.0001", "validate": "true"})
        assert checked == {"descr": {"order": f"buy 0.00010000 XBTUSD @ limit {price}"}}
        assert await kraken.result("OpenOrders") == {"open": {}}
        too_small = {**order, "volume": "0.00001", "validate": "true"}
        assert await kraken.error("AddOrder", too_small) == "EOrder:Order minimum not met"


async def test_market_orders_by_volume_and_by_quote_cost(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "100000", "BTC": "0"})
    async with kraken_rest(kraken_wire, creds) as kraken:
        bought = await kraken.result(
            "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.002"}
        )
        assert bought["descr"]["order"] == "buy 0.00200000 XBTUSD @ market"
        by_cost = await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "market",
                "volume": "100",
                "oflags": "viqc",
            },
        )
        orders = await kraken.result(
            "QueryOrders", {"txid": f"{bought['txid'][0]},{by_cost['txid'][0]}", "trades": "true"}
        )
    first, second = orders[bought["txid"][0]], orders[by_cost["txid"][0]]
    assert first["status"] == "closed"
    assert D(first["vol_exec"]) == D("0.002")
    assert first["oflags"] == "fcib"  # a buy's fee is taken in what it receives
    assert D(first["fee"]) > 0
    assert first["trades"]
    assert second["status"] == "closed"
    assert 99 < D(second["cost"]) <= 100
    assert second["oflags"] == "fcib,viqc"


async def test_stop_orders_and_relative_prices(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken:
        stop = await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "sell",
                "ordertype": "stop-loss-limit",
                "volume": "0.01",
                "price": "-10%",
                "price2": "-11%",
            },
        )
        take = await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "sell",
                "ordertype": "take-profit",
                "volume": "0.01",
                "price": "+5000",
            },
        )
        txids = f"{stop['txid'][0]},{take['txid'][0]}"
        orders = await kraken.result("QueryOrders", {"txid": txids})
    stop_order, take_order = orders[stop["txid"][0]], orders[take["txid"][0]]
    assert stop["descr"]["order"].startswith("sell 0.01000000 XBTUSD @ stop loss -10% -> limit")
    assert stop_order["status"] == "open"
    assert stop_order["descr"]["ordertype"] == "stop-loss-limit"
    assert D(stop_order["stopprice"]) > D(stop_order["limitprice"]) > 0
    assert take_order["descr"]["order"] == "sell 0.01000000 XBTUSD @ take profit +5000"
    assert take_order["trigger"] == "last"


async def test_add_order_batch_is_checked_whole_then_placed_in_turn(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "1000", "BTC": "0"})
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        good = {"type": "buy", "ordertype": "limit", "volume": "0.001", "price": price}
        bad = {**good, "volume": "0.000001"}
        refused = await kraken.private(
            "AddOrderBatch", {"pair": "XBTUSD", "orders": [good, bad]}, as_json=True
        )
        assert refused.json() == {"error": ["EOrder:Order minimum not met"]}
        assert await kraken.result("OpenOrders") == {"open": {}}
        # Both pass the checks, but funds cover only the first: the second fails in place.
        big = {**good, "volume": "0.02"}
        mixed = await kraken.result(
            "AddOrderBatch",
            {"pair": "XBTUSD", "orders": [good, big, {**good, "cl_ord_id": "batch-3"}]},
            as_json=True,
        )
        assert [("txid" in o, o.get("error")) for o in mixed["orders"]] == [
            (True, None),
            (False, "EOrder:Insufficient funds"),
            (True, None),
        ]
        opened = (await kraken.result("OpenOrders"))["open"]
        assert set(opened) == {mixed["orders"][0]["txid"], mixed["orders"][2]["txid"]}
        cancelled = await kraken.result(
            "CancelOrderBatch", {"orders": [mixed["orders"][0]["txid"], "batch-3"]}, as_json=True
        )
        assert cancelled == {"count": 2}


async def test_edit_order_replaces_the_order(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        placed = await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.001",
                "price": price,
            },
        )
        old = placed["txid"][0]
        lower = str(D(price) - 1)
        edited = await kraken.result(
            "EditOrder", {"txid": old, "pair": "XBTUSD", "volume": "0.002", "price": lower}
        )
        assert edited["originaltxid"] == old
        assert edited["orders_cancelled"] == 1
        assert edited["descr"]["order"] == f"buy 0.00200000 XBTUSD @ limit {lower}"
        new = edited["txid"]
        orders = await kraken.result("QueryOrders", {"txid": f"{old},{new}"})
        assert orders[old]["status"] == "canceled"
        assert orders[new]["status"] == "open"
        assert D(orders[new]["vol"]) == D("0.002")
        assert await kraken.error("EditOrder", {"txid": old, "volume": "0.003"}) == (
            "EOrder:Unknown order"
        )
        # Only the volume: the price stays.
        again = await kraken.result("EditOrder", {"txid": new, "volume": "0.003"})
        kept = await kraken.result("QueryOrders", {"txid": again["txid"]})
        assert kept[again["txid"]]["descr"]["price"] == lower
        assert D(kept[again["txid"]]["vol"]) == D("0.003")
        assert await kraken.error("EditOrder", {"txid": again["txid"], "volume": "x"}) == (
            "EGeneral:Invalid arguments:volume"
        )


async def test_cancel_all_and_closed_orders_paging(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.001"}
        for _ in range(3):
            await kraken.result("AddOrder", {**order, "price": price})
        assert await kraken.result("CancelAll") == {"count": 3}
        closed = await kraken.result("ClosedOrders")
        assert closed["count"] == 3
        assert all(o["status"] == "canceled" for o in closed["closed"].values())
        page = await kraken.result("ClosedOrders", {"ofs": 2})
        assert (len(page["closed"]), page["count"]) == (1, 3)


async def test_trades_history_and_query_trades(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "100000", "BTC": "1"})
    async with kraken_rest(kraken_wire, creds) as kraken:
        sold = await kraken.result(
            "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "0.003"}
        )
        history = await kraken.result("TradesHistory")
        assert history["count"] >= 1
        trades = history["trades"]
        assert all(t["ordertxid"] == sold["txid"][0] for t in trades.values())
        assert sum(D(t["vol"]) for t in trades.values()) == D("0.003")
        one = next(iter(trades))
        trade = trades[one]
        assert trade["pair"] == "XXBTZUSD"
        assert (trade["type"], trade["ordertype"], trade["maker"]) == ("sell", "market", False)
        assert D(trade["cost"]) == D(trade["vol"]) * D(trade["price"])
        assert D(trade["fee"]) > 0
        assert await kraken.result("QueryTrades", {"txid": one}) == {one: trade}


async def test_api_counter_refuses_calls_past_the_tier_maximum(
    clean_simulator: SimulatorClient,
) -> None:
    creds = await kraken_trader(clean_simulator)
    # No decay while counting, so the test does not depend on how fast the machine is.
    await set_kraken_limits(clean_simulator, api_max=4, api_decay_per_s=0)
    async with kraken_rest(clean_simulator, creds) as kraken:
        assert (await kraken.private("Balance")).json()["error"] == []  # 1
        assert (await kraken.private("Balance")).json()["error"] == []  # 2
        assert (await kraken.private("TradesHistory")).json()["error"] == []  # costs 2: 4
        assert await kraken.error("Balance") == "EAPI:Rate limit exceeded"  # 5 > 4, not counted
        # Order entry has its own limiter: it still works while the counter is full.
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.0001"}
        assert (await kraken.private("AddOrder", order)).json()["error"] == []
        # The counter drains at the tier's rate: a fast one has emptied it by the next call.
        await set_kraken_limits(clean_simulator, api_decay_per_s=1000)
        assert (await kraken.private("TradesHistory")).json()["error"] == []


async def test_order_counter_refuses_new_orders_and_counts_young_cancels(
    clean_simulator: SimulatorClient,
) -> None:
    creds = await kraken_trader(clean_simulator)
    await set_kraken_limits(clean_simulator, api_max=1000, order_max=10, order_decay_per_s=0.01)
    async with kraken_rest(clean_simulator, creds) as kraken:
        price = await far_below(kraken)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.0001"}
        placed = await kraken.result("AddOrder", {**order, "price": price})
        # Cancelling an order younger than 5 s costs 8: 1 + 8 of 10 used.
        await kraken.result("CancelOrder", {"txid": placed["txid"][0]})
        assert "txid" in await kraken.result("AddOrder", {**order, "price": price})
        assert await kraken.error("AddOrder", {**order, "price": price}) == (
            "EOrder:Rate limit exceeded"
        )
        # Another pair has its own counter.
        eth = {"pair": "ETHUSD", "type": "buy", "ordertype": "market", "volume": "0.01"}
        assert "txid" in await kraken.result("AddOrder", eth)


async def test_open_orders_per_pair_are_capped(clean_simulator: SimulatorClient) -> None:
    creds = await kraken_trader(clean_simulator)
    await set_kraken_limits(clean_simulator, api_max=1000, open_orders_max=2)
    async with kraken_rest(clean_simulator, creds) as kraken:
        price = await far_below(kraken)
        order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.0001"}
        for _ in range(2):
            await kraken.result("AddOrder", {**order, "price": price})
        assert await kraken.error("AddOrder", {**order, "price": price}) == (
            "EOrder:Orders limit exceeded"
        )


async def test_private_rest_faults_apply(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    await kraken_wire.fail_requests(count=1, status=503, path_prefix="/0/private/Balance")
    async with kraken_rest(kraken_wire, creds) as kraken:
        failed = await kraken.private("Balance")
        assert (failed.status_code, failed.json()) == (503, {"error": ["EService:Unavailable"]})
        assert "ZUSD" in await kraken.result("Balance")


async def test_a_binance_fill_shows_in_krakens_balance(kraken_wire: SimulatorClient) -> None:
    """One account, two dialects: a fill through Binance changes what Kraken reports, under
    Kraken's asset names."""
    sim = kraken_wire
    account = f"both-{uuid.uuid4().hex[:8]}"
    await sim.create_account(account, {"USDT": "10000", "BTC": "0"})
    binance_key = await sim.create_key(account)
    kraken_key = await sim.create_key(account, venue="kraken")
    async with kraken_rest(sim, kraken_key) as kraken:
        before = await kraken.result("Balance")
        async with binance(sim, binance_key) as ex:
            await ex.create_order("BTC/USDT", "market", "buy", 0.01)
        after = await kraken.result("Balance")
        orders = await kraken.result("ClosedOrders")
        trades = await kraken.result("TradesHistory")
    truth = await sim.balances(account)
    assert before == {"USDT": "10000.00000000", "XXBT": "0.0000000000"}
    assert D(after["XXBT"]) == truth["BTC"]["free"] + truth["BTC"]["locked"]
    assert D("0.0099") < D(after["XXBT"]) < D("0.01")  # 0.01 less the taker fee
    assert D(after["USDT"]) == truth["USDT"]["free"] < 10000
    (order,) = orders["closed"].values()
    assert order["descr"]["pair"] == "XBTUSDT"
    assert order["descr"]["ordertype"] == "market"
    assert trades["count"] >= 1


async def test_clearing_faults_restores_krakens_limits(clean_simulator: SimulatorClient) -> None:
    tightened = await set_kraken_limits(clean_simulator, tier="pro", api_max=2)
    assert (tightened["tier"], tightened["api_max"]) == ("pro", 2)
    await clean_simulator.clear_faults()
    restored = await set_kraken_limits(clean_simulator)
    assert (restored["tier"], restored["api_max"], restored["order_max"]) == ("starter", 15, 60)
    await set_kraken_limits(clean_simulator, open_orders_max=1)
    await reset_kraken_limits(clean_simulator)
    assert (await set_kraken_limits(clean_simulator))["open_orders_max"] == 60


async def test_a_dropped_answer_leaves_the_order_placed(kraken_wire: SimulatorClient) -> None:
    """drop-response: Kraken has the order, the client only sees its request time out — and
    finds the order by its cl_ord_id."""
    creds = await kraken_trader(kraken_wire)
    await kraken_wire.drop_responses("/0/private/AddOrder", method="POST", venue="kraken")
    async with kraken_rest(kraken_wire, creds) as kraken:
        price = await far_below(kraken)
        order = {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.001",
            "price": price,
            "cl_ord_id": "lost-answer-1",
        }
        kraken.http.timeout = httpx.Timeout(2.0)
        try:
            await kraken.private("AddOrder", order)
            raise AssertionError("the answer came back")
        except httpx.ReadTimeout:
            pass
        kraken.http.timeout = httpx.Timeout(10.0)
        found = await kraken.result("OpenOrders", {"cl_ord_id": "lost-answer-1"})
    (placed,) = found["open"].values()
    assert placed["descr"]["order"] == f"buy 0.00100000 XBTUSD @ limit {price}"
