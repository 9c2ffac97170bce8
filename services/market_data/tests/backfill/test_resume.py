"""A backfill interrupted half-way (SIGKILL of a real worker process) resumes without
duplicates or gaps: the stored set equals the venue's full set exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.market_data.storage import MarketDataStore
from eip.testing.simulator import SimulatorProcess

from .helpers import HERE, ms_floor, print_history, utc_now, venue_trade_ids

pytestmark = pytest.mark.integration


def worker(
    database_url: str, schema: str, simulator_url: str, page_limit: int, adapters: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MARKET_DATA_HISTORY_SCHEMA": schema,
        "MARKET_DATA_HISTORY_BACKFILL_PAGE_LIMIT": str(page_limit),
        "MARKET_DATA_HISTORY_BACKFILL_LEASE_S": "1",
        "EIP_TEST_SIMULATOR_URL": simulator_url,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(  # noqa: S603 - our own module, arguments chosen by the test
        [
            sys.executable,
            "-m",
            "eip.market_data.backfill",
            "run",
            "--adapters",
            f"sim_adapters:{adapters}",
            "--until-idle",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def stored_ids(store: MarketDataStore) -> list[int]:
    async with store.pool.connection() as conn:
        cur = await conn.execute(
            f'SELECT trade_id::bigint FROM "{store.schema}".trades ORDER BY trade_seq'
        )
        return [int(r[0]) for r in await cur.fetchall()]


@pytest.mark.parametrize("adapters", ["native", "ccxt"])
async def test_killed_backfill_resumes_without_duplicates_or_gaps(
    adapters: str,
    store: MarketDataStore,
    clean_simulator: SimulatorClient,
    simulator_process: SimulatorProcess,
    database_url: str,
) -> None:
    start = ms_floor(utc_now())
    await print_history(clean_simulator, batches=300, per_batch=5)
    end = ms_floor(utc_now()) + timedelta(milliseconds=1)
    job = await store.create_job("binance", "BTC/USDT", "trades", None, start, end)

    first = worker(database_url, store.schema, simulator_process.base_url, 20, adapters)
    try:
        for _ in range(3000):
            progress = await store.job(job.id)
            assert progress is not None
            if progress.pages >= 10 or first.poll() is not None:
                break
            await asyncio.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        output = first.communicate(timeout=30)[0].decode()
    interrupted = await store.job(job.id)
    assert interrupted is not None
    assert first.returncode == -signal.SIGKILL, output
    assert interrupted.status == "running", "the worker finished before it could be killed"
    assert (
        0
        < interrupted.rows_inserted
        < len(await venue_trade_ids(simulator_process.base_url, start, end))
    )

    await asyncio.sleep(1.2)  # the dead worker's lease runs out
    second = worker(database_url, store.schema, simulator_process.base_url, 20, adapters)
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output

    done = await store.job(job.id)
    assert done is not None
    assert done.status == "done", done.error
    assert done.gaps == 0
    venue = await venue_trade_ids(simulator_process.base_url, start, end)
    stored = await stored_ids(store)
    assert stored == venue  # same ids, each once, nothing missing
    # every stored row was inserted exactly once across both workers
    assert done.rows_inserted == len(venue)
    assert done.pages > interrupted.pages
