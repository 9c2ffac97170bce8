"""A long market step run (``POST /admin/v1/market/step``) leaves the simulator answering."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from eip.testing.simulator import run_simulator

ONE_INSTRUMENT = """
[[instrument]]
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
step_size = "0.00001"
min_notional = "5"
reference_price = "65000"
"""


async def test_health_answers_while_ten_thousand_steps_run(tmp_path: Path) -> None:
    market = tmp_path / "one.toml"
    market.write_text(ONE_INSTRUMENT)
    with run_simulator(tmp_path, {"SIMULATOR_INSTRUMENTS_FILE": str(market)}) as process:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=60) as http:
            assert (await http.post("/admin/v1/market/step?steps=20")).json() == {"steps": 20}
            stepping = asyncio.create_task(http.post("/admin/v1/market/step?steps=10000"))
            await asyncio.sleep(0.5)  # the run is under way
            latencies: list[float] = []
            watch_until = time.monotonic() + 5
            while not stepping.done() and time.monotonic() < watch_until:
                started = time.monotonic()
                health = await http.get("/healthz")
                latencies.append(time.monotonic() - started)
                assert health.status_code == 200
                await asyncio.sleep(0.1)
            answered_during = len(latencies) - (1 if stepping.done() else 0)
            stepping.cancel()  # the process ends with the test; the run need not finish
    print(f"healthz while 10,000 steps ran: {len(latencies)} answers, max {max(latencies):.3f} s")
    assert answered_during >= 3, latencies
