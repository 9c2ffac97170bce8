"""A service's connections to real infrastructure, opened at startup and checked by /readyz.

Startup does not wait for dependencies: a service whose database is down still starts, answers
/healthz, and reports the outage on /readyz, so an orchestrator routes no traffic to it while
it keeps retrying instead of crash-looping. The checks run in the background
(``eip.observability.http.ReadinessMonitor``) over the service's own connections — the
producer's, a connection of the pool — so each says whether the service itself can use the
dependency, and /readyz answers from their last results at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.bus import Producer, ProducerConfig
from eip.config import ServiceSettings
from eip.observability.http import ReadinessCheck
from eip.observability.redaction import register_secret
from eip.storage import open_pool

if TYPE_CHECKING:  # hvac and requests (about a second) only for services that use Vault
    from eip.vault import VaultClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Needs:
    kafka: bool = True
    database: bool = True
    vault: bool = False


class Dependencies:
    def __init__(self, settings: ServiceSettings, needs: Needs) -> None:
        self.settings = settings
        self.needs = needs
        self.producer: Producer | None = None
        self.db: AsyncConnectionPool[AsyncConnection] | None = None
        self.vault: VaultClient | None = None
        # Why the last connection attempt failed, per dependency, for /readyz and the logs.
        self.last_error: dict[str, str] = {}
        database_url = settings.database_url.get_secret_value()
        register_secret(database_url)
        register_secret(urlsplit(database_url).password)  # it can surface on its own
        register_secret(settings.vault_token.get_secret_value())

    def readiness(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {}
        if self.needs.kafka:
            checks["kafka"] = self._kafka_ready
        if self.needs.database:
            checks["postgres"] = self._database_ready
        if self.needs.vault:
            checks["vault"] = self._vault_ready
        return checks

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        if self.needs.vault:
            from eip.vault import VaultClient

            self.vault = VaultClient(
                s.vault_addr,
                s.vault_token.get_secret_value(),
                timeout_s=s.connect_timeout_s,
            )
        connector = asyncio.create_task(self._connect())
        try:
            yield
        finally:
            connector.cancel()
            await asyncio.gather(connector, return_exceptions=True)
            if self.producer is not None:
                await self.producer.stop()
            if self.db is not None:
                await self.db.close()
            if self.vault is not None:
                await self.vault.aclose()

    async def _connect(self) -> None:
        """Open Kafka and PostgreSQL in the background, retrying until both are there."""
        s = self.settings

        async def open_kafka() -> None:
            producer = Producer(
                ProducerConfig(
                    s.kafka_bootstrap_servers,
                    client_id=s.service_name,
                    connect_timeout_s=s.connect_timeout_s,
                )
            )
            await producer.start()
            self.producer = producer

        async def open_database() -> None:
            self.db = await open_pool(
                s.database_url.get_secret_value(),
                timeout_s=s.connect_timeout_s,
                max_size=s.db_pool_size,
                name=s.service_name,
            )

        delay = 1.0
        while True:
            if self.needs.kafka and self.producer is None:
                await self._attempt("kafka", open_kafka)
            if self.needs.database and self.db is None:
                await self._attempt("postgres", open_database)
            if (self.producer or not self.needs.kafka) and (self.db or not self.needs.database):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _attempt(self, name: str, connect: Callable[[], Awaitable[None]]) -> None:
        try:
            await connect()
        except Exception as exc:
            self.last_error[name] = f"{type(exc).__name__}: {exc}"
            log.warning(
                "dependency not reachable yet",
                extra={"dependency": name, "error": str(exc)},
            )
        else:
            self.last_error.pop(name, None)

    async def _kafka_ready(self) -> None:
        if self.producer is None:
            raise ConnectionError(self.last_error.get("kafka", "not connected to Kafka yet"))
        await self.producer.ping()

    async def _database_ready(self) -> None:
        if self.db is None:
            raise ConnectionError(
                self.last_error.get("postgres", "not connected to PostgreSQL yet")
            )
        async with self.db.connection(timeout=self.settings.connect_timeout_s) as conn:
            await conn.execute("SELECT 1")

    async def _vault_ready(self) -> None:
        if self.vault is None:
            raise ConnectionError("Vault client not started")
        await self.vault.health()
