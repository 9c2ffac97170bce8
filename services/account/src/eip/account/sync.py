"""One connection's sync: balances (REST, private stream, periodic reconcile), own fills behind
a resumable cursor, and the connection's state — all through the venue-neutral
``TradingAdapter`` contract, never a venue name.

Three loops run per connection, and a watcher:

- **balances**: a REST snapshot at once, then again every ``reconcile_interval_s`` or when
  asked (a fill on ``orders.events.v1``, a stream that resumed after a gap). A snapshot sets
  every stored asset it lacks to zero. If a stream balance push arrived while the REST call was
  out, the snapshot may be older than the push, so it is read again instead of applied (at most
  ``_SNAPSHOT_RETRIES`` times, then applied: the next reconcile corrects it).
- **stream**: the adapter's private events; balance pushes are applied as they come (a
  ``snapshot`` push replaces, a delta updates the assets it names), fills are stored at once
  (the cursor sync finds them again and the primary key keeps one row).
- **trades**: per symbol (or once, where the venue's history is not per symbol), pages after the
  stored cursor, each page stored with its cursor in one transaction (``AccountStore``).
- **transfers** (where the venue's package reads them, ``TransferHistory``): deposits and
  withdrawals the same way, per kind; a transfer read again updates its row (its status moves
  on), and any new or changed transfer asks for a balance refresh — a deposit shows in the
  balances at once instead of at the next reconcile.
- **watcher**: the stream's health (``adapter.status()``) every second.

A key may read balances and trades but not the venue's transfers (a venue's wallet-read scope
or funds permission): the venue refuses the key for that read only
(``CredentialRejected`` while the balances read with the same key works). That is not the
connection's failure: it stays live, its ``transfers_unavailable`` says ``permission_denied``
with the venue's words, logged once when it starts, and the read is tried again every
``transfers_refused_retry_s`` (a permission granted later is picked up). The first transfer
read waits for the first balance read, so that a refused key is told from a refused read.

The state follows ``eip.account.connections``: ``syncing`` until the first snapshot is stored
and the stream (where the venue has one) is connected; ``degraded`` with the reasons while REST
or the stream fail; ``live`` again when both work. Publishing happens after the store commits,
so a crash between the two re-publishes nothing wrong: the next change or reconcile publishes
the stored state (``BalancePublisher`` compares with what it last published).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from eip.account.connections import ConnectionEvent, ConnectionState, next_state
from eip.account.store import AccountStore, BalanceChange, ConnectionRecord
from eip.exchanges.contract.errors import CredentialRejected, ExchangeError
from eip.exchanges.contract.trading import (
    BalanceUpdate,
    FillEvent,
    StreamResumed,
    TradingAdapter,
)
from eip.exchanges.contract.transfers import TransferHistory, TransferKind
from eip.resilience import RetryPolicy
from eip.storage import DatabaseUnavailable

log = logging.getLogger(__name__)
_SNAPSHOT_RETRIES = 3
_TRANSFER_PAGES_PER_RUN = 20  # windows walked per kind and run; the next run goes on
# ConnectionRecord.transfers_unavailable: the key may not read the venue's transfers.
TRANSFERS_PERMISSION_DENIED = "permission_denied"

Publish = Callable[[ConnectionRecord, list[BalanceChange]], Awaitable[None]]
StateListener = Callable[[ConnectionRecord], None]


@dataclass(frozen=True)
class SyncSettings:
    reconcile_interval_s: float = 60.0
    trade_sync_interval_s: float = 30.0
    trade_page_limit: int = 500
    transfer_sync_interval_s: float = 60.0
    # exchange -> its own transfer sync interval (a venue whose history costs many calls)
    transfer_sync_intervals: Mapping[str, float] = field(default_factory=dict)
    transfer_page_limit: int = 1000
    retry_base_delay_s: float = 1.0
    retry_max_delay_s: float = 30.0
    status_interval_s: float = 1.0
    # A stream not connected yet is not a failure until this long after the sync started.
    stream_connect_grace_s: float = 10.0
    # Transfers refused to a key that reads balances (no permission) are tried again this often.
    transfers_refused_retry_s: float = 3600.0


class ConnectionSync:
    def __init__(
        self,
        record: ConnectionRecord,
        adapter: TradingAdapter,
        store: AccountStore,
        publish: Publish,
        settings: SyncSettings,
        on_state: StateListener | None = None,
        transfers: TransferHistory | None = None,
    ) -> None:
        self.record = record
        self.adapter = adapter
        self.transfers = transfers
        self._store = store
        self._publish = publish
        self._settings = settings
        self._on_state = on_state
        self._balance_wanted = asyncio.Event()
        self._trades_wanted = asyncio.Event()
        self._transfers_wanted = asyncio.Event()
        self._stream_balance_pushes = 0  # bumped by every applied stream balance push
        self._balances_tried = asyncio.Event()  # the first REST balance read has answered
        self._apply_lock = asyncio.Lock()
        self._failures: dict[str, str] = {}  # part ("rest", "stream", "trades") -> reason
        self._rest_ok = False
        self._stream_ok = not adapter.capabilities.private_stream
        self._extra_symbols: set[str] = set()
        self._rules_symbols: list[tuple[str, str, str]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.fills_stored = 0
        self.transfers_changed = 0

    # -- control -------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"sync-{self.record.credential_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(Exception):  # closing a broken adapter must not stop a stop
            if self.transfers is not None:
                await self.transfers.close()
            await self.adapter.close()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def refresh_balances(self) -> None:
        self._balance_wanted.set()

    def sync_trades(self, symbol: str | None = None) -> None:
        if symbol:
            self._extra_symbols.add(symbol)
        self._trades_wanted.set()

    def sync_transfers_now(self) -> None:
        self._transfers_wanted.set()

    async def run(self) -> None:
        parts = [self._balances_loop(), self._trades_loop()]
        if self.transfers is not None:
            parts.append(self._transfers_loop())
        if self.adapter.capabilities.private_stream:
            parts += [self._stream_loop(), self._watch_stream()]
        async with asyncio.TaskGroup() as group:
            for part in parts:
                group.create_task(part)

    # -- state ---------------------------------------------------------------------------

    async def _fire(self, event: ConnectionEvent, reason: str | None) -> None:
        state = next_state(self.record.state, event)
        if state == self.record.state and reason == self.record.reason:
            return
        try:
            await self._store.set_state(self.record.credential_id, state, reason)
        except DatabaseUnavailable:
            log.warning("connection state not stored", extra={"state": state.value})
        self.record = _replace_state(self.record, state, reason)
        log.info(
            "connection state",
            extra={
                "credential_id": self.record.credential_id,
                "exchange": self.record.exchange,
                "state": state.value,
                "reason": reason,
            },
        )
        if self._on_state is not None:
            self._on_state(self.record)

    async def _evaluate(self) -> None:
        if self._failures:
            reason = "; ".join(f"{k}: {v}" for k, v in sorted(self._failures.items()))
            await self._fire(ConnectionEvent.FAILED, reason)
        elif self._rest_ok and self._stream_ok:
            event = (
                ConnectionEvent.RECOVERED
                if self.record.state is ConnectionState.DEGRADED
                else ConnectionEvent.SYNCED
            )
            await self._fire(event, None)

    async def _failed(self, part: str, reason: str) -> None:
        self._failures[part] = reason
        await self._evaluate()

    async def _works(self, part: str) -> None:
        self._failures.pop(part, None)
        await self._evaluate()

    def _delays(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=1_000_000,
            base_delay_s=self._settings.retry_base_delay_s,
            max_delay_s=max(self._settings.retry_max_delay_s, self._settings.retry_base_delay_s),
        )

    # -- balances ------------------------------------------------------------------------

    async def _balances_loop(self) -> None:
        delays = self._delays().delays()
        while True:
            self._balance_wanted.clear()
            try:
                await self.reconcile_balances()
            except CredentialRejected as exc:
                self._rest_ok = False
                self._balances_tried.set()
                await self._failed("rest", f"credential rejected ({_short(exc)})")
                await asyncio.sleep(self._settings.retry_max_delay_s)
                continue
            except ExchangeError as exc:
                self._rest_ok = False
                self._balances_tried.set()
                await self._failed("rest", _short(exc))
                await asyncio.sleep(next(delays))
                continue
            except DatabaseUnavailable as exc:
                log.warning("balances not stored", extra={"error": str(exc)})
                await asyncio.sleep(next(delays))
                continue
            delays = self._delays().delays()
            self._rest_ok = True
            self._balances_tried.set()
            await self._works("rest")
            await _wait(self._balance_wanted, self._settings.reconcile_interval_s)

    async def reconcile_balances(self) -> list[BalanceChange]:
        """One REST snapshot, stored and published; the changes it made (drift corrected)."""
        for attempt in range(_SNAPSHOT_RETRIES + 1):
            pushes_before = self._stream_balance_pushes
            balances = await self.adapter.fetch_balances()
            if pushes_before != self._stream_balance_pushes and attempt < _SNAPSHOT_RETRIES:
                continue  # a push may be newer than this snapshot: read again
            async with self._apply_lock:
                if pushes_before != self._stream_balance_pushes and attempt < _SNAPSHOT_RETRIES:
                    continue
                changes = await self._store.apply_balances(
                    self.record, balances, snapshot=True, source="rest", at=_now()
                )
            if changes:
                log.info(
                    "balances changed over REST",
                    extra={"credential_id": self.record.credential_id, "changes": len(changes)},
                )
            await self._publish(self.record, changes)
            return changes
        return []  # pragma: no cover - the last attempt always applies

    # -- stream --------------------------------------------------------------------------

    async def _stream_loop(self) -> None:
        delays = self._delays().delays()
        while True:
            try:
                async for event in self.adapter.private_events():
                    delays = self._delays().delays()
                    await self._on_event(event)
            except CredentialRejected as exc:
                self._stream_ok = False
                await self._failed("stream", f"credential rejected ({_short(exc)})")
                await asyncio.sleep(self._settings.retry_max_delay_s)
            except ExchangeError as exc:
                self._stream_ok = False
                await self._failed("stream", _short(exc))
                await asyncio.sleep(next(delays))
            except DatabaseUnavailable as exc:
                log.warning("stream event not stored", extra={"error": str(exc)})
                await asyncio.sleep(next(delays))
            else:
                await asyncio.sleep(next(delays))  # the iterator ended: open a new one

    async def _on_event(self, event: object) -> None:
        if isinstance(event, BalanceUpdate):
            async with self._apply_lock:
                self._stream_balance_pushes += 1
                changes = await self._store.apply_balances(
                    self.record,
                    event.balances,
                    snapshot=event.snapshot,
                    source="stream",
                    at=event.exchange_time or event.received_time,
                )
            await self._publish(self.record, changes)
        elif isinstance(event, FillEvent):
            if await self._store.store_stream_fill(self.record, event.fill):
                self.fills_stored += 1
            self._extra_symbols.add(event.fill.symbol)
        elif isinstance(event, StreamResumed):
            # orders and fills were caught up by the adapter; balances are read again here
            self.refresh_balances()

    async def _watch_stream(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        ever_connected = False
        while True:
            status = self.adapter.status()
            healthy = status.connected and not status.stale
            ever_connected = ever_connected or healthy
            if (
                not healthy
                and not ever_connected
                and loop.time() - started < self._settings.stream_connect_grace_s
            ):
                await asyncio.sleep(self._settings.status_interval_s)
                continue
            if healthy != self._stream_ok or (not healthy and "stream" not in self._failures):
                self._stream_ok = healthy
                if healthy:
                    await self._works("stream")
                    self.refresh_balances()  # what changed while it was down
                else:
                    why = "stale" if status.connected else "disconnected"
                    await self._failed("stream", status.detail or why)
            await asyncio.sleep(self._settings.status_interval_s)

    # -- trades --------------------------------------------------------------------------

    async def _trades_loop(self) -> None:
        delays = self._delays().delays()
        while True:
            self._trades_wanted.clear()
            try:
                await self.sync_fills()
            except CredentialRejected as exc:
                await self._failed("trades", f"credential rejected ({_short(exc)})")
                await asyncio.sleep(self._settings.retry_max_delay_s)
                continue
            except (ExchangeError, DatabaseUnavailable) as exc:
                await self._failed("trades", _short(exc))
                await asyncio.sleep(next(delays))
                continue
            delays = self._delays().delays()
            await self._works("trades")
            await _wait(self._trades_wanted, self._settings.trade_sync_interval_s)

    async def sync_fills(self) -> int:
        """Every page of new fills of every symbol, each stored with its cursor; the count."""
        new = 0
        for symbol in await self._symbols():
            cursor = await self._store.fill_cursor(self.record.credential_id, symbol)
            while True:
                page = await self.adapter.fetch_fills(
                    symbol, cursor, self._settings.trade_page_limit
                )
                if not page.fills and page.next_cursor == cursor:
                    break
                new += await self._store.store_fill_page(
                    self.record, symbol, page.fills, page.next_cursor
                )
                if not page.fills or page.next_cursor == cursor:
                    break
                cursor = page.next_cursor
        await self._store.touch_trade_sync(self.record.credential_id, _now())
        self.record = _replace_trade_sync(self.record, _now())
        self.fills_stored += new
        return new

    async def _symbols(self) -> Sequence[str | None]:
        if not self.adapter.capabilities.history_needs_symbol:
            return [None]
        # Venues that keep fills per instrument (a trades call per symbol): every listed instrument
        # with an asset the account holds or held, every symbol already traded, and the
        # symbols fills and order events named.
        if self._rules_symbols is None:
            rules = await self.adapter.load_rules()
            self._rules_symbols = [(s, r.base, r.quote) for s, r in sorted(rules.items())]
        held = {
            row.asset
            for row in await self._store.balances(
                [self.record.account_id], exchange=self.record.exchange, include_revoked=True
            )
            if row.credential_id == self.record.credential_id
        }
        symbols = {s for s, base, quote in self._rules_symbols if base in held or quote in held}
        symbols |= set(await self._store.fill_symbols(self.record.credential_id))
        symbols |= self._extra_symbols
        return [*sorted(symbols)]

    # -- deposits and withdrawals ----------------------------------------------------------

    async def _transfers_loop(self) -> None:
        delays = self._delays().delays()
        await self._balances_tried.wait()  # a refused key is told from a refused read by it
        while True:
            self._transfers_wanted.clear()
            try:
                await self.sync_transfers()
                await self._transfers_available()
            except CredentialRejected as exc:
                if self._rest_ok:  # the same key reads balances: refused this read only
                    await self._transfers_refused(_short(exc))
                    await _wait(self._transfers_wanted, self._settings.transfers_refused_retry_s)
                    continue
                await self._failed("transfers", f"credential rejected ({_short(exc)})")
                await asyncio.sleep(self._settings.retry_max_delay_s)
                continue
            except (ExchangeError, DatabaseUnavailable) as exc:
                await self._failed("transfers", _short(exc))
                await asyncio.sleep(next(delays))
                continue
            delays = self._delays().delays()
            await self._works("transfers")
            interval = self._settings.transfer_sync_intervals.get(
                self.record.exchange, self._settings.transfer_sync_interval_s
            )
            await _wait(self._transfers_wanted, interval)

    async def _transfers_refused(self, detail: str) -> None:
        """Transfers unavailable (a permission the key lacks); the connection is not degraded
        for it. Stored and logged when it starts, not at every try."""
        self._failures.pop("transfers", None)
        await self._evaluate()
        if self.record.transfers_unavailable == TRANSFERS_PERMISSION_DENIED:
            return
        try:
            await self._store.set_transfers_unavailable(
                self.record.credential_id, TRANSFERS_PERMISSION_DENIED, detail
            )
        except DatabaseUnavailable:
            log.warning("transfers' availability not stored", extra={"detail": detail})
            return  # logged and stored at the next try
        self.record = replace(
            self.record, transfers_unavailable=TRANSFERS_PERMISSION_DENIED, transfers_detail=detail
        )
        log.warning(
            "transfers unavailable: the key reads balances but the venue refuses its deposits"
            " and withdrawals",
            extra={
                "credential_id": self.record.credential_id,
                "exchange": self.record.exchange,
                "reason": TRANSFERS_PERMISSION_DENIED,
                "detail": detail,
                "retry_in_s": self._settings.transfers_refused_retry_s,
            },
        )

    async def _transfers_available(self) -> None:
        if self.record.transfers_unavailable is None:
            return
        await self._store.set_transfers_unavailable(self.record.credential_id, None, None)
        self.record = replace(self.record, transfers_unavailable=None, transfers_detail=None)
        log.info(
            "transfers available again",
            extra={"credential_id": self.record.credential_id, "exchange": self.record.exchange},
        )

    async def sync_transfers(self) -> int:
        """Every page of deposits and withdrawals after the stored cursors, each stored with
        its cursor; the count of transfers added or changed (any: balances are read again)."""
        if self.transfers is None:
            return 0
        changed = 0
        for kind in TransferKind:
            cursor = await self._store.transfer_cursor(self.record.credential_id, kind)
            for _ in range(_TRANSFER_PAGES_PER_RUN):
                page = await self.transfers.fetch_transfers(
                    kind, cursor, self._settings.transfer_page_limit
                )
                added, updated = await self._store.store_transfer_page(
                    self.record, kind, page.transfers, page.next_cursor
                )
                changed += added + updated
                if not page.more:
                    break
                cursor = page.next_cursor
        if changed:
            log.info(
                "transfers changed",
                extra={"credential_id": self.record.credential_id, "changed": changed},
            )
            self.refresh_balances()
        self.transfers_changed += changed
        return changed


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    """Until ``event`` is set or ``timeout_s`` passed. ``asyncio.timeout``, not ``wait_for``:
    on Python 3.11 a ``wait_for`` whose inner wait completes as the task is cancelled swallows
    the cancellation, and a stopped sync would run on for ever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


def _now() -> datetime:
    return datetime.now(UTC)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "..."


def _replace_state(
    rec: ConnectionRecord, state: ConnectionState, reason: str | None
) -> ConnectionRecord:
    return replace(rec, state=state, reason=reason)


def _replace_trade_sync(rec: ConnectionRecord, at: datetime) -> ConnectionRecord:
    return replace(rec, last_trade_sync_at=at)
