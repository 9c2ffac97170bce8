"""Backfill test helpers: venue history in the simulator, and the venue's own view of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from eip.exchange_simulator.client import SimulatorClient

HERE = Path(__file__).parent


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
