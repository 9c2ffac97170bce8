"""BitMEX realtime against a local websockets server playing the venue's documented frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from eip.exchanges.bitmex import wire as parse
from eip.exchanges.bitmex.market_data import BitmexMarketDataAdapter
from eip.exchanges.bitmex.symbols import symbol_map
from eip.exchanges.contract.market_data import MarketEvent, Trade
from eip.resilience import RetryPolicy

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex"
FRAMES = (PAYLOADS / "ws_frames.jsonl").read_text().splitlines()
WELCOME, TRADE_ACK, TRADE_PARTIAL, TRADE_INSERT = FRAMES[:4]


class Venue:
    def __init__(self) -> None:
        self.connections = 0
        self.subscribes: list[list[str]] = []
        self.pings = 0
        self.drop_first = True
        self.silent_after_subscribe = False

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        await ws.send(WELCOME)
        async for message in ws:
            if message == "ping":
                self.pings += 1
                await ws.send("pong")
                continue
            request = orjson.loads(message)
            if request["op"] == "subscribe":
                self.subscribes.append(request["args"])
                if self.silent_after_subscribe:
                    continue
                await ws.send(TRADE_ACK)
                await ws.send(TRADE_PARTIAL)
                await ws.send(TRADE_INSERT)
                if self.connections == 1 and self.drop_first:
                    await ws.close()  # the venue drops us: the adapter must come back


@contextlib.asynccontextmanager
async def running_venue(venue: Venue) -> AsyncIterator[str]:
    async with serve(venue.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/realtime"


def adapter_for(url: str, **options: Any) -> BitmexMarketDataAdapter:
    adapter = BitmexMarketDataAdapter(
        ws_url=url,
        reconnect_policy=RetryPolicy(attempts=100, base_delay_s=0.01, max_delay_s=0.05),
        **options,
    )
    rows = parse.loads((PAYLOADS / "instruments.json").read_bytes())
    adapter._symbols = symbol_map(rows)
    return adapter


async def test_trades_flow_and_resubscribe_after_the_venue_drops_the_connection() -> None:
    venue = Venue()
    async with running_venue(venue) as url:
        adapter = adapter_for(url)
        await adapter.subscribe("trades", "BTC/USD:BTC")
        got: list[MarketEvent] = []
        two = asyncio.Event()

        async def emit(event: MarketEvent) -> None:
            got.append(event)
            if len(got) == 2:
                two.set()

        task = asyncio.create_task(adapter.run(emit))
        try:
            await asyncio.wait_for(two.wait(), 10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert venue.connections == 2
        assert venue.subscribes == [["trade:XBTUSD"], ["trade:XBTUSD"]]  # resubscribed
        assert all(isinstance(e, Trade) and e.symbol == "BTC/USD:BTC" for e in got)
        # partial rows are history: one insert per connection
        assert [e.trade_id for e in got if isinstance(e, Trade)] == [
            "00000000-006d-1000-0000-0015c2a91f1e"
        ] * 2
        assert adapter.stream.connections == 2
        assert adapter.status().errors >= 1  # the drop is counted
        await adapter.close()


async def test_quiet_connection_gets_text_pings_and_pongs_keep_it() -> None:
    venue = Venue()
    venue.drop_first = False
    venue.silent_after_subscribe = True
    async with running_venue(venue) as url:
        adapter = adapter_for(url, ping_after_s=0.1, pong_timeout_s=0.5)
        await adapter.subscribe("trades", "BTC/USD:BTC")

        async def emit(event: MarketEvent) -> None:
            pass

        task = asyncio.create_task(adapter.run(emit))
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if adapter.stream.pongs >= 3:
                    break
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert venue.pings >= 3
        assert adapter.stream.pongs >= 3
        assert venue.connections == 1  # pongs count as life: no reconnect
        await adapter.close()


async def test_unanswered_pings_drop_and_reopen_the_connection() -> None:
    venue = Venue()
    venue.drop_first = False
    venue.silent_after_subscribe = True

    async def deaf(ws: ServerConnection) -> None:
        venue.connections += 1
        await ws.send(WELCOME)
        async for message in ws:
            if message != "ping":
                venue.subscribes.append(orjson.loads(message)["args"])

    venue.handler = deaf  # type: ignore[method-assign]
    async with running_venue(venue) as url:
        adapter = adapter_for(url, ping_after_s=0.05, pong_timeout_s=0.1)
        await adapter.subscribe("trades", "BTC/USD:BTC")

        async def emit(event: MarketEvent) -> None:
            pass

        task = asyncio.create_task(adapter.run(emit))
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if venue.connections >= 2 and len(venue.subscribes) >= 2:
                    break
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert venue.connections >= 2
        assert venue.subscribes[:2] == [["trade:XBTUSD"], ["trade:XBTUSD"]]
        await adapter.close()


@pytest.mark.parametrize("frame", [FRAMES[-1]])
async def test_venue_error_frame_is_counted(frame: str) -> None:
    adapter = adapter_for("ws://unused")
    stream = adapter.stream

    class OneFrame:
        def __aiter__(self) -> OneFrame:
            self.sent = False
            return self

        async def __anext__(self) -> str:
            if self.sent:
                raise StopAsyncIteration
            self.sent = True
            return frame

    async def on_table(table: str, action: str, rows: list[dict[str, Any]]) -> None:
        raise AssertionError("an error frame is not a table")

    await stream._read(OneFrame(), on_table)  # type: ignore[arg-type]
    assert adapter.status().errors == 1
    assert "Unknown or expired symbol" in adapter.status().detail
    await adapter.close()
