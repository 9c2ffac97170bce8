"""Trades missed while we were not listening, fetched over REST and published once (issue 11 §8).

A venue's stream only carries what happens while we are connected: trades printed while
market-data was stopped, while the connection was being re-opened, or while the stream stalled
never arrive on it, though the venue serves them over REST. So for every market with a trades
subscription this module keeps a cursor — the last trade published to md.trades.v1 — and fills
the gap between the cursor and the live stream:

- **at start**, the cursors are read back from md.trades.v1 itself (the last records of each
  market over the last ``MARKET_DATA_GAP_MAX_AGE_S``; ``eip.bus.reader``), so they survive a
  crash exactly: what Kafka holds is what was published, whatever the previous process had
  queued when it died;
- **after every reconnect** (the adapter's ``connected`` goes back up), **when a stalled stream
  delivers again** and **every ``stale_after_s`` while it stays stale**;
- **when the ids jump** on a venue whose trade ids are consecutive per market
  (``MARKET_DATA_HISTORY_SEQUENTIAL_ID_EXCHANGES``, e.g. aggregate-trade ids), the moment the
  first trade after the hole arrives;
- **after Kafka refused or the outbox dropped a trade**: the outbox is drained, the cursors are
  read back from the topic again (only the topic knows which records landed), and what is
  missing is fetched.

While a venue is being filled its live trades wait in a buffer (all of the venue's markets, so
the topic never shows a market's later trades before another market's missing earlier ones:
the candle stage's watermark is the venue's progress). The fill pages REST from the cursor
(``fetch_trades_from_id`` by id where the adapter has it, else ``fetch_trades`` by time) until
a page comes back short; each trade not yet published (by id: above the cursor on a sequential
venue, else not among the market's recent ids) is published in order and counted in
``eip_md_trades_recovered_total{exchange}``. Then the buffer is released through the same
de-duplication, so a trade the stream delivers late after REST had it is dropped
(``eip_md_trades_duplicates_dropped_total``).

The catch-up is bounded: nothing older than ``MARKET_DATA_GAP_MAX_AGE_S`` (900 s) and at most
``MARKET_DATA_GAP_MAX_PAGES`` (50) pages per market. What lies beyond — market-data down for
longer, or a gap of more trades than the pages hold — is queued as a backfill job for that
range (``backfill_jobs``; the trades land in PostgreSQL, where ``GET /v1/trades`` serves them,
not on md.trades.v1, whose hole is then accepted), logged, and counted in
``eip_md_trades_recovery_truncated_total``. A venue whose REST keeps failing is released after
the retries with the same backfill job, so live data never waits on a broken REST API.

What is subtle: the cursor is the last trade *handed to the outbox*, not acknowledged by
Kafka, so in-process de-duplication is exact as long as nothing is lost on the way; a loss is
exactly what makes the cursor untrustworthy, hence the read-back after one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eip.bus import decode, partition_for_key
from eip.bus.reader import RawRecord, read_since
from eip.events.topics import TopicSpec, record_key
from eip.exchanges.contract.errors import TransientExchangeError
from eip.exchanges.contract.market_data import MarketDataAdapter, Trade
from eip.market_data.candles.builder import trade_time
from eip.market_data.metrics import (
    TRADES_DUPLICATE,
    TRADES_RECOVERED,
    TRADES_RECOVERY_FAILURES,
    TRADES_RECOVERY_TRUNCATED,
)
from eip.market_data.wire import trade_from_message
from eip.resilience import RetryPolicy, retry_async

log = logging.getLogger(__name__)

RECENT_IDS = 2_000  # ids remembered per market, for venues whose ids are not consecutive
FETCH_RETRY = RetryPolicy(attempts=5, base_delay_s=0.5, max_delay_s=8.0)
LOAD_RETRY_MAX_S = 30.0
MAX_ROUNDS = 10  # fills for holes in the ids in a row before the stream goes on regardless
RESYNC_PAUSE_MAX_S = 30.0  # between read-backs in a row (Kafka keeps refusing records)


@dataclass(frozen=True)
class GapSettings:
    bootstrap_servers: str
    trades_topic: TopicSpec
    sequential: frozenset[str]  # venues whose trade ids are consecutive integers per market
    max_age_s: float = 900.0
    max_pages: int = 50
    page_limit: int = 1000
    buffer_size: int = 100_000
    read_timeout_s: float = 120.0


@dataclass
class Cursor:
    """What of a market was handed on. On a sequential venue: every id up to ``last_seq``, and
    the ids ``above`` it (a hole below them: a record Kafka lost while later ones landed);
    elsewhere the ids of the latest trades. ``last_time``: the newest venue time."""

    last_seq: int | None = None
    above: dict[int, datetime] = field(default_factory=dict)  # id -> its venue time
    last_time: datetime | None = None
    seq_time: datetime | None = None  # the venue time of the trade at last_seq
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_IDS))
    _ids: set[str] = field(default_factory=set)

    @property
    def top(self) -> int | None:
        """The highest id handed on (sequential venues)."""
        return max(self.above) if self.above else self.last_seq

    @property
    def resume_time(self) -> datetime | None:
        """Where a fill by time starts: the last trade before the first hole."""
        return self.seq_time or self.last_time

    def note(self, trade: Trade, sequential: bool) -> None:
        seq = _seq(trade) if sequential else None
        when = trade_time(trade)
        if seq is not None:
            if self.last_seq is None or seq == self.last_seq + 1:
                self.last_seq, self.seq_time = seq, when
                self.accept_holes(seq)
            elif seq > self.last_seq:
                self.above[seq] = when
        else:
            if len(self.recent) == self.recent.maxlen:
                self._ids.discard(self.recent[0])
            self.recent.append(trade.trade_id)
            self._ids.add(trade.trade_id)
        if self.last_time is None or when > self.last_time:
            self.last_time = when

    def accept_holes(self, upto: int) -> None:
        """Every id up to ``upto`` counts as handed on (the ones missing are not coming)."""
        last = upto if self.last_seq is None else max(self.last_seq, upto)
        for seq in sorted(seq for seq in self.above if seq <= last):
            self.seq_time = self.above.pop(seq)
        while last + 1 in self.above:
            last += 1
            self.seq_time = self.above.pop(last)
        self.last_seq = last

    def published(self, trade: Trade, sequential: bool) -> bool:
        seq = _seq(trade) if sequential else None
        if seq is not None:
            return self.last_seq is not None and (seq <= self.last_seq or seq in self.above)
        return trade.trade_id in self._ids


def _seq(trade: Trade) -> int | None:
    """The id as an integer (a venue listed as sequential sending another id: None)."""
    try:
        return int(trade.trade_id)
    except ValueError:
        return None


@dataclass
class _Venue:
    buffer: deque[Trade]
    holding: bool = True
    loaded: bool = False  # cursors read back from the topic
    resync: bool = False  # a trade was lost on the way: the topic must be read again
    again: bool = False  # another fill was asked for while one ran
    starting: bool = True  # held since its adapter started, until the first fill is asked for
    task: asyncio.Task[None] | None = None


Publish = Callable[[Trade], None]
Backfill = Callable[[str, str, datetime, datetime], Awaitable[None]]


class GapFiller:
    """The cursors and the per-venue fills; ``admit`` is on the live path (no awaiting)."""

    def __init__(
        self,
        settings: GapSettings,
        adapter: Callable[[str], MarketDataAdapter | None],
        markets: Callable[[str], Sequence[str]],
        publish: Publish,
        drain: Callable[[], Awaitable[None]],
        backfill: Backfill,
        on_error: Callable[[str, str], object] = lambda exchange, message: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._adapter = adapter
        self._markets = markets
        self._publish = publish
        self._drain = drain
        self._backfill = backfill
        self._on_error = on_error
        self._clock = clock
        self._venues: dict[str, _Venue] = {}
        self._cursors: dict[tuple[str, str], Cursor] = {}

    # -- the live path ------------------------------------------------------------------------

    def hold(self, exchange: str) -> None:
        """A venue's adapter starts: its trades wait until its cursors are known."""
        if exchange not in self._venues:
            self._venues[exchange] = _Venue(deque(maxlen=self.settings.buffer_size))

    def admit(self, trade: Trade) -> bool:
        """Whether a live trade goes on now: False when it was published already (dropped)
        or its venue is being filled (buffered, published once the fill is done)."""
        venue = self._venues.get(trade.exchange)
        if venue is not None and venue.holding:
            venue.buffer.append(trade)
            return False
        sequential = trade.exchange in self.settings.sequential
        cursor = self._cursor(trade.exchange, trade.symbol)
        if cursor.published(trade, sequential):
            TRADES_DUPLICATE.labels(trade.exchange).inc()
            return False
        seq = _seq(trade) if sequential else None
        top = cursor.top
        if seq is not None and top is not None and seq > top + 1 and venue is not None:
            log.warning(
                "trade ids jumped: fetching the missing ones",
                extra={
                    "exchange": trade.exchange,
                    "symbol": trade.symbol,
                    "after": top,
                    "got": trade.trade_id,
                },
            )
            venue.buffer.append(trade)
            self.fill(trade.exchange)
            return False
        cursor.note(trade, sequential)
        return True

    # -- triggers -------------------------------------------------------------------------------

    def started(self, exchange: str) -> None:
        """The venue's start-up subscriptions are in place: fill from the topic's cursors."""
        venue = self._venues.get(exchange)
        if venue is not None and venue.starting:
            venue.starting = False
            self.fill(exchange)

    def fill(self, exchange: str, reason: str = "") -> None:
        """Hold the venue's live trades and fetch what it missed (one fill at a time)."""
        venue = self._venues.get(exchange)
        if venue is None or venue.starting:
            return
        venue.holding = True
        if venue.task is not None and not venue.task.done():
            venue.again = True
            return
        if reason:
            log.info("checking for missed trades", extra={"exchange": exchange, "why": reason})
        venue.task = asyncio.create_task(self._run(exchange), name=f"md-gaps-{exchange}")

    def lost(self, exchange: str) -> None:
        """A trade of ``exchange`` did not reach Kafka: read the topic again and refill."""
        venue = self._venues.get(exchange)
        if venue is not None:
            venue.resync = True
            self.fill(exchange, "a trade did not reach Kafka")

    def holding(self, exchange: str) -> bool:
        venue = self._venues.get(exchange)
        return venue is not None and venue.holding

    async def close(self) -> None:
        tasks = [v.task for v in self._venues.values() if v.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the fill ------------------------------------------------------------------------------

    async def _run(self, exchange: str) -> None:
        venue = self._venues[exchange]
        rounds = resyncs = 0
        try:
            while venue.holding or venue.again:
                venue.holding = True
                if venue.resync and venue.loaded:
                    # Kafka refusing records: each read-back waits a little longer, and rounds
                    # of them are never cut short (the topic is the only truth of what landed).
                    resyncs += 1
                    if resyncs > 1:
                        await asyncio.sleep(min(2.0 ** (resyncs - 2), RESYNC_PAUSE_MAX_S))
                else:
                    resyncs = 0
                    rounds += 1
                    if rounds > MAX_ROUNDS:  # the stream keeps losing trades: let it flow
                        self._release(venue, accept_holes=True)
                        break
                venue.again = False
                try:
                    if not venue.loaded or venue.resync:
                        if venue.resync:
                            await self._drain()  # what was queued lands (or is lost) first
                        venue.resync = False
                        await self._load(exchange)
                        venue.loaded = True
                    for symbol in list(self._markets(exchange)):
                        await self._fill_market(exchange, symbol)
                        if venue.resync:
                            break  # a record it published was lost: read the topic back first
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug: never leave live trades waiting on it
                    self._on_error(exchange, f"filling a gap failed: {exc!r}")
                    log.exception("filling a gap failed", extra={"exchange": exchange})
                if venue.resync:
                    continue
                self._release(venue)  # holds again if the buffer shows a new hole
        finally:
            if venue.holding:
                self._release(venue, accept_holes=True)  # cancelled: never leave trades waiting

    def _release(self, venue: _Venue, accept_holes: bool = False) -> None:
        """The buffered live trades go on through ``admit``, which holds again at a new hole
        (unless ``accept_holes``: then only what was published already is dropped)."""
        buffered = list(venue.buffer)
        venue.buffer.clear()
        venue.holding = False
        for index, trade in enumerate(buffered):
            if venue.holding:  # a new hole: the rest waits for the next fill
                venue.buffer.extend(buffered[index:])
                return
            if accept_holes:
                sequential = trade.exchange in self.settings.sequential
                cursor = self._cursor(trade.exchange, trade.symbol)
                if cursor.published(trade, sequential):
                    continue
                cursor.note(trade, sequential)
                self._publish(trade)
            elif self.admit(trade):
                self._publish(trade)

    async def _load(self, exchange: str) -> None:
        """The cursors of the venue's markets, from the last trades on md.trades.v1."""
        s = self.settings
        symbols = {record_key(exchange, symbol): symbol for symbol in self._markets(exchange)}
        if not symbols:
            return
        partitions = {partition_for_key(key, range(s.trades_topic.partitions)) for key in symbols}
        tails: dict[bytes, deque[RawRecord]] = {key: deque(maxlen=RECENT_IDS) for key in symbols}

        def keep(raw: RawRecord) -> None:
            tails[raw.key].append(raw)

        delay = 1.0
        while True:
            for tail in tails.values():
                tail.clear()
            try:
                await read_since(
                    s.bootstrap_servers,
                    s.trades_topic,
                    self._clock() - timedelta(seconds=s.max_age_s),
                    keep,
                    timeout_s=s.read_timeout_s,
                    keep_key=lambda key: key in tails,
                    partitions=partitions,
                )
                break
            except Exception as exc:  # Kafka away: the venue's trades wait meanwhile
                self._on_error(exchange, f"reading md.trades.v1 back failed: {exc!r}")
                log.warning(
                    "reading the last published trades failed; retrying",
                    extra={"exchange": exchange, "error": repr(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LOAD_RETRY_MAX_S)
        sequential = exchange in s.sequential
        for key, symbol in symbols.items():
            cursor = self._cursors[(exchange, symbol)] = Cursor()
            found = [
                trade_from_message(decode(s.trades_topic, raw.value, list(raw.headers)))  # type: ignore[arg-type]
                for raw in tails[key]
            ]
            if sequential:  # by id: a hole in the window (a record lost) stays a hole
                found.sort(key=lambda t: (_seq(t) is None, _seq(t) or 0))
            for trade in found:
                cursor.note(trade, sequential)
        last = {symbol: self._cursors[(exchange, symbol)].last_time for symbol in symbols.values()}
        log.info(
            "trade cursors read back from the topic",
            extra={
                "exchange": exchange,
                "markets": {k: None if v is None else v.isoformat() for k, v in last.items()},
            },
        )

    async def _fill_market(self, exchange: str, symbol: str) -> None:
        cursor = self._cursors.get((exchange, symbol))
        adapter = self._adapter(exchange)
        if cursor is None or cursor.last_time is None or adapter is None:
            return  # nothing published yet: nothing to continue from
        started, from_seq = cursor.resume_time, cursor.last_seq
        venue = self._venues[exchange]
        try:
            recovered, complete = await self._fetch_missing(exchange, symbol, cursor, adapter)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # REST unavailable past the retries
            TRADES_RECOVERY_FAILURES.labels(exchange).inc()
            message = f"fetching missed trades failed: {type(exc).__name__}: {exc}"
            self._on_error(exchange, message)
            log.error(message, extra={"exchange": exchange, "symbol": symbol})
            recovered, complete = 0, False
        if venue.resync:  # interrupted: the next round starts from the topic again
            TRADES_RECOVERED.labels(exchange).inc(recovered)
            return
        first = next((t for t in venue.buffer if t.symbol == symbol), None)
        first_seq = (
            None if first is None or exchange not in self.settings.sequential else _seq(first)
        )
        if not complete:
            # The rest is a backfill job's, and the stream goes on from where it is (the hole
            # on the topic accepted), so live data never waits on a broken REST API.
            end = trade_time(first) if first is not None else self._clock()
            since = cursor.resume_time
            assert since is not None
            await self._queue_backfill(exchange, symbol, since, end, "not fetched")
        last_seq, top = cursor.last_seq, cursor.top
        upto = top if first_seq is None or top is None else max(top, first_seq - 1)
        if last_seq is not None and upto is not None and upto > last_seq:
            # Complete, the venue served every trade up to the present, and still ids are
            # missing (below the newest one handed on, or before the first live trade held
            # back): ids the venue never used. Incomplete: the backfill job's above.
            if complete:
                log.warning(
                    "trade ids the venue does not serve; going on",
                    extra={
                        "exchange": exchange,
                        "symbol": symbol,
                        "from": last_seq + 1,
                        "to": upto,
                        "missing": upto - last_seq - len(cursor.above),
                    },
                )
            cursor.accept_holes(upto)
        if recovered:
            TRADES_RECOVERED.labels(exchange).inc(recovered)
        log.info(
            "missed trades fetched",
            extra={
                "exchange": exchange,
                "symbol": symbol,
                "from_id": None if from_seq is None else from_seq + 1,
                "from_time": None if started is None else started.isoformat(),
                "published": recovered,
                "complete": complete,
                "first_live_id": None if first is None else first.trade_id,
            },
        )

    async def _fetch_missing(
        self, exchange: str, symbol: str, cursor: Cursor, adapter: MarketDataAdapter
    ) -> tuple[int, bool]:
        """Pages from the cursor until one comes back short: (trades published, whether the
        pages reached the present within the bound)."""
        s = self.settings
        assert cursor.last_time is not None
        sequential = exchange in s.sequential
        horizon = self._clock() - timedelta(seconds=s.max_age_s)
        started = cursor.resume_time
        assert started is not None
        if started < horizon:  # beyond the bound: that part is a backfill job's
            await self._queue_backfill(exchange, symbol, started, horizon, "older than the bound")
        by_id = getattr(adapter, "fetch_trades_from_id", None) if sequential else None
        since = max(started, horizon)
        # by id from the cursor on; by time for the first page when the cursor is too old
        next_id = cursor.last_seq + 1 if cursor.last_seq is not None else None
        if by_id is None or started < horizon:
            next_id = None
        recovered = 0
        for _ in range(s.max_pages):

            async def page(since: datetime = since, next_id: int | None = next_id) -> list[Trade]:
                if next_id is not None and by_id is not None:
                    result: list[Trade] = await by_id(symbol, next_id, s.page_limit)
                    return result
                return await adapter.fetch_trades(symbol, since, s.page_limit)

            trades = await retry_async(page, FETCH_RETRY, retry_on=(TransientExchangeError,))
            venue = self._venues[exchange]
            for trade in trades:
                if cursor.published(trade, sequential):
                    continue
                if not sequential and trade_time(trade) < started:
                    continue  # older than the cursor: before the ids remembered
                cursor.note(trade, sequential)
                self._publish(trade)
                recovered += 1
                if venue.resync:  # the outbox dropped it: nothing after it goes before it
                    return recovered, False
            if len(trades) < s.page_limit:
                return recovered, True
            if by_id is not None:
                next_id = max(_seq(t) or 0 for t in trades) + 1
            else:
                newest = max(trade_time(t) for t in trades)
                since = newest if newest > since else since + timedelta(milliseconds=1)
        return recovered, False

    async def _queue_backfill(
        self, exchange: str, symbol: str, start: datetime, end: datetime, why: str
    ) -> None:
        TRADES_RECOVERY_TRUNCATED.labels(exchange).inc()
        log.warning(
            "missed trades beyond the catch-up bound: queued as a backfill job",
            extra={
                "exchange": exchange,
                "symbol": symbol,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "why": why,
            },
        )
        with contextlib.suppress(Exception):  # storage down: the log and the metric say it
            await self._backfill(exchange, symbol, start, end)

    def _cursor(self, exchange: str, symbol: str) -> Cursor:
        cursor = self._cursors.get((exchange, symbol))
        if cursor is None:
            cursor = self._cursors[(exchange, symbol)] = Cursor()
        return cursor

    def cursor(self, exchange: str, symbol: str) -> Cursor | None:
        return self._cursors.get((exchange, symbol))
