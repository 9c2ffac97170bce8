"""What /readyz says about rule evaluation, on real Kafka and PostgreSQL: an instance is ready
only once it holds its share of the accounts (issue 16: it answered ready before its first
assignment, so a rolling deploy could count an instance that evaluated nothing as up)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from eip.automation.topics import Topics

from .conftest import Service, Starter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class HoldsTheRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """A group member that does not rejoin until told: the rebalance a new member starts
    cannot finish meanwhile, so the new member is assigned nothing."""

    def __init__(self) -> None:
        self.assigned = asyncio.Event()
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self.assigned.is_set():
            self.asked.set()
            await self.release.wait()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.set()


async def readyz(service: Service) -> tuple[int, dict[str, Any]]:
    response = await service.http.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_readyz_is_503_awaiting_assignment_until_the_instance_holds_its_partitions(
    start_service: Starter, kafka_bootstrap_servers: str, db_schema: str, topics: Topics
) -> None:
    # a member of the service's group (as a replica still running would be) that holds the
    # rebalance the service's join starts until the test lets it go
    listener = HoldsTheRebalance()
    member = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=f"automation-{db_schema}",  # the group start_service gives the service
        enable_auto_commit=False,
    )
    member.subscribe([topics.rules.name], listener=listener)
    await member.start()
    polling = asyncio.create_task(member.getmany(timeout_ms=120_000))
    try:
        await asyncio.wait_for(listener.assigned.wait(), 30)
        service = await start_service()
        await asyncio.wait_for(listener.asked.wait(), 30)

        # several rounds of checks (one a second): Kafka and PostgreSQL answer, the service
        # holds nothing, and says so with a code
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            status, body = await readyz(service)
            assert status == 503, body
            evaluation = body["checks"]["evaluation"]
            assert evaluation["ok"] is False
            assert evaluation["reason"] == "awaiting_assignment", evaluation
            assert evaluation["details"]["topic"] == topics.rules.name
            await asyncio.sleep(0.3)
        assert body["checks"]["kafka"]["ok"] is True, body
        assert body["checks"]["postgres"]["ok"] is True, body
        assert not service.automation.ready.is_set()

        listener.release.set()
        deadline = time.monotonic() + 30
        while (status := (await readyz(service))[0]) != 200:
            assert time.monotonic() < deadline, "not ready 30 s after the rebalance finished"
            await asyncio.sleep(0.2)
        status, body = await readyz(service)
        assert body["checks"]["evaluation"]["ok"] is True
        assert service.automation.ready.is_set()
    finally:
        listener.release.set()
        polling.cancel()
        with contextlib.suppress(BaseException):
            await polling
        await member.stop()
