"""What the services' outbox publishers share: the producer the runtime opens in the
background, waiting for it, and draining what was queued before shutdown.

How records are queued, batched and what a lost record means stay with each service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from eip.bus.producer import Producer


class OutboxPublisher:
    def __init__(
        self,
        join: Callable[[], Awaitable[None]],
        producer: Callable[[], Producer | None],
        wait_s: float = 0.2,
    ) -> None:
        self._join = join
        self._producer = producer
        self._wait_s = wait_s

    def connected(self) -> bool:
        return self._producer() is not None

    async def drain(self) -> None:
        """Wait until every queued record was handed to Kafka and acknowledged (or lost)."""
        await self._join()
        producer = self._producer()
        if producer is not None:
            await producer.flush()

    async def _wait_for_producer(self) -> Producer:
        # The runtime opens Kafka in the background and offers no event for it; poll.
        while True:
            producer = self._producer()
            if producer is not None:
                return producer
            await asyncio.sleep(self._wait_s)
