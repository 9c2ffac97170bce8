"""Backfill tests: a real PostgreSQL schema per test and the session's exchange simulator."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchange_simulator.client import SimulatorClient
from eip.market_data.storage import MarketDataStore

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the subprocess loads sim_binance_adapter the same way


@pytest.fixture
async def store(db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str) -> MarketDataStore:
    s = MarketDataStore(db_pool, db_schema)
    await s.migrate()
    return s


async def print_history(simulator: SimulatorClient, batches: int, per_batch: int) -> None:
    """Trades on BTCUSDT spread over time: never more at one millisecond than a page holds."""
    for n in range(batches):
        await simulator.print_trades("BTCUSDT", per_batch, f"{50000 + n % 7}.5", "0.001")
        await asyncio.sleep(0.002)


async def venue_trade_ids(base_url: str, start: datetime, end: datetime) -> list[int]:
    """The venue's full set of aggTrade ids in [start, end), walked by id (not by time, the way
    the backfill pages), so it checks the backfill independently."""
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    ids: list[int] = []
    async with httpx.AsyncClient(base_url=base_url) as http:
        first = (
            await http.get(
                "/api/v3/aggTrades",
                params={"symbol": "BTCUSDT", "startTime": start_ms, "limit": 1},
            )
        ).json()
        assert first, "no venue trades in the range"
        from_id = first[0]["a"]
        while True:
            rows = (
                await http.get(
                    "/api/v3/aggTrades",
                    params={"symbol": "BTCUSDT", "fromId": from_id, "limit": 1000},
                )
            ).json()
            ids += [r["a"] for r in rows if start_ms <= r["T"] < end_ms]
            if not rows or rows[-1]["T"] >= end_ms:
                return ids
            from_id = rows[-1]["a"] + 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def ms_floor(moment: datetime) -> datetime:
    return moment - timedelta(microseconds=moment.microsecond % 1000)
