"""Server pings, pong timeouts and the connection lifetime, on a simulator with short timings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from eip.testing.simulator import SimulatorProcess, run_simulator


@pytest.fixture(scope="module")
def quick_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    env = {
        "SIMULATOR_WS_PING_INTERVAL_S": "0.5",
        "SIMULATOR_WS_PING_TIMEOUT_S": "1",
        "SIMULATOR_CONNECTION_LIFETIME_S": "8",  # far from the ~1.5 s a silent client gets
        "SIMULATOR_MARKET": "none",
    }
    log_dir: Path = tmp_path_factory.mktemp("quick-simulator")
    with run_simulator(log_dir, env) as process:
        yield process


async def test_server_pings_and_drops_a_client_that_never_pongs(
    quick_simulator: SimulatorProcess,
) -> None:
    url = quick_simulator.base_url.replace("http", "ws") + "/ws/btcusdt@trade"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url,
            autoping=False,
            heartbeat=None,
        ) as ws,
    ):
        started = time.monotonic()
        first = await asyncio.wait_for(ws.receive(), 5)
        assert first.type is aiohttp.WSMsgType.PING
        while True:  # never answer: the server must give up on us
            message = await asyncio.wait_for(ws.receive(), 10)
            if message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                break
        assert time.monotonic() - started < 7  # the pong timeout, not the lifetime, ended it


async def test_connection_lifetime_is_enforced(quick_simulator: SimulatorProcess) -> None:
    url = quick_simulator.base_url.replace("http", "ws") + "/ws/btcusdt@trade"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:  # pongs
        started = time.monotonic()
        message = await asyncio.wait_for(ws.receive(), 30)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert 7.5 < time.monotonic() - started < 20
