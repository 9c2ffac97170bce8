"""Stream faults aimed at one dialect while several carry the same symbol."""

from __future__ import annotations

import asyncio
import itertools
import json

import websockets

from eip.exchange_simulator.client import SimulatorClient
from eip.exchange_simulator.core.faults import Faults

from .test_faults import next_messages, ws_url


def test_a_fault_for_one_venue_is_only_taken_by_it() -> None:
    faults = Faults()
    faults.skip_sequence[faults.key("BTCUSDT", "kraken")] = 1
    faults.skip_sequence["ETHUSDT"] = 1
    assert not faults.take(faults.skip_sequence, "BTCUSDT")  # the Binance dialect
    assert not faults.take(faults.skip_sequence, "BTCUSDT", "coinbase")
    assert faults.take(faults.skip_sequence, "BTCUSDT", "kraken")
    assert not faults.take(faults.skip_sequence, "BTCUSDT", "kraken")
    assert faults.take(faults.skip_sequence, "ETHUSDT", "coinbase")  # unscoped: anyone's
    assert faults.skip_sequence == {}


async def test_coinbase_fault_leaves_binance_diffs_whole(clean_simulator: SimulatorClient) -> None:
    sim = clean_simulator
    async with (
        websockets.connect(ws_url(sim, "/ws/btcusdt@depth@100ms")) as binance,
        websockets.connect(sim.coinbase_ws_url) as coinbase,
    ):
        await coinbase.send(
            json.dumps({"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "level2"})
        )
        await next_messages(binance, 2)
        await sim.skip_sequence("BTCUSDT", 2, venue="coinbase")
        diffs = await next_messages(binance, 10)
        sequence: list[int] = []
        async with asyncio.timeout(10):
            while len(sequence) < 10:
                sequence.append(json.loads(await coinbase.recv())["sequence_num"])
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(diffs))
    jumps = [b - a for a, b in itertools.pairwise(sequence) if b != a + 1]
    assert jumps == [3]
