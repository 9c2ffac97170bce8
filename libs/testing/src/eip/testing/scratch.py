"""Kafka topics and a PostgreSQL schema of a run's own, outside pytest (benchmarks): made from
the infrastructure the tests find (``eip.testing.endpoints``), removed when the run ends.

Topics are ``<prefix>.<registry name>.<random>`` with their dead-letter topics; the schema is
``<prefix>_<random>``, and ``<schema>_audit`` (where a service keeps its audit chain) is dropped
with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence

from psycopg import sql

from eip.bus.admin import admin_client, ensure_topics
from eip.events.topics import TopicSpec, dlq_spec
from eip.storage import open_pool
from eip.testing import endpoints


@dataclasses.dataclass(frozen=True)
class Scratch:
    kafka_bootstrap_servers: str
    database_url: str
    schema: str
    topics: list[TopicSpec]


@contextlib.asynccontextmanager
async def scratch(prefix: str, specs: Sequence[TopicSpec]) -> AsyncIterator[Scratch]:
    bootstrap = endpoints.kafka_bootstrap_servers()
    database_url = endpoints.database_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    topics = [
        dataclasses.replace(t, name=f"{prefix}.{t.name}.{uuid.uuid4().hex[:8]}") for t in specs
    ]
    async with admin_client(bootstrap) as admin:
        await ensure_topics(admin, [s for spec in topics for s in (spec, dlq_spec(spec))])
    try:
        yield Scratch(bootstrap, database_url, schema, topics)
    finally:
        async with admin_client(bootstrap) as admin:
            await admin.delete_topics([n for t in topics for n in (t.name, t.dlq_name)])
        pool = await open_pool(database_url, max_size=1)
        try:
            async with pool.connection() as conn:
                for name in (schema, f"{schema}_audit"):
                    await conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                    )
        finally:
            await pool.close()
