"""Other auth instances' changes, heard over Kafka: auth consumes its own topics to evict what
its caches (``eip.auth.caches``) hold about a credential or a client another instance changed.

- ``auth.credentials.v1``: any lifecycle event of a credential (revoked, rotated, validated …)
  evicts its metadata and its secret from the signing path.
- ``audit.events.v1``: ``client.upsert``, ``client.disable`` and ``client.delete`` evict the
  client's state from the token check. Clients have no lifecycle topic; their changes are
  audited, and the audit chain's copy on Kafka is relayed right after each commit. The topic
  carries auth's one chain, a few events a minute now that signatures are counted in
  aggregate; should it ever carry a busy chain of another service, clients want a lifecycle
  topic of their own rather than every auth instance reading it all.

Every instance must see every event, so the consumer group is this process's own and starts at
the latest offset: caches that start empty have nothing older to evict. Whenever the consumer
(re)starts, events may have been missed while it was away, so the caches are emptied first.
Events that do not arrive at all (Kafka down) are covered by the caches' TTL
(``AUTH_CACHE_TTL_S``): that is the longest another instance trusts what it read before a
change. The instance that makes a change evicts at once, without waiting for its own event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from eip.bus import Consumer, ConsumerConfig, Producer, Record
from eip.events.topics import TopicSpec
from eip.events.v1 import auth_pb2

log = logging.getLogger(__name__)

CLIENT_CHANGES = frozenset({"client.upsert", "client.disable", "client.delete"})


class ChangeListener:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        service_name: str,
        producer: Callable[[], Producer | None],
        credentials_topic: TopicSpec,
        audit_topic: TopicSpec,
        forget_credential: Callable[[str], None],
        forget_client: Callable[[str], None],
        forget_all: Callable[[], None],
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.service_name = service_name
        self._producer = producer
        self.credentials_topic = credentials_topic
        self.audit_topic = audit_topic
        self._forget_credential = forget_credential
        self._forget_client = forget_client
        self._forget_all = forget_all
        # One group for the life of this process: a restarted consumer resumes where the
        # group's last commit left it.
        self.group_id = f"{service_name}-caches-{uuid.uuid4().hex[:12]}"
        self.consumer: Consumer | None = None
        self.running = asyncio.Event()

    async def handle(self, record: Record) -> None:
        message = record.message
        if isinstance(message, auth_pb2.CredentialEvent):
            self._forget_credential(message.credential_id)
        elif isinstance(message, auth_pb2.AuditEvent) and message.action in CLIENT_CHANGES:
            self._forget_client(message.subject.removeprefix("client:"))

    async def supervise(self) -> None:
        """Consume until cancelled; a consumer that fails (Kafka unreachable at start) is
        started again after a backoff."""
        delay = 1.0
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "cache change listener not running; caches rely on their TTL meanwhile",
                    extra={"error": type(exc).__name__, "retry_in_s": delay},
                )
            self.running.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _run(self) -> None:
        producer = self._producer()
        while producer is None:  # the dead-letter producer connects with the service
            await asyncio.sleep(0.5)
            producer = self._producer()
        consumer = Consumer(
            ConsumerConfig(
                self.bootstrap_servers,
                group_id=self.group_id,
                client_id=f"{self.service_name}-caches",
                auto_offset_reset="latest",
            ),
            [self.credentials_topic, self.audit_topic],
            self.handle,
            producer,
        )
        await consumer.start()
        self.consumer = consumer
        try:
            self._forget_all()  # what changed while nobody listened is read again
            self.running.set()
            await consumer.run()
        finally:
            self.running.clear()
            self.consumer = None
            consumer.stop()
