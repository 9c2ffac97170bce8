"""Coinbase Advanced Trade ``level2``: a naive client keeps books from ``l2_data`` snapshot +
updates, checks that ``sequence_num`` never skips, and ends equal to the simulator's true book;
faults are seen as a client sees them."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import websockets

from eip.exchange_simulator.client import SimulatorClient

from .test_faults import drain

D = Decimal
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


@dataclass
class Books:
    bids: dict[str, dict[Decimal, Decimal]] = field(default_factory=dict)
    asks: dict[str, dict[Decimal, Decimal]] = field(default_factory=dict)

    def apply(self, event: dict[str, Any]) -> None:
        product = event["product_id"]
        if event["type"] == "snapshot":
            self.bids[product], self.asks[product] = {}, {}
        for update in event["updates"]:
            assert update["side"] in ("bid", "offer")
            side = self.bids[product] if update["side"] == "bid" else self.asks[product]
            assert isinstance(update["price_level"], str)
            assert isinstance(update["new_quantity"], str)
            price, qty = D(update["price_level"]), D(update["new_quantity"])
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty

    async def assert_true_book(self, sim: SimulatorClient, product: str) -> None:
        truth = await sim.book(product.replace("-", ""), limit=1000)
        assert sorted(self.bids[product].items(), reverse=True) == [
            (D(p), D(q)) for p, q in truth["bids"]
        ]
        assert sorted(self.asks[product].items()) == [(D(p), D(q)) for p, q in truth["asks"]]


@dataclass
class Feed:
    ws: Any
    sequence: list[int] = field(default_factory=list)

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.ws.recv())
        if "sequence_num" in message:
            self.sequence.append(message["sequence_num"])
        return message

    async def send(self, request: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(request))

    async def until(self, channel: str, timeout_s: float = 10) -> list[dict[str, Any]]:
        """Messages up to and including the next one on ``channel``."""
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout_s):
            while not out or out[-1].get("channel") != channel:
                out.append(await self.recv())
        return out

    def gaps(self) -> list[tuple[int, int]]:
        return [
            (a, b) for a, b in zip(self.sequence, self.sequence[1:], strict=False) if b != a + 1
        ]


@asynccontextmanager
async def coinbase(sim: SimulatorClient) -> AsyncIterator[Feed]:
    async with websockets.connect(sim.coinbase_ws_url) as ws:
        yield Feed(ws)


async def follow(feed: Feed, books: Books, updates: int) -> None:
    seen = 0
    async with asyncio.timeout(20):
        while seen < updates:
            message = await feed.recv()
            if message["channel"] == "l2_data":
                for event in message["events"]:
                    books.apply(event)
                    seen += event["type"] == "update"


async def settle(sim: SimulatorClient, feed: Feed, books: Books) -> None:
    """Pause the market and apply whatever was still on its way."""
    await sim.pause_market()
    while True:
        try:
            async with asyncio.timeout(0.6):
                message = await feed.recv()
        except TimeoutError:
            return
        if message["channel"] == "l2_data":
            for event in message["events"]:
                books.apply(event)


async def test_level2_follows_the_market_without_gaps(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with coinbase(sim) as feed:
        await feed.send({"type": "subscribe", "channel": "heartbeats"})
        await feed.send(
            {"type": "subscribe", "product_ids": ["BTC-USDT", "SOL-USDT"], "channel": "level2"}
        )
        messages = await feed.until("subscriptions")
        messages += await feed.until("subscriptions")
        heartbeats_ack = messages[0]
        assert heartbeats_ack["events"] == [{"subscriptions": {"heartbeats": ["heartbeats"]}}]
        snapshots = [m for m in messages if m["channel"] == "l2_data"]
        assert [m["events"][0]["product_id"] for m in snapshots] == ["BTC-USDT", "SOL-USDT"]
        assert snapshots[0]["client_id"] == ""
        assert RFC3339_NS.match(snapshots[0]["timestamp"])
        (event,) = snapshots[0]["events"]
        assert event["type"] == "snapshot"
        assert event["updates"][0]["side"] == "bid"
        assert event["updates"][-1]["side"] == "offer"
        assert event["updates"][0]["event_time"] == "1970-01-01T00:00:00Z"
        assert re.fullmatch(r"\d+\.\d{2}", event["updates"][0]["price_level"])
        assert re.fullmatch(r"\d+\.\d{5}", event["updates"][0]["new_quantity"])
        books = Books()
        for snapshot in snapshots:
            books.apply(snapshot["events"][0])
        assert messages[-1]["events"] == [
            {
                "subscriptions": {
                    "level2": ["BTC-USDT", "SOL-USDT"],
                    "heartbeats": ["heartbeats"],
                }
            }
        ]
        await follow(feed, books, 60)
        try:
            await settle(sim, feed, books)
            await books.assert_true_book(sim, "BTC-USDT")
            await books.assert_true_book(sim, "SOL-USDT")
        finally:
            await sim.resume_market()
    assert feed.sequence[0] == 0
    assert feed.gaps() == []
    assert len(feed.sequence) > 60


async def test_heartbeats_count_and_share_the_sequence(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator) as feed:
        await feed.send({"type": "subscribe", "channel": "heartbeats"})
        messages = [m for _ in range(3) for m in await feed.until("heartbeats")]
    beats = [m for m in messages if m["channel"] == "heartbeats"]
    assert [b["events"][0]["heartbeat_counter"] for b in beats] == [1, 2, 3]
    assert " +0000 UTC m=+" in beats[0]["events"][0]["current_time"]
    assert feed.sequence == list(range(len(feed.sequence)))


async def test_errors(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator) as feed:
        await feed.send({"type": "subscribe", "product_ids": ["BTC-XYZ"], "channel": "level2"})
        error = await feed.recv()
        assert error["type"] == "error"
        assert "BTC-XYZ" in error["message"]
        await feed.send(
            {"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "futures_balance_summary"}
        )
        assert (await feed.recv())["type"] == "error"
        await feed.send({"type": "subscribe", "channel": "heartbeats"})
        assert (await feed.recv())["channel"] == "subscriptions"
    assert feed.sequence == [0]  # errors are outside the channel sequence


async def test_unsubscribed_client_is_disconnected(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator) as feed:
        with pytest.raises(websockets.ConnectionClosed):
            await drain(feed.ws, timeout_s=8)


async def test_skipped_messages_leave_a_sequence_gap_and_a_resubscribe_heals(
    clean_simulator: SimulatorClient,
) -> None:
    sim = clean_simulator
    async with coinbase(sim) as feed:
        subscribe = {"type": "subscribe", "product_ids": ["ETH-USDT"], "channel": "level2"}
        await feed.send(subscribe)
        books = Books()
        await follow(feed, books, 3)
        assert feed.gaps() == []
        await sim.skip_sequence("ETHUSDT", 2, venue="coinbase")
        async with asyncio.timeout(10):
            while not feed.gaps():
                message = await feed.recv()
                if message["channel"] == "l2_data":
                    for event in message["events"]:
                        books.apply(event)
        ((before, after),) = feed.gaps()
        assert after == before + 3  # two numbers never arrived
        await feed.send(subscribe)  # resync: a fresh snapshot
        resynced = False
        async with asyncio.timeout(10):
            while not resynced:
                message = await feed.recv()
                for event in message.get("events", []):
                    if message["channel"] == "l2_data":
                        books.apply(event)
                        resynced = resynced or event["type"] == "snapshot"
        await follow(feed, books, 5)
        try:
            await settle(sim, feed, books)
            await books.assert_true_book(sim, "ETH-USDT")
        finally:
            await sim.resume_market()
    assert len(feed.gaps()) == 1


async def test_repeated_message_keeps_its_sequence_number(
    clean_simulator: SimulatorClient,
) -> None:
    async with coinbase(clean_simulator) as feed:
        await feed.send({"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "level2"})
        await follow(feed, Books(), 2)
        await clean_simulator.repeat_sequence("BTCUSDT", 1, venue="coinbase")
        async with asyncio.timeout(10):
            while len(feed.sequence) == len(set(feed.sequence)):
                await feed.recv()
    repeated = [a for a, b in itertools.pairwise(feed.sequence) if a == b]
    assert len(repeated) == 1


async def test_dropped_coinbase_connection_is_closed(clean_simulator: SimulatorClient) -> None:
    async with coinbase(clean_simulator) as feed:
        await feed.send({"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "level2"})
        await feed.until("subscriptions")
        assert await clean_simulator.drop_streams("BTC-USDT", venue="coinbase") == 1
        with pytest.raises(websockets.ConnectionClosed):
            await drain(feed.ws)
