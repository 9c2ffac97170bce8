"""The one way a native trading adapter hands its private stream to its consumer: a bounded
queue of ``PrivateEvent`` fed by a task that runs the venue's stream, the emission of order
updates and fills through ``PrivateState`` (each order forward only, each fill once), and the
bookkeeping of a reconnect (since when the stream was down, the REST catch-up, then
``StreamResumed``). Venue-neutral: the venue brings its ``VenueStream`` subclass, what the
stream's messages are parsed with, and its catch-up.

What is subtle:

- **One consumer at a time.** A second ``events()`` while one runs is a ``BadRequest``; the
  stream task lives exactly as long as the consumer's iterator (closing it cancels the task).
- **A stream that ends for good** (``CredentialRejected`` while subscribing, anything not
  transient) ends the consumer's iterator with that error, after the events already queued.
- **The first connection is not a reconnect.** Only a connection after one that was lost runs
  the catch-up; it runs before the connection's first live message (the venue stream calls
  ``connected`` first), so what it finds comes out ahead of the live events. A catch-up that
  fails leaves ``down_since`` as it was: the next connection catches up from the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eip.exchanges.contract.errors import BadRequest, CredentialRejected, TransientExchangeError
from eip.exchanges.contract.trading import (
    AssetBalance,
    BalanceUpdate,
    FillEvent,
    OrderUpdate,
    PrivateEvent,
    StreamResumed,
    VenueFill,
    VenueOrder,
)
from eip.exchanges.machinery.health import StreamHealth, watch
from eip.exchanges.machinery.private_state import PrivateState
from eip.exchanges.machinery.venue_stream import VenueStream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class PrivateFeed:
    def __init__(
        self,
        exchange: str,
        state: PrivateState,
        health: StreamHealth,
        queue_size: int = 10_000,
    ) -> None:
        self.exchange = exchange
        self.state = state
        self.health = health
        self.queue_size = queue_size
        self.down_since: datetime | None = None  # the stream was lost then, not caught up yet
        self.connected_once = False
        self._queue: asyncio.Queue[PrivateEvent | _Failed] | None = None

    @property
    def consuming(self) -> bool:
        """Whether a consumer is iterating (events emitted now reach someone)."""
        return self._queue is not None

    def events(
        self, run: Callable[[], Awaitable[None]], on_end: Callable[[], None] | None = None
    ) -> AsyncIterator[PrivateEvent]:
        """The consumer's iterator; ``run`` is the venue's stream (until cancelled), ``on_end``
        resets the adapter's own per-stream state when the consumer is gone."""
        if self._queue is not None:
            raise BadRequest(self.exchange, "the private stream has one consumer at a time")
        self._queue = asyncio.Queue(self.queue_size)
        return self._events(self._queue, run, on_end)

    async def _events(
        self,
        queue: asyncio.Queue[PrivateEvent | _Failed],
        run: Callable[[], Awaitable[None]],
        on_end: Callable[[], None] | None,
    ) -> AsyncIterator[PrivateEvent]:
        runner = asyncio.create_task(self._run(queue, run))
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            self._queue = None
            self.connected_once = False
            if on_end is not None:
                on_end()
            self.health.set_connected(False)

    @staticmethod
    async def _run(
        queue: asyncio.Queue[PrivateEvent | _Failed], run: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await queue.put(_Failed(exc))

    async def emit(self, event: PrivateEvent) -> None:
        assert self._queue is not None
        await self._queue.put(event)

    async def emit_order(self, order: VenueOrder, received: datetime) -> None:
        """Deliver an order update unless it is not newer than the last one delivered."""
        if self.state.admit_order(order):
            await self.emit(OrderUpdate(order, received))

    async def emit_fill(self, fill: VenueFill, received: datetime) -> None:
        """Deliver a fill the first time only."""
        if self.state.admit_fill(fill):
            await self.emit(FillEvent(fill, received))

    async def emit_balance_snapshot(
        self, balances: list[AssetBalance], received: datetime | None = None
    ) -> None:
        """Every balance of the account as read over REST (anything absent is zero)."""
        update = BalanceUpdate(self.exchange, balances, True, None, received or datetime.now(UTC))
        await self.emit(update)

    async def connected(self, catch_up: Callable[[datetime], Awaitable[None]]) -> None:
        """A connection is up (its subscriptions confirmed, nothing of it read yet): after a
        lost one, ``catch_up(down_since)`` over REST, then ``StreamResumed``."""
        if not self.connected_once or self.down_since is None:
            self.connected_once = True
            self.down_since = None
            return
        down_since = self.down_since
        await catch_up(down_since)
        self.down_since = None
        await self.emit(StreamResumed(self.exchange, down_since, datetime.now(UTC)))

    def disconnected(self) -> None:
        if self.down_since is None:
            self.down_since = datetime.now(UTC)


async def catch_up_on_connect(
    exchange: str, health: StreamHealth, on_connected: Callable[[], Awaitable[None]]
) -> TransientExchangeError | None:
    """A venue stream's first step on a new connection: the handler's ``on_connected`` (the
    REST catch-up after a lost one). The failure when it could not finish for now — the stream
    then drops the connection, and the next one catches up again from the same moment rather
    than go on with a hole; ``CredentialRejected`` and the like propagate (the stream ends)."""
    try:
        await on_connected()
    except CredentialRejected:
        raise
    except TransientExchangeError as exc:
        log.warning("%s catch-up failed; reconnecting", exchange, extra={"error": str(exc)})
        health.error("rest", f"catch-up failed: {exc}")
        return exc
    return None


async def run_private_stream(
    stream: VenueStream[Any],
    handler: Any,
    wanted: str,
    load_rules: Callable[[], Awaitable[object]],
    *,
    subscribed: Callable[[], bool] = lambda: True,
    helpers: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> None:
    """A private stream until cancelled: the staleness watchdog (a connection quiet three
    times ``stale_after_s`` is replaced; ``subscribed`` false pauses the alarm, e.g. while a
    catch-up leaves the socket unread) and the venue's ``helpers`` beside it, the rules the
    events are parsed with (waited for with the reconnect backoff while the venue is out of
    reach, as a lost connection would be), then the stream itself."""
    health = stream.health
    tasks = [
        asyncio.create_task(
            watch(health, subscribed, stream.force_reconnect, 3 * health.stale_after_s)
        ),
        *(asyncio.create_task(helper()) for helper in helpers),
    ]
    try:
        delays = stream.reconnect_policy.delays()
        while True:
            try:
                await load_rules()
                break
            except TransientExchangeError as exc:
                health.error("rest", f"rules not loaded: {exc}")
                await asyncio.sleep(next(delays, stream.reconnect_policy.max_delay_s))
        stream.wanted = {wanted}
        await stream.run(handler)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
