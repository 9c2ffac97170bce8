"""Which connections this instance syncs, and what the credential lifecycle does to them.

``auth.credentials.v1`` is consumed in one group shared by every instance, keyed by credential
id: the instance that owns a credential's partition owns its connection — it alone handles the
credential's lifecycle events and runs its sync. Ownership follows the group's rebalances
(``RebalanceListener``): partitions gained start the stored connections whose key lands on them,
partitions given up stop theirs, so two instances never sync one connection for long.
The partition of a credential is the producer's (``partition_for_key``) over the registry's
partition count of the topic, which ``create-topics`` keeps the topic at.

Lifecycle (``eip.account.connections`` decides every state change):

- CREATED / VALIDATED: the connection is stored (metadata read from the auth service with the
  service's token: permissions, IP restriction, label — the event's own fields when auth does
  not answer) and its sync starts at once;
- ROTATED: the sync restarts with a fresh adapter, which signs with the new version;
- REVOKED: the sync stops and the connection is marked revoked; its balances leave every
  total (they are kept, and still readable with ``include_revoked``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

from aiokafka import TopicPartition

from eip.account.auth_clients import AuthClients
from eip.account.connections import ConnectionEvent, ConnectionState, InvalidTransition, next_state
from eip.account.publisher import BalancePublisher
from eip.account.store import AccountStore, ConnectionRecord
from eip.account.sync import ConnectionSync, SyncSettings
from eip.account.venues import AdapterFactory, TransferFactory
from eip.bus import Record, partition_for_key
from eip.credentials_client import CredentialsUnavailable
from eip.events.v1 import auth_pb2, orders_pb2
from eip.exchanges.contract.errors import ExchangeError, UnknownExchange
from eip.storage import DatabaseUnavailable

log = logging.getLogger(__name__)
A = auth_pb2


class SyncManager:
    def __init__(
        self,
        store: AccountStore,
        adapters: AdapterFactory | None,
        publisher: BalancePublisher,
        settings: SyncSettings,
        *,
        auth: AuthClients | None = None,
        partitions: int = 3,
        transfers: TransferFactory | None = None,
    ) -> None:
        self.store = store
        self._adapters = adapters
        self._transfers = transfers
        self._publisher = publisher
        self._settings = settings
        self._auth = auth
        self._partitions = list(range(partitions))
        self.syncs: dict[str, ConnectionSync] = {}
        self._owned: set[int] | None = None  # None: every partition (no group in use)
        self._lock = asyncio.Lock()

    # -- ownership -----------------------------------------------------------------------

    def owns(self, credential_id: str) -> bool:
        if self._owned is None:
            return True
        return partition_for_key(credential_id.encode(), self._partitions) in self._owned

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        async with self._lock:
            self._owned = {tp.partition for tp in partitions}
            for rec in await self.store.connections():
                if rec.state is not ConnectionState.REVOKED and self.owns(rec.credential_id):
                    await self._start(rec)
            for credential_id in [c for c in self.syncs if not self.owns(c)]:
                await self._stop(credential_id)

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        async with self._lock:
            gone = {tp.partition for tp in partitions}
            self._owned = (self._owned or set()) - gone
            for credential_id in [c for c in self.syncs if not self.owns(c)]:
                await self._stop(credential_id)

    async def start_all(self) -> None:
        """Without a consumer group (one instance, tests): sync every stored connection."""
        async with self._lock:
            for rec in await self.store.connections():
                if rec.state is not ConnectionState.REVOKED:
                    await self._start(rec)

    async def stop_all(self) -> None:
        async with self._lock:
            for credential_id in list(self.syncs):
                await self._stop(credential_id)

    # -- lifecycle -----------------------------------------------------------------------

    async def handle_credential_event(self, record: Record) -> None:
        event = record.message
        assert isinstance(event, A.CredentialEvent)
        if not event.credential_id or not event.account_id or not event.exchange:
            return
        async with self._lock:
            if event.action in (A.CREDENTIAL_ACTION_CREATED, A.CREDENTIAL_ACTION_VALIDATED):
                await self.connect(event)
            elif event.action == A.CREDENTIAL_ACTION_ROTATED:
                await self._transition(event, ConnectionEvent.ROTATED)
            elif event.action == A.CREDENTIAL_ACTION_REVOKED:
                await self._transition(event, ConnectionEvent.REVOKED)

    async def connect(self, event: auth_pb2.CredentialEvent) -> ConnectionRecord:
        current = await self.store.connection(event.credential_id)
        base = current or ConnectionRecord(
            credential_id=event.credential_id,
            account_id=event.account_id,
            exchange=event.exchange,
            state=ConnectionState.SYNCING,
        )
        state = next_state(base.state, ConnectionEvent.CONNECTED)
        rec = await self._with_metadata(
            replace(
                base,
                state=state,
                reason=base.reason if state is ConnectionState.DEGRADED else None,
                permissions=tuple(event.permissions) or base.permissions,
                credential_version=event.version or base.credential_version,
            )
        )
        await self.store.upsert_connection(rec)
        if rec.state is not ConnectionState.REVOKED and self.owns(rec.credential_id):
            await self._start(rec)
        return rec

    async def _transition(
        self, event: auth_pb2.CredentialEvent, what: ConnectionEvent
    ) -> ConnectionRecord | None:
        current = await self.store.connection(event.credential_id)
        if current is None:
            if what is ConnectionEvent.REVOKED:
                return None  # never connected here: nothing to stop
            return await self.connect(event)
        try:
            state = next_state(current.state, what)
        except InvalidTransition:
            log.warning("lifecycle event ignored", extra={"credential_id": current.credential_id})
            return current
        rec = replace(
            current,
            state=state,
            reason="credential revoked" if state is ConnectionState.REVOKED else None,
            credential_version=event.version or current.credential_version,
        )
        if what is ConnectionEvent.ROTATED:
            rec = await self._with_metadata(rec)
        await self.store.upsert_connection(rec)
        await self._stop(rec.credential_id)
        if state is not ConnectionState.REVOKED and self.owns(rec.credential_id):
            await self._start(rec)
        return rec

    async def _with_metadata(self, rec: ConnectionRecord) -> ConnectionRecord:
        if self._auth is None:
            return rec
        try:
            meta = await self._auth.for_account(rec.account_id).metadata(rec.credential_id)
        except CredentialsUnavailable as exc:
            log.warning("credential metadata not read", extra={"error": str(exc)})
            return rec
        return replace(
            rec,
            permissions=tuple(str(p) for p in meta.get("permissions") or rec.permissions),
            ip_restricted=meta.get("ip_restricted", rec.ip_restricted),
            label=meta.get("label") or rec.label,
            credential_version=meta.get("vault_version") or rec.credential_version,
        )

    # -- syncs ---------------------------------------------------------------------------

    async def _start(self, rec: ConnectionRecord) -> None:
        if rec.credential_id in self.syncs:
            return
        if self._adapters is None:
            return  # no way to reach venues configured (no service credentials)
        try:
            adapter = self._adapters(rec)
        except (UnknownExchange, ExchangeError) as exc:
            reason = f"no adapter: {exc}"
            state = next_state(rec.state, ConnectionEvent.FAILED)
            with contextlib.suppress(DatabaseUnavailable):
                await self.store.set_state(rec.credential_id, state, reason)
            log.warning("connection not synced", extra={"reason": reason})
            return
        history = self._transfers(rec, adapter) if self._transfers is not None else None
        sync = ConnectionSync(
            rec, adapter, self.store, self._publisher, self._settings, transfers=history
        )
        self.syncs[rec.credential_id] = sync
        sync.start()

    async def _stop(self, credential_id: str) -> None:
        sync = self.syncs.pop(credential_id, None)
        if sync is not None:
            await sync.stop()

    # -- order events --------------------------------------------------------------------

    async def handle_order_event(self, record: Record) -> None:
        """A fill on ``orders.events.v1``: refresh the balances (and fills) of the account's
        connections at that exchange, here where they are synced."""
        event = record.message
        assert isinstance(event, orders_pb2.OrderEvent)
        if not event.HasField("last_fill") or not event.last_fill.trade_id:
            return
        self.refresh(event.account_id, event.spec.instrument.exchange, event.spec.instrument.symbol)

    def refresh(self, account_id: str, exchange: str, symbol: str | None = None) -> int:
        hit = 0
        for sync in self.syncs.values():
            if sync.record.account_id == account_id and sync.record.exchange == exchange:
                sync.refresh_balances()
                sync.sync_trades(symbol or None)
                hit += 1
        return hit

    def states(self) -> dict[str, ConnectionRecord]:
        return {c: s.record for c, s in self.syncs.items()}
