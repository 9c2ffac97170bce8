"""What every WebSocket adapter shares: the connection loop, staleness, and event emission.

A subclass speaks one venue's dialect through five hooks (``_prepare``, ``_url``,
``_on_open``, ``_on_frame``, ``_resync``, plus ``_send_subscribe``/``_send_unsubscribe``);
this class owns the books' lifecycle so every venue desyncs, counts and logs the same way.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eip.book import L2Book
from eip.exchanges.contract.book_events import (
    BookDelta,
    BookDesync,
    BookEvent,
    BookKey,
    BookSnapshot,
    DesyncReason,
)
from eip.exchanges.contract.book_feed import BookFeed, Emit
from eip.exchanges.machinery.book_metrics import DESYNCS, RECONNECTS, RESYNCS
from eip.exchanges.machinery.transport import (
    Connection,
    Received,
    Transport,
    TransportClosed,
    TransportError,
    TransportExhausted,
)
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

# What L2Book.apply/replace raise for levels they refuse (decimal.InvalidOperation for text that
# is no number at all is an ArithmeticError, not a ValueError).
BAD_LEVEL = (ValueError, ArithmeticError, TypeError, IndexError, KeyError)

LevelInput = Sequence[str]


@dataclass(frozen=True)
class FeedOptions:
    # No frame at all on the connection for this long means the stream is stale (venues that
    # can be quiet per instrument still send heartbeats or other instruments' frames).
    stale_after_s: float = 30.0
    reconnect: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=10, base_delay_s=0.5, max_delay_s=30.0)
    )
    rest_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=5, base_delay_s=0.2, max_delay_s=5.0)
    )


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def stop_task(task: asyncio.Task[None], grace_s: float = 1.0) -> None:
    """Cancel and wait; cancel again if it was swallowed (Python 3.11's ``wait_for`` and some
    libraries can lose a cancellation that races with a completed result)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace_s)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error


async def run_for(feed: BookFeed, emit: Emit, seconds: float) -> None:
    """Run a feed for a while (recording, tests); its own errors propagate."""
    task = asyncio.create_task(feed.run(emit))
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        task.result()
        return
    await stop_task(task)


class InstrumentBook:
    """One instrument's book and whether it can be trusted right now."""

    def __init__(self, key: BookKey, book: L2Book) -> None:
        self.key = key
        self.book = book
        self.in_sync = False
        self.sequence = ""


class Stale(Exception):
    pass


class _StaleWatch:
    """Raises ``Stale`` from ``recv`` when one read waits ``stale_after_s`` for a frame.

    One timer per connection instead of an ``asyncio.timeout`` around every read: entering
    and leaving a timeout (a timer scheduled and cancelled) cost as much per frame as a Kraken
    frame's handling. A read only notes when it started; the timer, when it fires, looks at
    the read in progress and either cancels it (it waited too long) or sleeps until that read
    could become too long. As with ``asyncio.timeout`` (not ``wait_for``, which on 3.11 runs
    the read in another task and can drop a frame it already took), the read is cancelled in
    place, and only a read: time spent handling a frame is never counted as silence.
    """

    def __init__(self, stale_after_s: float) -> None:
        self._stale_after = stale_after_s
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._reading_since: float | None = None
        self._fired = False
        self._timer = self._loop.call_later(stale_after_s, self._check)

    def _check(self) -> None:
        now = self._loop.time()
        since = self._reading_since
        if since is not None and now - since >= self._stale_after:
            self._fired = True
            assert self._task is not None
            self._task.cancel()
            return
        self._timer = self._loop.call_at(
            (now if since is None else since) + self._stale_after, self._check
        )

    async def recv(self, conn: Connection) -> Received:
        self._reading_since = self._loop.time()
        try:
            frame = await conn.recv()
            if self._fired:  # the read swallowed its cancellation and returned: watch on
                self._fired = False
                if self._task is not None:
                    self._task.uncancel()
                self._timer = self._loop.call_later(self._stale_after, self._check)
            return frame
        except asyncio.CancelledError:
            # our own cancellation, and no one else's pending: the read timed out
            if self._fired and self._task is not None and self._task.uncancel() == 0:
                raise Stale from None
            raise
        finally:
            self._reading_since = None

    def close(self) -> None:
        self._timer.cancel()


class WsBookFeed(ABC):
    exchange: str = ""

    def __init__(
        self,
        symbols: Iterable[str],
        transport: Transport,
        options: FeedOptions | None = None,
    ) -> None:
        self.transport = transport
        self.options = options or FeedOptions()
        self.symbols: list[str] = list(dict.fromkeys(symbols))
        self.books: dict[str, InstrumentBook] = {}
        self.desync_count = 0
        self._emit: Emit | None = None
        self._conn: Connection | None = None
        self._last_frame_ts: float | None = None

    # -- the BookFeed protocol -----------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        delays = self.options.reconnect.delays()
        while True:
            try:
                await self._prepare()
                break
            except TransportError as exc:  # the venue's REST is down: keep trying, never die
                delay = next(delays, self.options.reconnect.max_delay_s)
                log.warning(
                    "book feed cannot load instruments",
                    extra={"exchange": self.exchange, "error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
        delays = self.options.reconnect.delays()
        connected_before = False
        while True:
            try:
                conn = await self.transport.connect(self._url())
            except TransportExhausted:
                return
            except TransportClosed as exc:
                delay = next(delays, self.options.reconnect.max_delay_s)
                log.warning(
                    "book feed cannot connect",
                    extra={"exchange": self.exchange, "error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                continue
            if connected_before:
                RECONNECTS.labels(self.exchange).inc()
            connected_before = True
            self._conn = conn
            self._last_frame_ts = None
            try:
                await self._on_open()
                delays = self.options.reconnect.delays()  # a working connection resets backoff
                await self._read_loop(conn)
            except TransportExhausted:
                await self._settle()
                return
            except TransportClosed as exc:
                await self._desync_all("disconnected", str(exc))
            except TransportError as exc:  # a snapshot could not be fetched, retries spent
                await self._desync_all("error", str(exc))
            except Stale:
                await self._desync_all(
                    "stale", f"no frame for {self.options.stale_after_s}s; reconnecting"
                )
            finally:
                self._conn = None
                await self._on_close()
                await conn.close()
            delay = next(delays, self.options.reconnect.max_delay_s)
            await asyncio.sleep(delay)

    async def subscribe(self, symbol: str) -> None:
        """Raises ``UnknownSymbol`` when the venue's listing (where the feed keeps one) does not
        have the symbol; the feed is left as it was."""
        if symbol in self.symbols:
            return
        await self._check_symbol(symbol)
        self.symbols.append(symbol)
        if self._conn is not None:
            try:
                await self._send_subscribe([symbol])
            except Exception:
                self.symbols.remove(symbol)  # all or nothing: not followed, not kept
                raise

    async def unsubscribe(self, symbol: str) -> None:
        if symbol not in self.symbols:
            return
        self.symbols.remove(symbol)
        self.books.pop(symbol, None)
        if self._conn is not None:
            await self._send_unsubscribe([symbol])

    # -- venue hooks ---------------------------------------------------------------------------

    @abstractmethod
    async def _prepare(self) -> None:
        """Load what the books need before connecting (instrument metadata, precisions)."""

    @abstractmethod
    def _url(self) -> str: ...

    async def _check_symbol(self, symbol: str) -> None:
        """Raise ``UnknownSymbol`` if the venue does not list ``symbol``; feeds that hold the
        venue's listing check it (one that cannot be loaded now checks nothing)."""
        return None

    def _loading_in_background(self) -> bool:
        """Whether the feed has work in other tasks that frames must not overtake (Binance's
        REST snapshots)."""
        return False

    async def _settle(self) -> None:
        """A replay ran out of frames: finish work still in flight (time would have gone on)."""
        return None

    async def _on_close(self) -> None:
        """The connection is gone (or the feed stops): drop per-connection work in flight."""
        return None

    async def _on_open(self) -> None:
        await self._send_subscribe(list(self.symbols))

    @abstractmethod
    async def _on_frame(self, frame: Received) -> None: ...

    @abstractmethod
    async def _send_subscribe(self, symbols: list[str]) -> None: ...

    @abstractmethod
    async def _send_unsubscribe(self, symbols: list[str]) -> None: ...

    @abstractmethod
    async def _resync(self, state: InstrumentBook) -> None:
        """Start rebuilding this book from a fresh snapshot (refetch or resubscribe)."""

    # -- shared machinery ----------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        if self._conn is None:
            raise TransportClosed("not connected")
        await self._conn.send(text)

    async def _read_loop(self, conn: Connection) -> None:
        stale_after = self.options.stale_after_s
        watch = _StaleWatch(stale_after)
        try:
            while True:
                if self._loading_in_background():
                    # A replay's read only yields now and then; work running beside the reads
                    # (a snapshot loading) must get the turn per frame a network read gives it,
                    # or it would see the book later, relative to the frames, than live does.
                    await asyncio.sleep(0)
                frame = await watch.recv(conn)
                last = self._last_frame_ts
                self._last_frame_ts = frame.ts
                if last is not None and frame.ts - last > stale_after:
                    # The same silence seen in the frames' own times: a replayed capture has no
                    # wall clock to time out on, yet must show what production would have done.
                    await self._desync_all(
                        "stale", f"no frame for {frame.ts - last:.1f}s (limit {stale_after}s)"
                    )
                    for state in list(self.books.values()):
                        await self._resync(state)
                await self._on_frame(frame)
        finally:
            watch.close()

    async def _emit_event(self, event: BookEvent) -> None:
        assert self._emit is not None, "run() sets the emitter"
        await self._emit(event)

    async def _synced(
        self,
        state: InstrumentBook,
        sequence: str,
        exchange_time: datetime | None,
        received_ts: float,
    ) -> None:
        """The book was just replaced from a snapshot; it is trusted from here on."""
        if state.book.is_crossed():
            await self._desync(state, "crossed", "snapshot is crossed", received_ts)
            return
        state.in_sync = True
        state.sequence = sequence
        await self._emit_event(
            BookSnapshot(state.key, state.book, sequence, exchange_time, utc(received_ts))
        )

    async def _apply(
        self,
        state: InstrumentBook,
        bids: Sequence[LevelInput],
        asks: Sequence[LevelInput],
        sequence: str,
        exchange_time: datetime | None,
        received_ts: float,
        check: Callable[[], Awaitable[bool]] | None = None,
        depth: int | None = None,
    ) -> bool:
        """Apply one venue update to an in-sync book and emit it; False when it desynced.

        ``depth``: the venue maintains only that many levels per side and sends no removal for
        levels pushed out, so the book is truncated and the delta says which levels went.
        ``check`` runs after that (checksums); it desyncs the book itself on failure.
        """
        try:
            # One native call: validate, apply, format the applied levels as the book does and,
            # with a depth, report (size zero) and drop the levels pushed beyond it.
            bids_out, asks_out = state.book.apply_levels(bids, asks, depth)
        except BAD_LEVEL as exc:
            await self._desync(
                state, "error", f"bad update: {exc!r} in {bids!r} {asks!r}"[:500], received_ts
            )
            return False
        if check is not None and not await check():
            return False
        if state.book.is_crossed():
            await self._desync(
                state,
                "crossed",
                f"best bid {state.book.best_bid()} >= best ask {state.book.best_ask()}",
                received_ts,
            )
            return False
        state.sequence = sequence
        await self._emit_event(
            BookDelta(
                state.key,
                state.book,
                bids_out,
                asks_out,
                sequence,
                exchange_time,
                utc(received_ts),
            )
        )
        return True

    async def _desync(
        self,
        state: InstrumentBook,
        reason: DesyncReason,
        detail: str,
        received_ts: float | None,
        resync: bool = True,
    ) -> None:
        """Stop trusting the book, say so once, and start rebuilding it."""
        was_in_sync = state.in_sync
        state.in_sync = False
        state.book.clear()  # a corrupt book must never be read by anyone
        self.desync_count += 1
        DESYNCS.labels(self.exchange, reason).inc()
        log.warning(
            "book desynced",
            extra={
                "exchange": self.exchange,
                "symbol": state.key.symbol,
                "reason": reason,
                "detail": detail,
                "was_in_sync": was_in_sync,
            },
        )
        await self._emit_event(
            BookDesync(
                state.key,
                reason,
                detail,
                utc(received_ts) if received_ts is not None else None,
                {"sequence": state.sequence} if state.sequence else {},
            )
        )
        if resync:
            RESYNCS.labels(self.exchange).inc()
            await self._resync(state)

    async def _desync_all(self, reason: DesyncReason, detail: str) -> None:
        for state in list(self.books.values()):
            await self._desync(state, reason, detail, self._last_frame_ts, resync=False)
