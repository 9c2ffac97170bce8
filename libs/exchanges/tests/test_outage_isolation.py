"""One venue down never stops another: adapters share nothing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from decimal import Decimal

import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.errors import TransientExchangeError
from eip.exchanges.contract.market_data import MarketEvent, Trade
from eip.exchanges.registry import create_market_data_adapter
from eip.resilience import RetryPolicy

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=1_000_000, base_delay_s=0.05, max_delay_s=0.2)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: nothing listens there


async def test_a_dead_venue_shows_its_outage_while_the_other_keeps_flowing(
    clean_simulator: SimulatorClient,
) -> None:
    live = create_market_data_adapter(
        "binance", base_url=clean_simulator.base_url, reconnect_policy=FAST
    )
    dead = create_market_data_adapter(
        "binance", base_url=f"http://127.0.0.1:{closed_port()}", reconnect_policy=FAST
    )
    await live.subscribe("trades", "BTC/USDT")
    # the dead venue cannot even list its markets: the subscription call says so
    with pytest.raises(TransientExchangeError, match="binance"):
        await dead.subscribe("trades", "BTC/USDT")
    events: list[MarketEvent] = []

    async def emit(event: MarketEvent) -> None:
        events.append(event)

    tasks = [asyncio.create_task(live.run(emit)), asyncio.create_task(dead.run(emit))]
    try:
        deadline = time.monotonic() + 15
        while not events:
            assert time.monotonic() < deadline, "the live venue never connected"
            await asyncio.sleep(0.05)
        await clean_simulator.print_trades("BTCUSDT", 1, "50040.5", "0.5")
        while not any(isinstance(e, Trade) and e.price == Decimal("50040.5") for e in events):
            assert time.monotonic() < deadline, "the live venue stopped flowing"
            await asyncio.sleep(0.05)
        status = dead.status()
        assert not status.connected
        assert status.errors >= 1
        assert status.detail
        assert live.status().connected
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await live.close()
        await dead.close()
