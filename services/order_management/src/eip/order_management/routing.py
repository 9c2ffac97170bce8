"""Where a command runs: an HTTP command for an account this instance owns runs here at once;
one for an account another instance owns is written to ``orders.commands.v1`` (key: the
account), where its owner takes it like any Kafka command, and the caller waits for its result.

Why the topic and not forwarding over HTTP: the topic already routes by account to whoever owns
it now — including during a rebalance, when nobody does for a moment and the command simply
waits — so no instance needs to know another's address, and a command is never lost between two
owners. The cost is one Kafka round trip plus the owner's consumer poll (measured in
``bench/order_path.py``); the result comes back through PostgreSQL: the owner's transaction
sends ``NOTIFY <schema>_commands`` with the key, and the waiting caller reads the outcome by it
(every instance can). A caller that waits longer than ``forward_wait_s`` gets 202 and looks the
order up by its idempotency key later.

The listener also hears ``<schema>_risk``: a limit or kill switch changed on another instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Awaitable, Callable

from psycopg import AsyncConnection

from eip.bus import Producer
from eip.events.topics import TopicSpec, record_key
from eip.order_management.commands import Command, to_proto
from eip.order_management.intake import Intake, Outcome
from eip.order_management.ownership import NotOwner, Ownership

log = logging.getLogger(__name__)


class Queued(Exception):
    """Written to the topic; its owner had not answered within the wait."""

    def __init__(self, account_id: str, key: str) -> None:
        super().__init__("the command was queued for the account's owner")
        self.account_id = account_id
        self.key = key


class Router:
    def __init__(
        self,
        intake: Intake,
        ownership: Ownership,
        producer: Callable[[], Producer | None],
        topic: TopicSpec,
        wait_s: float,
    ) -> None:
        self.intake = intake
        self.ownership = ownership
        self._producer = producer
        self.topic = topic
        self.wait_s = wait_s
        self._waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = {}

    async def submit(self, command: Command) -> Outcome:
        origin = command.origin
        if self.ownership.owns_account(origin.account_id):
            try:
                return await self.intake.handle(command)
            except NotOwner:
                pass  # given up a moment ago: the topic reaches the new owner
        prior = await self.intake.prior(command)
        if prior is not None:
            return prior
        return await self.forward(command)

    async def forward(self, command: Command) -> Outcome:
        origin = command.origin
        producer = self._producer()
        if producer is None:
            raise ConnectionError("Kafka is not connected yet")
        key = (origin.account_id, origin.idempotency_key)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            await producer.publish(
                self.topic, record_key(origin.account_id), to_proto(command, str(uuid.uuid4()))
            )
            deadline = asyncio.get_running_loop().time() + self.wait_s
            while True:
                outcome = await self.intake.outcome_of(*key)
                if outcome is not None:
                    return dataclasses.replace(outcome, duplicate=False)  # this caller's
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise Queued(*key)
                # woken by the owner's NOTIFY; polled as well in case a notice was missed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), min(left, 0.5))
        finally:
            waiters = self._waiters.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(key, None)

    def notified(self, account_id: str, key: str) -> None:
        for future in self._waiters.get((account_id, key), []):
            if not future.done():
                future.set_result(None)


class Listener:
    """One connection LISTENing to the service's channels, reconnecting when it drops."""

    def __init__(
        self,
        dsn: Callable[[], str],
        schema: str,
        router: Router,
        risk_changed: Callable[[], Awaitable[None]],
    ) -> None:
        self._dsn = dsn
        self.commands_channel = f"{schema}_commands"
        self.risk_channel = f"{schema}_risk"
        self.router = router
        self.risk_changed = risk_changed
        self.listening = asyncio.Event()

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await AsyncConnection.connect(
                    self._dsn(), autocommit=True, connect_timeout=5
                )
                async with conn:
                    await conn.execute(f'LISTEN "{self.commands_channel}"')
                    await conn.execute(f'LISTEN "{self.risk_channel}"')
                    self.listening.set()
                    delay = 0.5
                    await self.risk_changed()  # whatever changed while not listening
                    async for notice in conn.notifies():
                        if notice.channel == self.commands_channel:
                            account_id, key = json.loads(notice.payload)
                            self.router.notified(account_id, key)
                        else:
                            await self.risk_changed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning(
                    "notification listener lost its connection", extra={"error": type(exc).__name__}
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
