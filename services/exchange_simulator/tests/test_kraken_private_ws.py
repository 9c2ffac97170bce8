"""Kraken's authenticated WebSocket v2 at the wire: tokens, the executions and balances
channels as Kraken shapes them, trading requests, and faults on private sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import websockets

from eip.exchange_simulator.client import ApiCredentials, SimulatorClient

from .kraken_book import Feed
from .kraken_client import KrakenRest, kraken_rest, kraken_trader, private_ws_url
from .test_faults import drain
from .test_kraken_private_rest import far_below

D = Decimal


@asynccontextmanager
async def private_feed(sim: SimulatorClient) -> AsyncIterator[Feed]:
    async with websockets.connect(private_ws_url(sim)) as ws:
        feed = Feed(ws)
        status = await feed.recv()
        assert status["channel"] == "status"
        yield feed


async def token_of(kraken: KrakenRest) -> str:
    result = await kraken.result("GetWebSocketsToken")
    assert result["expires"] == 900
    token: str = result["token"]
    return token


async def channel_messages(feed: Feed, channel: str, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(out) < count:
            message = await feed.recv()
            if message.get("channel") == channel:
                out.append(message)
    return out


async def subscribe(feed: Feed, token: str, channel: str, **params: Any) -> dict[str, Any]:
    await feed.send(
        {"method": "subscribe", "params": {"channel": channel, "token": token, **params}}
    )
    return await feed.reply("subscribe")


async def test_tokens_open_the_private_channels_of_their_account(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire)
    other = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        refused = await subscribe(feed, "not-a-token", "executions")
        assert refused["success"] is False
        assert refused["error"] == "ESession:Invalid session"
        token = await token_of(kraken)
        ack = await subscribe(feed, token, "executions")
        assert ack["success"] is True
        assert ack["result"]["channel"] == "executions"
        assert ack["result"]["snap_orders"] is True
        again = await subscribe(feed, token, "executions")
        assert again["error"] == "Already subscribed"
        async with kraken_rest(kraken_wire, other) as kraken2:
            foreign = await token_of(kraken2)
        mixed = await subscribe(feed, foreign, "balances")
        assert mixed["error"] == "ESession:Invalid session"  # one socket, one account
        await feed.send({"method": "ping", "req_id": 5})
        pong = await feed.reply("pong")
        assert pong["req_id"] == 5


async def test_executions_report_an_order_from_placement_to_fill(
    kraken_wire: SimulatorClient,
) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "100000", "BTC": "1"})
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        price = await far_below(kraken)
        resting = await kraken.result(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": price,
                "cl_ord_id": "rest-1",
            },
        )
        await subscribe(feed, token, "executions", snap_trades=True)
        (snapshot,) = await channel_messages(feed, "executions", 1)
        assert snapshot["type"] == "snapshot"
        assert snapshot["sequence"] == 1
        (live,) = snapshot["data"]
        assert live["order_id"] == resting["txid"][0]
        assert (live["order_status"], live["symbol"], live["side"]) == ("new", "BTC/USD", "buy")
        assert (live["order_qty"], live["limit_price"]) == (D("0.01"), D(price))
        assert live["cl_ord_id"] == "rest-1"

        sold = await kraken.result(
            "AddOrder",
            {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "0.002"},
        )
        txid = sold["txid"][0]
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not events or events[-1]["data"][0]["exec_type"] != "filled":
                (message,) = await channel_messages(feed, "executions", 1)
                if message["data"][0]["order_id"] == txid:
                    events.append(message)
        kinds = [m["data"][0]["exec_type"] for m in events]
        assert kinds[:2] == ["pending_new", "new"]
        assert set(kinds[2:-1]) == {"trade"}
        assert kinds[-1] == "filled"
        sequences = [m["sequence"] for m in events]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == len(sequences)
        pending = events[0]["data"][0]
        assert (pending["order_type"], pending["side"], pending["order_qty"]) == (
            "market",
            "sell",
            D("0.002"),
        )
        fills = [m["data"][0] for m in events if m["data"][0]["exec_type"] == "trade"]
        assert sum(f["last_qty"] for f in fills) == D("0.002")
        for fill in fills:
            assert fill["exec_id"].startswith("T")
            assert fill["liquidity_ind"] == "t"
            assert fill["cost"] == fill["last_qty"] * fill["last_price"]
            (fee,) = fill["fees"]
            assert fee["asset"] == "USD"  # a sell's fee comes out of the dollars received
            assert fee["qty"] > 0
        done = events[-1]["data"][0]
        assert done["cum_qty"] == D("0.002")
        assert done["cum_cost"] == sum(f["cost"] for f in fills)
        history = await kraken.result("TradesHistory")
        assert {f["exec_id"] for f in fills} == set(history["trades"])


async def test_a_cancel_is_reported_with_its_reason(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        await subscribe(feed, token, "executions", order_status=False)
        await channel_messages(feed, "executions", 1)  # the (empty) snapshot
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
        (new,) = await channel_messages(feed, "executions", 1)
        assert new["data"][0]["exec_type"] == "new"  # no pending_new without order_status
        assert new["data"][0]["limit_price"] == D(price)  # so new carries every field
        await kraken.result("CancelOrder", {"txid": placed["txid"][0]})
        (cancelled,) = await channel_messages(feed, "executions", 1)
        item = cancelled["data"][0]
        assert (item["exec_type"], item["order_status"]) == ("canceled", "canceled")
        assert item["cancel_reason"] == "User requested"
        assert cancelled["sequence"] == new["sequence"] + 1


async def test_balances_snapshot_then_ledger_updates(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, {"USD": "20000", "BTC": "0.5"})
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        ack = await subscribe(feed, token, "balances")
        assert ack["result"] == {"channel": "balances", "snapshot": True}
        (snapshot,) = await channel_messages(feed, "balances", 1)
        assert snapshot["type"] == "snapshot"
        totals = {b["asset"]: b["balance"] for b in snapshot["data"]}
        assert totals == {"BTC": D("0.5"), "USD": D(20000)}
        assert snapshot["data"][0]["wallets"] == [
            {"type": "spot", "id": "main", "balance": snapshot["data"][0]["balance"]}
        ]
        price = await far_below(kraken)
        await kraken.result(  # a resting order holds funds: no ledger entry
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": price,
            },
        )
        await kraken.result(
            "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"}
        )
        (update,) = await channel_messages(feed, "balances", 1)
        assert update["type"] == "update"
        assert update["sequence"] == 2
        entries = {e["asset"]: e for e in update["data"]}
        assert set(entries) == {"BTC", "USD"}
        assert entries["BTC"]["type"] == "trade"
        assert entries["BTC"]["balance"] == D("0.5") + entries["BTC"]["amount"]
        assert D("0") < entries["BTC"]["amount"] < D("0.001")  # less the fee
        assert entries["USD"]["amount"] < 0
        truth = await kraken_wire.balances(creds.account_id)
        assert entries["USD"]["balance"] == truth["USD"]["free"] + truth["USD"]["locked"]


async def test_trading_requests_answer_per_request(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        price = D(await far_below(kraken))
        order = {
            "order_type": "limit",
            "side": "buy",
            "order_qty": 0.001,
            "symbol": "BTC/USD",
            "limit_price": float(price),
            "token": token,
        }
        await feed.send(
            {"method": "add_order", "params": {**order, "cl_ord_id": "ws-1"}, "req_id": 1}
        )
        added = await feed.reply("add_order")
        assert added["success"] is True
        assert added["req_id"] == 1
        assert added["result"]["cl_ord_id"] == "ws-1"
        txid = added["result"]["order_id"]
        await feed.send(
            {"method": "add_order", "params": {**order, "symbol": "BTC/EUR"}, "req_id": 2}
        )
        bad = await feed.reply("add_order")
        assert (bad["success"], bad["error"], bad["req_id"]) == (
            False,
            "EQuery:Unknown asset pair",
            2,
        )
        stop = {
            **order,
            "order_type": "stop-loss",
            "side": "sell",
            "triggers": {"price": -5, "price_type": "pct", "reference": "last"},
        }
        stop.pop("limit_price")
        await feed.send({"method": "add_order", "params": stop, "req_id": 3})
        stopped = await feed.reply("add_order")
        assert stopped["success"] is True, stopped
        orders = await kraken.result("QueryOrders", {"txid": stopped["result"]["order_id"]})
        assert orders[stopped["result"]["order_id"]]["descr"]["order"].endswith("stop loss -5%")
        await feed.send(
            {"method": "cancel_order", "params": {"order_id": [txid], "token": token}, "req_id": 4}
        )
        cancelled = await feed.reply("cancel_order")
        assert cancelled["result"] == {"order_id": txid}
        await feed.send({"method": "cancel_all", "params": {"token": token}, "req_id": 5})
        assert (await feed.reply("cancel_all"))["result"] == {"count": 1}


async def test_a_read_only_token_cannot_trade(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire, profile="read-only")
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        await feed.send({"method": "cancel_all", "params": {"token": token}, "req_id": 1})
        refused = await feed.reply("cancel_all")
        assert refused["error"] == "EGeneral:Permission denied"
        assert (await subscribe(feed, token, "balances"))["success"] is True


@pytest.mark.parametrize("stream", [None, "kraken-auth", "executions", "userData"])
async def test_dropping_private_streams_closes_the_socket(
    kraken_wire: SimulatorClient, stream: str | None
) -> None:
    creds: ApiCredentials = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        await subscribe(feed, token, "executions")
        assert await kraken_wire.drop_streams(stream) >= 1
        with pytest.raises(websockets.ConnectionClosed):
            await drain(feed.ws)


async def test_a_stall_holds_private_messages(kraken_wire: SimulatorClient) -> None:
    creds = await kraken_trader(kraken_wire)
    async with kraken_rest(kraken_wire, creds) as kraken, private_feed(kraken_wire) as feed:
        token = await token_of(kraken)
        await subscribe(feed, token, "executions")
        await channel_messages(feed, "executions", 1)
        await kraken_wire.stall_streams(1.5)
        started = asyncio.get_running_loop().time()
        await kraken.result(
            "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"}
        )
        await channel_messages(feed, "executions", 1)
        assert asyncio.get_running_loop().time() - started >= 1.0
