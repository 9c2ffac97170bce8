"""The pool after a PostgreSQL outage: usable again within seconds of the server's return,
not after psycopg_pool's doubling reconnect pause (issue 11 §9: market-data was ready 31 s
after PostgreSQL came back).

The outage is the test's own: its pool reaches the shared server through a TCP relay, which
the test closes (every connection cut, new ones refused) and opens again.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.resilience import is_transient
from eip.storage import open_pool
from eip.testing.proxy import TcpProxy, via_proxy

pytestmark = pytest.mark.integration

# Long enough for the uncapped backoff to reach a 16 s pause (1 + 2 + 4 + 8 = 15 s of tries),
# so a pool without the fix would wait until about 31 s, 15 s after the relay is back.
OUTAGE_S = 16.0


async def select_one(pool: AsyncConnectionPool[AsyncConnection], timeout_s: float) -> bool:
    """True when it worked; False on an error a consumer would redeliver on (transient)."""
    try:
        async with pool.connection(timeout=timeout_s) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        if not is_transient(exc):
            raise
        return False
    return True


async def test_a_pool_serves_again_within_seconds_of_the_database_coming_back(
    database_url: str,
) -> None:
    url = urlsplit(database_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    pool = await open_pool(via_proxy(database_url, proxy), timeout_s=2.0, name="outage-test")
    try:
        assert await select_one(pool, 2.0)

        await proxy.stop()
        failures = 0
        ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < ends:  # a readiness check's demand: about once a second
            failures += not await select_one(pool, 1.0)
            await asyncio.sleep(1.0)
        assert failures >= 5

        await proxy.start()
        back = time.monotonic()
        while not await select_one(pool, 1.0):
            assert time.monotonic() - back < 6.0, "the pool did not reconnect within 6 s"
            await asyncio.sleep(0.25)
        print(f"usable again {time.monotonic() - back:.2f}s after the database came back")
    finally:
        await pool.close()
        await proxy.stop()
