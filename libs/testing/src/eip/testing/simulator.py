"""Run the exchange simulator as a real process for a test session.

Each session gets its own simulator on a free port (tests inject faults and create accounts,
so sharing one with `make up` would make them depend on each other).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass(frozen=True)
class SimulatorProcess:
    base_url: str
    log_file: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def run_simulator(
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    startup_timeout_s: float = 30,
) -> Iterator[SimulatorProcess]:
    port = free_port()
    log_file = log_dir / f"simulator-{port}.log"
    env = {
        **os.environ,
        "SIMULATOR_HTTP_PORT": str(port),
        "SIMULATOR_STEP_SECONDS": "0.05",
        **(extra_env or {}),
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "eip.exchange_simulator"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the simulator exited with {process.returncode}; log: {log_file}\n"
                    + log_file.read_text()[-2000:]
                )
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the simulator did not start in {startup_timeout_s}s: {log_file}"
                )
            time.sleep(0.2)
        yield SimulatorProcess(base_url, log_file)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def venue_tape(base_url: str, symbol: str, from_id: int) -> list[dict[str, Any]]:
    """The simulator's own tape of ``symbol`` (``BTCUSDT``) from trade ``from_id`` on: Binance
    aggTrades rows (``a`` id, ``p`` price, ``q`` quantity, ``T`` venue time in ms), paged by
    id — what a test compares the platform's trades with."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while True:
            response = await http.get(
                "/api/v3/aggTrades", params={"symbol": symbol, "fromId": from_id, "limit": 1000}
            )
            response.raise_for_status()
            page: list[dict[str, Any]] = response.json()
            out += page
            if len(page) < 1000:
                return out
            from_id = int(page[-1]["a"]) + 1
