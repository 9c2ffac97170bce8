"""The one Kafka consumer wrapper: at-least-once, commit after processing, dead-letter on poison.

For every record the consumer decodes the payload against the topic's schema, runs the
optional validator and then the handler. A record that cannot be decoded or validated, or whose
handler raises PoisonMessage or keeps failing (other than on a dependency) after the retry
policy, is written unchanged to ``<topic>.dlq`` with the reason in headers, and consumption
goes on. A handler that keeps failing with a transient error — a dependency is down, as
``eip.resilience.is_transient`` decides for every consumer (a pool timeout, a lost database
connection, Kafka or Vault unreachable) — gets the same record again after a pause that grows
while the outage lasts: an outage must not divert good records. Offsets are committed only
after a record was handled or dead-lettered, so a crash replays rather than loses records;
handlers must therefore be idempotent.

A consumer given a ``RebalanceListener`` lets its owner keep per-partition state across group
rebalances: the listener hears of every partition this member gives up (also at ``stop()``,
which aiokafka itself does not report) before its handled offsets are committed, and of every
partition it gains before any of its records is handled; no record of a partition is handled
after it was given up. A ``commit_limit`` holds commits back for a handler whose effects reach
their destination only later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from google.protobuf.message import Message

from eip.bus.codec import DecodeError, Headers, decode
from eip.bus.dead_letter import dead_letter_headers
from eip.bus.errors import KafkaUnavailable, PoisonMessage
from eip.bus.metrics import CONSUMED, CONSUMER_LAG, DEAD_LETTERED, HANDLER_RETRIES
from eip.bus.producer import Producer
from eip.events.topics import TopicSpec
from eip.resilience import RetryPolicy, is_transient, retry_async

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    message: Message
    headers: Headers
    timestamp_ms: int


Handler = Callable[[Record], Awaitable[None]]
Validator = Callable[[Message], None]  # raises ValueError to reject
CommitLimit = Callable[[TopicPartition], int | None]
"""The offset a partition may be committed up to at most (None: no limit), for a handler whose
effects reach their destination after it returns (state published in batches)."""


@dataclass(frozen=True)
class ConsumerConfig:
    bootstrap_servers: str
    group_id: str
    client_id: str
    auto_offset_reset: str = "earliest"
    isolation_level: str = "read_committed"
    max_batch: int = 500
    poll_timeout_ms: int = 500
    handler_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=3))
    # Retrying a failed dead-letter write: Kafka itself is in trouble, so be patient.
    dlq_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=8, base_delay_s=0.2, max_delay_s=5),
    )
    connect_timeout_s: float = 5.0
    # A record whose handler kept failing on a dependency (eip.resilience.is_transient) is
    # redelivered after a pause instead of dead-lettered: the first pause, doubling while the
    # same record keeps failing, up to the cap.
    redeliver_delay_s: float = 1.0
    redeliver_max_delay_s: float = 10.0


class RebalanceListener(Protocol):
    """Told of partition ownership changes; see the module docstring for the guarantees."""

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Publish or drop the state of these partitions. Runs while no record is in hand;
        the handled offsets are committed after it returns. If it raises, they are not
        committed, so the next owner replays those records."""

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Load the state of these partitions (every partition held, including ones held
        before). Runs in the background while they stay paused, so a long load does not cost
        the group membership; cancelled if they are revoked meanwhile. If it raises, ``run()``
        stops with the error instead of consuming without state."""


class RebalanceFailed(Exception):
    """The rebalance listener could not load the state of newly assigned partitions."""


class _Redeliver(Exception):
    """Processing of a record could not finish (the DLQ was unreachable): seek back, retry."""


class Consumer:
    def __init__(
        self,
        config: ConsumerConfig,
        topics: Sequence[TopicSpec],
        handler: Handler,
        dlq_producer: Producer,
        validator: Validator | None = None,
        rebalance_listener: RebalanceListener | None = None,
        commit_limit: CommitLimit | None = None,
    ) -> None:
        self.config = config
        self._specs = {t.name: t for t in topics}
        self._handler = handler
        self._validator = validator
        self._dlq = dlq_producer
        self._stopping = asyncio.Event()
        self._listener = rebalance_listener
        self._commit_limit = commit_limit
        # With a listener: the partitions assigned to this member, those of them whose state
        # the listener has loaded (only their records may be handled), the next offset to
        # commit per partition, and a lock held while a record is in hand so that a rebalance
        # waits for it.
        self._held: set[TopicPartition] = set()
        self._ready: set[TopicPartition] = set()
        self._uncommitted: dict[TopicPartition, int] = {}
        self._handling = asyncio.Lock()
        self._listener_error: BaseException | None = None
        self._releasing = False
        self._in_hand: set[TopicPartition] = set()  # partitions of the batch being handled
        self._loading: asyncio.Task[None] | None = None  # the listener loading assigned state
        self._redeliveries = 0  # of the record that failed last, in a row
        self._consumer: Any = AIOKafkaConsumer(
            *(self._specs if rebalance_listener is None else ()),
            bootstrap_servers=config.bootstrap_servers,
            group_id=config.group_id,
            client_id=config.client_id,
            enable_auto_commit=False,
            auto_offset_reset=config.auto_offset_reset,
            isolation_level=config.isolation_level,
        )
        if rebalance_listener is not None:
            self._consumer.subscribe(list(self._specs), listener=_Listener(self))

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self._consumer.start(), self.config.connect_timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            with contextlib.suppress(Exception):  # reporting the connect failure instead
                await self._consumer.stop()
            raise KafkaUnavailable(
                f"Kafka at {self.config.bootstrap_servers} did not answer within "
                f"{self.config.connect_timeout_s}s ({type(exc).__name__}: {exc}); "
                "is it running? `make up` starts a local broker"
            ) from None

    def stop(self) -> None:
        """Ask run() to finish the record in hand, commit, and return."""
        self._stopping.set()

    async def caught_up(self, tp: TopicPartition) -> bool:
        """Whether every record of ``tp`` up to the end seen by the last fetch was handled:
        nothing in hand, no backlog. False while ``tp`` is not held or not fetched yet."""
        if tp in self._in_hand or tp not in self._consumer.assignment():
            return False
        if self._listener is not None and tp not in self._ready:
            return False
        # read_committed stops at the last stable offset (an open transaction's records wait)
        end = self._consumer.last_stable_offset(tp)
        if end is None or end < 0:
            end = self._consumer.highwater(tp)
        if end is None:
            return False
        try:
            # The position moves past records when getmany hands them out; they were all
            # handled unless the partition is in hand.
            position = await self._consumer.position(tp)
        except IllegalStateError:
            return False
        return tp not in self._in_hand and int(position) >= end

    def fetched_at(self, tp: TopicPartition) -> float | None:
        """When the broker last answered a fetch of ``tp`` (Unix seconds; None: not yet, or
        not assigned). Unlike ``caught_up``, it stops moving when the broker is unreachable or
        the consumer stopped, so a reader can tell its view has gone stale."""
        try:
            stamp = self._consumer.last_poll_timestamp(tp)
        except IllegalStateError:
            return None
        return None if stamp is None or stamp < 0 else float(stamp) / 1000

    def partitions_for(self, topic: str) -> list[int]:
        """The topic's partition ids from the consumer's metadata (sorted; empty if unknown)."""
        return sorted(self._consumer.partitions_for_topic(topic) or ())

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms,
                    max_records=self.config.max_batch,
                )
                self._raise_listener_error()
                self._in_hand = set(batches)
                for tp, records in batches.items():
                    await self._process_partition(tp, records)
                    self._in_hand.discard(tp)
                    if self._stopping.is_set():
                        break
                self._in_hand = set()
        finally:
            try:
                if self._listener is not None:
                    await self._release_all()
            finally:
                await self._consumer.stop()

    async def _process_partition(self, tp: TopicPartition, records: list[Any]) -> None:
        for raw in records:
            if self._stopping.is_set():
                break
            async with self._handling:
                self._raise_listener_error()
                if not self._holds(tp):
                    break  # given up meanwhile: its next owner handles these records
                try:
                    await self._process(raw)
                except _Redeliver as exc:
                    log.error(
                        "record not processed, will be redelivered",
                        extra={
                            "topic": tp.topic,
                            "partition": tp.partition,
                            "offset": raw.offset,
                            "reason": str(exc),
                        },
                    )
                    self._consumer.seek(tp, raw.offset)
                else:
                    self._redeliveries = 0
                    self._uncommitted[tp] = raw.offset + 1
                    continue
            await asyncio.sleep(self._redeliver_pause())  # not holding up a rebalance
            break
        async with self._handling:
            next_offset = self._uncommitted.pop(tp, None)
            if next_offset is not None and self._holds(tp):
                offset = self._committable(tp, next_offset)
                if offset < next_offset:
                    self._uncommitted[tp] = next_offset  # the rest with a later batch
                try:
                    await self._consumer.commit({tp: offset})
                except (KafkaError, IllegalStateError) as exc:
                    # Evicted from the group meanwhile (a record held longer than the session
                    # timeout): keep the offset for a later commit; the rejoin revokes and the
                    # listener hands over as usual, instead of run() failing.
                    self._uncommitted[tp] = max(next_offset, self._uncommitted.get(tp, 0))
                    log.warning(
                        "commit failed; kept for the next one",
                        extra={"topic": tp.topic, "partition": tp.partition, "error": repr(exc)},
                    )
                else:
                    self._report_lag(tp, offset)

    def _redeliver_pause(self) -> float:
        pause: float = self.config.redeliver_delay_s * 2 ** min(self._redeliveries, 16)
        self._redeliveries += 1
        return min(pause, max(self.config.redeliver_max_delay_s, self.config.redeliver_delay_s))

    def _committable(self, tp: TopicPartition, offset: int) -> int:
        limit = None if self._commit_limit is None else self._commit_limit(tp)
        return offset if limit is None else min(offset, limit)

    def _holds(self, tp: TopicPartition) -> bool:
        # Not merely held: a partition handed back while its state still loads must wait
        # (records of a batch fetched before the rebalance are left; they are fetched again).
        return self._listener is None or tp in self._ready

    def _raise_listener_error(self) -> None:
        if self._listener_error is not None:
            error = self._listener_error
            raise RebalanceFailed(
                f"loading the state of assigned partitions failed: {error!r}"
            ) from error

    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        async with self._handling:
            await self._stop_loading()
            await self._release(partitions)

    async def _stop_loading(self) -> None:
        # A load still running when its partitions go is abandoned: they were paused, so
        # nothing of theirs was handled, and the listener hears of their revocation next.
        task, self._loading = self._loading, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _release(self, partitions: set[TopicPartition]) -> None:
        # Called with self._handling held.
        self._held -= partitions
        self._ready -= partitions
        offsets = {tp: self._uncommitted.pop(tp) for tp in partitions if tp in self._uncommitted}
        if self._listener is None or not partitions:  # aiokafka reports "none" at first join
            return
        try:
            await self._listener.on_partitions_revoked(partitions)
        except Exception as exc:
            log.error(
                "rebalance listener failed on revocation; offsets left for the next owner",
                extra={"partitions": _names(partitions), "error": f"{type(exc).__name__}: {exc}"},
            )
            return
        # after the listener: what it published on the way out no longer holds commits back
        offsets = {tp: self._committable(tp, offset) for tp, offset in offsets.items()}
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except KafkaError as exc:  # the next owner replays those records: idempotent
                log.warning(
                    "commit on revocation failed",
                    extra={"partitions": _names(set(offsets)), "error": repr(exc)},
                )
            else:
                for tp, offset in offsets.items():
                    self._report_lag(tp, offset)

    async def _release_all(self) -> None:
        async with self._handling:
            self._releasing = True  # an assignment arriving while leaving loads nothing
            await self._stop_loading()
            held = set(self._held)
            if held:
                await self._release(held)

    async def _assigned(self, partitions: set[TopicPartition]) -> None:
        async with self._handling:
            if self._releasing or self._listener_error is not None or self._listener is None:
                return
            # aiokafka runs this hook after joining and before it resumes heartbeats: a load
            # longer than the session timeout here would cost the membership (and start
            # another rebalance). So the partitions wait paused while the listener loads in
            # the background, heartbeats going on.
            held = set(partitions)
            self._held = held
            self._ready = set()  # eager rebalancing: every assigned partition loads anew
            if held:
                self._consumer.pause(*held)
            self._loading = asyncio.create_task(self._load(held), name="eip-bus-load-assigned")

    async def _load(self, partitions: set[TopicPartition]) -> None:
        assert self._listener is not None
        try:
            await self._listener.on_partitions_assigned(set(partitions))
        except Exception as exc:
            # aiokafka would log and go on fetching: run() raises this instead.
            self._listener_error = exc
            return
        ready = partitions & self._held & set(self._consumer.assignment())
        self._ready |= ready
        if ready:
            self._consumer.resume(*ready)

    async def _process(self, raw: Any) -> None:
        spec = self._specs[raw.topic]
        headers: Headers = list(raw.headers or [])
        try:
            message = decode(spec, raw.value, headers)
            if self._validator is not None:
                self._validator(message)
        except (DecodeError, ValueError) as exc:
            kind = "undecodable" if isinstance(exc, DecodeError) else "invalid"
            await self._dead_letter(spec, raw, headers, kind, exc)
            return
        record = Record(
            raw.topic,
            raw.partition,
            raw.offset,
            raw.key,
            message,
            headers,
            raw.timestamp,
        )
        group = self.config.group_id

        def _on_retry(attempt: int, exc: BaseException, delay: float) -> None:
            HANDLER_RETRIES.labels(raw.topic, group).inc()
            log.warning(
                "handler failed, retrying",
                extra={
                    "topic": raw.topic,
                    "offset": raw.offset,
                    "attempt": attempt,
                    "error": f"{type(exc).__name__}: {exc}",
                    "retry_in_s": round(delay, 3),
                },
            )

        try:
            await retry_async(
                lambda: self._handler(record),
                self.config.handler_retry,
                retry_on=(Exception,),
                give_up_on=(PoisonMessage,),
                on_retry=_on_retry,
            )
        except PoisonMessage as exc:
            await self._dead_letter(spec, raw, headers, "rejected", exc)
            return
        except Exception as exc:
            if is_transient(exc):  # the one classification: a dependency is down
                raise _Redeliver(f"handler kept failing on a dependency: {exc!r}") from None
            await self._dead_letter(spec, raw, headers, "handler_failed", exc)
            return
        CONSUMED.labels(raw.topic, group, "ok").inc()

    async def _dead_letter(
        self,
        spec: TopicSpec,
        raw: Any,
        headers: Headers,
        kind: str,
        exc: BaseException,
    ) -> None:
        reason = f"{kind}: {exc}"
        dlq_headers = dead_letter_headers(
            headers,
            reason=reason,
            error_type=type(exc).__name__,
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            group=self.config.group_id,
        )
        try:
            await retry_async(
                lambda: self._dlq.send_raw(spec.dlq_name, raw.key, raw.value, dlq_headers),
                self.config.dlq_retry,
                retry_on=(KafkaError, OSError),
            )
        except (KafkaError, OSError) as send_exc:
            raise _Redeliver(f"dead-letter write to {spec.dlq_name} failed: {send_exc}") from None
        DEAD_LETTERED.labels(raw.topic, kind).inc()
        CONSUMED.labels(raw.topic, self.config.group_id, "dead_lettered").inc()
        log.warning(
            "record dead-lettered",
            extra={
                "topic": raw.topic,
                "partition": raw.partition,
                "offset": raw.offset,
                "dlq": spec.dlq_name,
                "reason": reason,
            },
        )

    def _report_lag(self, tp: TopicPartition, next_offset: int) -> None:
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(tp.topic, str(tp.partition), self.config.group_id).set(
                max(0, highwater - next_offset)
            )


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's hook, handing over to the Consumer (which serializes it with handling)."""

    def __init__(self, consumer: Consumer) -> None:
        self._owner = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner._assigned(set(assigned))


def _names(partitions: set[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
