from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.account.connections import ConnectionState
from eip.account.store import AccountStore, ConnectionRecord


@pytest_asyncio.fixture
async def store(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str
) -> AsyncIterator[AccountStore]:
    s = AccountStore(lambda: db_pool, db_schema)
    await s.migrate()
    yield s


def record(
    credential_id: str = "cred-1", account_id: str = "acct-1", exchange: str = "venue"
) -> ConnectionRecord:
    return ConnectionRecord(credential_id, account_id, exchange, ConnectionState.SYNCING)
