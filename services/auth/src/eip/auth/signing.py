"""The signing fast path: ``POST /v1/credentials/{id}/sign`` without a PostgreSQL round trip, a
Vault read or an audit-chain append per signature.

Order management signs every venue request through here (issue 15 wants ≥ 1,000 orders/s and
≤ 5 ms added at p99), so a signature costs a token check, two dictionary look-ups and an HMAC.
What each request used to pay, and what it pays now:

- **The credential's metadata** (status, account, exchange, Vault version) is read from
  PostgreSQL at most every ``AUTH_CACHE_TTL_S`` per credential (``eip.auth.caches``). The status
  check stays authoritative: this instance evicts a credential right after it commits a
  rotation or revocation (the next request reads the row again: revoked → 410 at once), other
  instances evict it when the ``auth.credentials.v1`` event reaches them (``eip.auth.changes``),
  and the TTL bounds an instance that missed the event (Kafka down): it may sign with a revoked
  credential for at most ``AUTH_CACHE_TTL_S`` after the revocation committed.
- **The secret** is read from Vault once per (credential, Vault version) and kept in this
  process — auth holds it anyway. A KV v2 version never changes, so a secret read for the
  version the metadata names is good for as long as the metadata names it: a rotation moves
  the metadata to a new version, whose secret is read on the next request. Dropped on a change
  to the credential, when the metadata says it is no longer active, and once unused for an
  audit interval. Registered with the log redactor; ``ExchangeSecret`` hides it from ``repr``.
- **The audit**: signatures are audited in aggregate (``SignAudit``): per credential, caller
  and interval (``AUTH_SIGN_AUDIT_INTERVAL_S``) one ``credential.sign`` event with the count,
  the first and last time, the schemes, purposes and Vault versions, appended by a background
  flusher (and at shutdown) in one transaction that also moves ``last_used_at``. The counter
  ``eip_auth_signatures_total`` counts each signature. A process killed before a flush loses
  the counts of at most one interval (the orders themselves are audited by order management);
  refusals (another account, a revoked credential) are still audited one by one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from eip.audit import AuditEntry, AuditTrail
from eip.auth.caches import RefreshingCache
from eip.auth.credentials import CredentialStore
from eip.exchanges.contract.credentials import ExchangeSecret, SigningInputError, signing_scheme
from eip.observability.http import ApiError
from eip.tokens import Claims

log = logging.getLogger(__name__)

SIGNATURES = Counter(
    "eip_auth_signatures_total", "Requests signed through /sign", ["exchange", "scheme"]
)
SIGN_AUDIT_FLUSHES = Counter(
    "eip_auth_sign_audit_flushes_total",
    "Flushes of the aggregated credential.sign audit events",
    ["outcome"],
)
# Distinct purposes kept per aggregated event; more are counted, not listed (a caller choosing
# a new purpose per request must not grow an event without bound).
MAX_PURPOSES = 16


@dataclass(frozen=True)
class CredentialState:
    """What signing needs of a credential's metadata row (nothing secret)."""

    credential_id: str
    account_id: str
    exchange: str
    status: str
    vault_version: int


@dataclass
class _HeldSecret:
    version: int
    secret: ExchangeSecret = field(repr=False)
    used_at: float = 0.0


@dataclass
class _Tally:
    """Signatures of one credential by one caller since the last flush."""

    count: int
    first: datetime
    last: datetime
    schemes: set[str] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)
    more_purposes: int = 0
    versions: set[int] = field(default_factory=set)

    def add_purpose(self, purpose: str) -> None:
        if purpose in self.purposes:
            return
        if len(self.purposes) < MAX_PURPOSES:
            self.purposes.add(purpose)
        else:
            self.more_purposes += 1

    def merge(self, other: _Tally) -> None:
        self.count += other.count
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.schemes |= other.schemes
        self.versions |= other.versions
        for purpose in sorted(other.purposes):
            self.add_purpose(purpose)
        self.more_purposes += other.more_purposes

    def details(self, interval_s: float, instance: str) -> dict[str, str]:
        details = {
            "count": str(self.count),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "schemes": ",".join(sorted(self.schemes)),
            # purposes are the caller's free text: a JSON list keeps them apart
            "purposes": json.dumps(sorted(self.purposes)),
            "vault_versions": ",".join(str(v) for v in sorted(self.versions)),
            "interval_s": f"{interval_s:g}",
            "instance": instance,
        }
        if self.more_purposes:
            details["more_purposes"] = str(self.more_purposes)
        return details


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a shared read's failure as seen: its waiters may all have gone."""
    if not task.cancelled():
        task.exception()


def instance_name() -> str:
    """Which auth process wrote an aggregated event (a pod's name is its host name)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SignAudit:
    """Signatures counted in memory and appended to the audit chain once per interval."""

    def __init__(
        self,
        *,
        db: AsyncConnectionPool[AsyncConnection[Any]],
        audit: AuditTrail,
        schema: str,
        interval_s: float,
        instance: str | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.interval_s = interval_s
        self.instance = instance or instance_name()
        self._credentials = sql.Identifier(schema, "credentials")
        self._pending: dict[tuple[str, str], _Tally] = {}
        self._flushing = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Signatures counted and not yet in the audit chain."""
        return sum(t.count for t in self._pending.values())

    def record(
        self, *, credential_id: str, actor: str, scheme: str, purpose: str, version: int
    ) -> None:
        now = datetime.now(UTC)
        tally = self._pending.get((credential_id, actor))
        if tally is None:
            tally = self._pending[(credential_id, actor)] = _Tally(0, now, now)
        tally.count += 1
        tally.last = now
        tally.schemes.add(scheme)
        tally.versions.add(version)
        tally.add_purpose(purpose)

    async def flush(self) -> int:
        """Append one ``credential.sign`` event per credential and caller counted since the
        last flush, and move their ``last_used_at``, in one transaction; the number of events.
        If it fails the counts stay for the next flush. One flush at a time."""
        async with self._flushing:
            if not self._pending:
                return 0
            pending, self._pending = self._pending, {}
            entries: list[AuditEntry] = []
            try:
                async with self.db.connection() as conn, conn.transaction():
                    for (credential_id, actor), tally in sorted(pending.items()):
                        entries.append(
                            await self.audit.append(
                                conn,
                                actor=actor,
                                action="credential.sign",
                                subject=credential_id,
                                details=tally.details(self.interval_s, self.instance),
                            )
                        )
                    last_used: dict[str, datetime] = {}
                    for (credential_id, _), tally in pending.items():
                        last_used[credential_id] = max(
                            tally.last, last_used.get(credential_id, tally.last)
                        )
                    for credential_id, last in sorted(last_used.items()):
                        await conn.execute(
                            sql.SQL(
                                "UPDATE {} SET last_used_at = GREATEST(last_used_at, %s)"
                                " WHERE id = %s"
                            ).format(self._credentials),
                            (last, credential_id),
                        )
            except Exception:
                for key, tally in pending.items():
                    if key in self._pending:
                        tally.merge(self._pending[key])
                    self._pending[key] = tally
                SIGN_AUDIT_FLUSHES.labels("failed").inc()
                raise
            SIGN_AUDIT_FLUSHES.labels("success").inc()
        await self.audit.publish(entries)
        return len(entries)

    async def run(self) -> None:
        """Flush every interval until cancelled; a flush in progress finishes (shielded), and
        the caller flushes what is left at shutdown."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.shield(self.flush())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: the counts wait for the next flush
                log.warning(
                    "sign audit not flushed; kept for the next interval",
                    extra={"error": type(exc).__name__, "pending": self.pending},
                )


class CredentialSigner:
    """Signs with a credential's secret for a caller whose token was checked; see the module
    docstring for what is cached and what ends it."""

    def __init__(self, store: CredentialStore, audit: SignAudit, cache_ttl_s: float) -> None:
        self.store = store
        self.audit = audit
        self._states: RefreshingCache[str, CredentialState] = RefreshingCache(cache_ttl_s)
        self._secrets: dict[str, _HeldSecret] = {}
        self._secret_reads: dict[tuple[str, int], asyncio.Future[ExchangeSecret]] = {}

    def forget(self, credential_id: str) -> None:
        """The credential changed (here, or at another instance): drop its metadata and its
        secret; the next request reads both again."""
        self._states.evict(credential_id)
        self._secrets.pop(credential_id, None)
        for key in [k for k in self._secret_reads if k[0] == credential_id]:
            del self._secret_reads[key]

    def forget_all(self) -> None:
        self._states.clear()
        self._secrets.clear()
        self._secret_reads.clear()

    def sweep(self, idle_s: float) -> int:
        """Drop the secrets not used for ``idle_s``; how many."""
        cutoff = time.monotonic() - idle_s
        idle = [cid for cid, held in self._secrets.items() if held.used_at < cutoff]
        for credential_id in idle:
            self._secrets.pop(credential_id, None)
        return len(idle)

    async def state(self, credential_id: str) -> CredentialState:
        """The credential's metadata (404 for an unknown id), read at most every TTL."""

        async def read() -> CredentialState:
            row = await self.store.get(credential_id)
            return CredentialState(
                credential_id=str(row["id"]),
                account_id=str(row["account_id"]),
                exchange=str(row["exchange"]),
                status=str(row["status"]),
                vault_version=int(row["vault_version"]),
            )

        state = await self._states.get(credential_id, read)
        if state.status != "active":
            self._secrets.pop(credential_id, None)
        return state

    async def secret(self, state: CredentialState) -> ExchangeSecret:
        """The secret of the version the metadata names, read from Vault once."""
        held = self._secrets.get(state.credential_id)
        now = time.monotonic()
        if held is not None and held.version == state.vault_version:
            held.used_at = now
            return held.secret
        key = (state.credential_id, state.vault_version)
        reading = self._secret_reads.get(key)
        if reading is None:
            # One Vault read however many requests miss at once; it runs on its own task, so
            # a request that goes away does not end it for the others.
            reading = asyncio.ensure_future(self._read_secret(state))
            reading.add_done_callback(_retrieve)
            self._secret_reads[key] = reading
        return await asyncio.shield(reading)

    async def _read_secret(self, state: CredentialState) -> ExchangeSecret:
        key = (state.credential_id, state.vault_version)
        me = asyncio.current_task()
        try:
            secret = await self.store.read_secret(
                {
                    "id": state.credential_id,
                    "account_id": state.account_id,
                    "vault_version": state.vault_version,
                }
            )
        finally:
            current = self._secret_reads.get(key) is me
            if current:
                del self._secret_reads[key]
        # Kept only if nothing forgot the credential while Vault answered (forget drops the
        # read); the caller still gets it: its request was concurrent with that change.
        if current:
            self._secrets[state.credential_id] = _HeldSecret(
                state.vault_version, secret, time.monotonic()
            )
        return secret

    async def sign(
        self,
        *,
        claims: Claims,
        actor: str,
        credential_id: str,
        scheme: str | None,
        inputs: Mapping[str, str],
        purpose: str,
    ) -> dict[str, Any]:
        """Checks in the order callers rely on: unknown (404), another account's (403,
        audited), fields that do not fit the scheme (422, before the secret is touched),
        revoked (410, audited); then the signature."""
        state = await self.state(credential_id)
        if not claims.may_use_account(state.account_id):
            await self.store.audit_denied(
                actor,
                "credential.sign",
                credential_id,
                "denied",
                {"reason": "account not in token"},
            )
            raise ApiError(403, "forbidden", "token does not cover this credential's account")
        validator = self.store.validator(state.exchange)
        try:
            name, signing = signing_scheme(validator, scheme, inputs)
        except SigningInputError as exc:
            raise ApiError(422, "invalid_signing_request", str(exc)) from None
        if state.status != "active":
            await self.store.audit_denied(
                actor, "credential.sign", credential_id, "denied", {"reason": "revoked"}
            )
            raise ApiError(410, "credential_revoked", "the credential is revoked")
        secret = await self.secret(state)
        signed = signing.sign(secret, inputs)
        SIGNATURES.labels(state.exchange, name).inc()
        self.audit.record(
            credential_id=credential_id,
            actor=actor,
            scheme=name,
            purpose=purpose,
            version=state.vault_version,
        )
        return {
            "api_key": secret.api_key,
            "scheme": name,
            "signature": signed.signature,
            "headers": dict(signed.headers),
            "version": state.vault_version,
        }
