"""Backfill tests: a real PostgreSQL schema per test and the session's exchange simulator."""

from __future__ import annotations

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.market_data.storage import MarketDataStore


@pytest.fixture
async def store(db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str) -> MarketDataStore:
    s = MarketDataStore(db_pool, db_schema)
    await s.migrate()
    return s
