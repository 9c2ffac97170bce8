"""Exchange credentials: validate at the exchange, secret to Vault, metadata to PostgreSQL.

Order of writes, so that an outage never leaves a half-written credential:

1. validate the key at the exchange (nothing written yet);
2. write the secret to Vault (a new path, or a new KV v2 version of the same path on rotation);
3. in ONE PostgreSQL transaction: the metadata row (or its update) and the audit events.

If Vault is down, step 2 fails and nothing exists anywhere: 503. If PostgreSQL fails at step
3, a create removes the Vault path it just wrote; if even that fails, the orphan secret is
harmless: every read goes through a metadata row, which does not exist. For a rotation the
orphan is a newer Vault version than the metadata's ``vault_version``, and reads pin that
version, so the old key stays the one in use; the next rotation writes over it.

Revocation flips the metadata row first (access ends at once, whatever Vault's state), then
soft-deletes the current Vault version (kept in the version history) and tells every cache
through ``auth.credentials.v1``. Every committed change also calls ``on_change`` at once, so
this instance's signing path (``eip.auth.signing``) forgets what it held of the credential
before the change is answered.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter, Gauge
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from eip.audit import AuditEntry, AuditTrail
from eip.bus import Producer
from eip.events.topics import AUTH_CREDENTIALS, TopicSpec
from eip.events.v1 import auth_pb2
from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    ExchangeUnavailable,
    KeyPermissions,
    KeyRejected,
    KeyValidator,
)
from eip.observability.http import ApiError, excerpt
from eip.observability.redaction import register_secret
from eip.vault import VaultClient, VaultError, VaultUnavailable

log = logging.getLogger(__name__)

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

CREDENTIAL_ACTIONS = Counter(
    "eip_auth_credential_actions_total", "Credential actions", ["action", "outcome"]
)
CREDENTIALS_EXPIRING = Gauge(
    "eip_auth_credentials_expiring", "Active credentials older than the maximum key age"
)
EVENT_PUBLISH_FAILED = Counter(
    "eip_auth_credential_event_publish_failures_total",
    "Credential lifecycle events that could not be published",
)

_ACTION = auth_pb2.CredentialAction
_OUTBOX_LOCK = 0x43524544_0000  # "CRED": the credential event relay's advisory lock


def vault_unavailable() -> ApiError:
    return ApiError(503, "vault_unavailable", "the secret store is unavailable; nothing changed")


def database_unavailable() -> ApiError:
    return ApiError(503, "database_unavailable", "the metadata store is unavailable")


class CredentialStore:
    def __init__(
        self,
        *,
        db: AsyncConnectionPool[AsyncConnection[Any]],
        vault: VaultClient,
        producer: Producer | None,
        audit: AuditTrail,
        validators: Mapping[str, KeyValidator],
        schema: str,
        vault_prefix: str,
        credentials_topic: TopicSpec = AUTH_CREDENTIALS,
        max_key_age: timedelta = timedelta(days=90),
        on_change: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.producer = producer
        self.audit = audit
        self.validators = validators
        self.schema = schema
        self.vault_prefix = vault_prefix
        self.topic = credentials_topic
        self.max_key_age = max_key_age
        self.on_change = on_change
        self._table = sql.Identifier(schema, "credentials")
        self._outbox = sql.Identifier(schema, "credential_outbox")
        # stable across processes (Python's hash() of a str is not)
        self._outbox_lock = _OUTBOX_LOCK ^ int(hashlib.sha256(schema.encode()).hexdigest()[:7], 16)

    # -- helpers -------------------------------------------------------------------------------

    def validator(self, exchange: str) -> KeyValidator:
        validator = self.validators.get(exchange)
        if validator is None:
            raise ApiError(
                422,
                "unsupported_exchange",
                f"no validator for exchange {excerpt(exchange)}",
                {"supported": sorted(self.validators)},
            )
        return validator

    def path(self, account_id: str, credential_id: str) -> str:
        return f"{self.vault_prefix}/{account_id}/{credential_id}"

    async def _store_secret(self, action: str, path: str, secret: ExchangeSecret) -> int:
        """Write the secret material to Vault (the only place it is kept); its KV version."""
        data = {"api_key": secret.api_key, "secret": secret.secret}
        if secret.passphrase:
            data["passphrase"] = secret.passphrase
        try:
            return await self.vault.kv_put(path, data)
        except (VaultUnavailable, VaultError) as exc:
            CREDENTIAL_ACTIONS.labels(action, "vault_unavailable").inc()
            log.error(
                "credential not stored: Vault failed",
                extra={"action": action, "error": type(exc).__name__},
            )
            raise vault_unavailable() from None

    async def _validate(
        self, validator: KeyValidator, secret: ExchangeSecret
    ) -> KeyPermissions | str:
        """Permissions, or the reason the exchange refused the key."""
        try:
            return await validator.validate(secret)
        except KeyRejected as exc:
            return str(exc)
        except ExchangeUnavailable as exc:
            raise ApiError(
                502, "exchange_unavailable", "the exchange could not validate the key now"
            ) from exc

    async def get(self, credential_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(credential_id)
        except ValueError:
            raise ApiError(404, "not_found", "no such credential") from None
        async with self.db.connection() as conn:
            row = await self._fetch(conn, credential_id)
        if row is None:
            raise ApiError(404, "not_found", "no such credential")
        return row

    async def _fetch(
        self, conn: AsyncConnection[Any], credential_id: str, lock: bool = False
    ) -> dict[str, Any] | None:
        cursor = conn.cursor(row_factory=dict_row)
        query = sql.SQL("SELECT * FROM {} WHERE id = %s" + (" FOR UPDATE" if lock else ""))
        await cursor.execute(query.format(self._table), (credential_id,))
        return await cursor.fetchone()

    async def list_credentials(self, account_id: str | None = None) -> list[dict[str, Any]]:
        cursor_sql = sql.SQL("SELECT * FROM {} {} ORDER BY created_at").format(
            self._table,
            sql.SQL("WHERE account_id = %s") if account_id else sql.SQL(""),
        )
        async with self.db.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(cursor_sql, (account_id,) if account_id else None)
            return list(await cursor.fetchall())

    async def _enqueue(
        self, conn: AsyncConnection[Any], row: Mapping[str, Any], action: int
    ) -> None:
        """Queue the lifecycle event in the transaction of the change (transactional outbox):
        the event exists if and only if the change committed."""
        ts = Timestamp()
        ts.FromDatetime(datetime.now(UTC))
        event = auth_pb2.CredentialEvent(
            credential_id=str(row["id"]),
            account_id=row["account_id"],
            exchange=row["exchange"],
            action=action,  # type: ignore[arg-type]
            time=ts,
            permissions=list(row["permissions"]),
            status=row["status"],
            version=int(row["vault_version"]),
        )
        await conn.execute(
            sql.SQL("INSERT INTO {} (credential_id, payload) VALUES (%s, %s)").format(self._outbox),
            (str(row["id"]), event.SerializeToString()),
        )

    async def relay_events(self, batch: int = 200) -> int:
        """Publish queued lifecycle events in order, deleting each batch only after the broker
        acknowledged it; returns how many. One relay at a time (advisory lock), so events of
        one credential are never reordered."""
        if self.producer is None:
            EVENT_PUBLISH_FAILED.inc()
            log.error("credential events queued: Kafka not connected yet")
            return 0
        async with self.db.connection() as conn, conn.transaction():
            # Wait for a relay already running rather than skip: when this returns, the
            # events committed before the call are published (or the call raised).
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._outbox_lock,))
            cursor = await conn.execute(
                sql.SQL("SELECT id, credential_id, payload FROM {} ORDER BY id LIMIT %s").format(
                    self._outbox
                ),
                (batch,),
            )
            rows = await cursor.fetchall()
            for _, credential_id, payload in rows:
                event = auth_pb2.CredentialEvent.FromString(bytes(payload))
                await self.producer.publish(self.topic, str(credential_id).encode(), event)
            if rows:
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self._outbox),
                    ([r[0] for r in rows],),
                )
        return len(rows)

    async def _relay_now(self) -> None:
        """After a commit: publish at once; on failure the relay loop retries."""
        try:
            await self.relay_events()
        except Exception as exc:
            EVENT_PUBLISH_FAILED.inc()
            log.error("credential events not published yet", extra={"error": type(exc).__name__})

    # -- actions -------------------------------------------------------------------------------

    async def create(
        self,
        *,
        actor: str,
        account_id: str,
        exchange: str,
        label: str,
        secret: ExchangeSecret,
        allow_withdrawal: bool,
    ) -> tuple[dict[str, Any], list[str]]:
        register_secret(secret.secret)
        register_secret(secret.passphrase)
        if not ACCOUNT_ID.match(account_id):
            raise ApiError(422, "invalid_request", "account_id must match [A-Za-z0-9_.-]{1,64}")
        validator = self.validator(exchange)
        if validator.needs_passphrase and not secret.passphrase:
            raise ApiError(422, "invalid_request", f"{exchange} keys need a passphrase")
        subject = f"account:{account_id}"
        checked = await self._validate(validator, secret)
        if isinstance(checked, str):
            await self.audit_denied(
                actor, "credential.validate", subject, "denied", {"reason": checked}
            )
            CREDENTIAL_ACTIONS.labels("create", "key_rejected").inc()
            raise ApiError(422, "key_rejected", "the exchange refused the key", {"reason": checked})
        if checked.can_withdraw and not allow_withdrawal:
            await self.audit_denied(
                actor,
                "credential.create",
                subject,
                "denied",
                {
                    "reason": "withdrawal permission",
                    "permissions": ",".join(sorted(checked.permissions)),
                },
            )
            CREDENTIAL_ACTIONS.labels("create", "withdrawal_refused").inc()
            raise ApiError(
                422,
                "withdrawal_permission_refused",
                "the key can withdraw or transfer funds; use a key without that permission, "
                "or set allow_withdrawal (audited) if it is truly needed",
                {"permissions": sorted(checked.permissions)},
            )
        warnings = self._warnings(validator, checked)
        credential_id = str(uuid.uuid4())
        path = self.path(account_id, credential_id)
        version = await self._store_secret("create", path, secret)
        now = datetime.now(UTC)
        try:
            async with self.db.connection() as conn, conn.transaction():
                cursor = conn.cursor(row_factory=dict_row)
                await cursor.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, account_id, exchange, label, permissions,"
                        " ip_restricted, withdrawal_override, status, vault_version, created_at,"
                        " last_validated_at, last_rotated_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s)"
                        " RETURNING *"
                    ).format(self._table),
                    (
                        credential_id,
                        account_id,
                        exchange,
                        label,
                        sorted(checked.permissions),
                        checked.ip_restricted,
                        checked.can_withdraw and allow_withdrawal,
                        version,
                        now,
                        now,
                        now,
                    ),
                )
                row = await cursor.fetchone()
                assert row is not None
                details = {
                    "account_id": account_id,
                    "exchange": exchange,
                    "permissions": ",".join(sorted(checked.permissions)),
                    "vault_version": str(version),
                }
                entries = [
                    await self.audit.append(
                        conn,
                        actor=actor,
                        action="credential.validate",
                        subject=credential_id,
                        details=details,
                    ),
                    await self.audit.append(
                        conn,
                        actor=actor,
                        action="credential.create",
                        subject=credential_id,
                        details={**details, "warnings": ",".join(warnings)},
                    ),
                ]
                if checked.can_withdraw:
                    entries.append(
                        await self.audit.append(
                            conn,
                            actor=actor,
                            action="credential.override",
                            subject=credential_id,
                            details={"override": "allow_withdrawal", **details},
                        )
                    )
                await self._enqueue(conn, row, _ACTION.CREDENTIAL_ACTION_CREATED)
        except Exception as exc:
            log.error(
                "credential metadata not written; removing the Vault secret",
                extra={"credential_id": credential_id, "error": type(exc).__name__},
            )
            try:
                await self.vault.kv_destroy_all(path)
            except Exception:  # harmless orphan: no metadata row points at it
                log.error("orphan Vault secret left behind", extra={"credential_id": credential_id})
            raise database_unavailable() from None
        await self.audit.publish(entries)
        await self._relay_now()
        CREDENTIAL_ACTIONS.labels("create", "success").inc()
        for warning in warnings:
            log.warning(
                "credential accepted with a warning",
                extra={"credential_id": credential_id, "warning": warning},
            )
        return row, warnings

    def _warnings(self, validator: KeyValidator, checked: KeyPermissions) -> list[str]:
        warnings = []
        if validator.supports_ip_allowlist and not checked.ip_restricted:
            warnings.append("no_ip_allowlist")
        if checked.can_withdraw:
            warnings.append("withdrawal_enabled_by_override")
        return warnings

    async def audit_denied(
        self,
        actor: str,
        action: str,
        subject: str,
        outcome: str,
        details: Mapping[str, str],
    ) -> AuditEntry | None:
        try:
            async with self.db.connection() as conn:
                return await self.audit.record(
                    conn,
                    actor=actor,
                    action=action,
                    subject=subject,
                    outcome=outcome,
                    details=details,
                )
        except Exception as exc:
            log.error(
                "audit event not written", extra={"action": action, "error": type(exc).__name__}
            )
            raise database_unavailable() from None

    async def read_secret(self, row: Mapping[str, Any]) -> ExchangeSecret:
        """The secret at the version the metadata names (never a newer orphan version)."""
        try:
            data = await self.vault.kv_get(
                self.path(row["account_id"], str(row["id"])), version=int(row["vault_version"])
            )
        except (VaultUnavailable, VaultError):
            raise vault_unavailable() from None
        if data is None:
            raise ApiError(410, "credential_gone", "the credential's secret is no longer stored")
        register_secret(data.get("secret"))
        register_secret(data.get("passphrase"))
        return ExchangeSecret(data["api_key"], data["secret"], data.get("passphrase"))

    async def validate(self, *, actor: str, credential_id: str) -> tuple[dict[str, Any], list[str]]:
        row = await self.get(credential_id)
        if row["status"] != "active":
            raise ApiError(409, "credential_revoked", "the credential is revoked")
        validator = self.validator(row["exchange"])
        checked = await self._validate(validator, await self.read_secret(row))
        if isinstance(checked, str):
            await self.audit_denied(
                actor, "credential.validate", credential_id, "denied", {"reason": checked}
            )
            raise ApiError(422, "key_rejected", "the exchange refused the key", {"reason": checked})
        async with self.db.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL(
                    "UPDATE {} SET permissions = %s, ip_restricted = %s, last_validated_at = now()"
                    " WHERE id = %s RETURNING *"
                ).format(self._table),
                (sorted(checked.permissions), checked.ip_restricted, credential_id),
            )
            updated = await cursor.fetchone()
            assert updated is not None
            entry = await self.audit.append(
                conn,
                actor=actor,
                action="credential.validate",
                subject=credential_id,
                details={"permissions": ",".join(sorted(checked.permissions))},
            )
            await self._enqueue(conn, updated, _ACTION.CREDENTIAL_ACTION_VALIDATED)
        self.on_change(credential_id)
        await self.audit.publish([entry])
        await self._relay_now()
        warnings = self._warnings(validator, checked)
        if checked.can_withdraw and not row["withdrawal_override"]:
            warnings.append("withdrawal_enabled_without_override")
        return updated, warnings

    async def rotate(
        self,
        *,
        actor: str,
        credential_id: str,
        secret: ExchangeSecret,
        allow_withdrawal: bool,
    ) -> tuple[dict[str, Any], list[str]]:
        register_secret(secret.secret)
        register_secret(secret.passphrase)
        row = await self.get(credential_id)
        if row["status"] != "active":
            raise ApiError(409, "credential_revoked", "the credential is revoked")
        validator = self.validator(row["exchange"])
        checked = await self._validate(validator, secret)
        if isinstance(checked, str):
            # The new key does not work: the old one stays active, untouched.
            await self.audit_denied(
                actor, "credential.rotate", credential_id, "denied", {"reason": checked}
            )
            CREDENTIAL_ACTIONS.labels("rotate", "key_rejected").inc()
            raise ApiError(
                422,
                "key_rejected",
                "the exchange refused the new key; the current key stays active",
                {"reason": checked},
            )
        if checked.can_withdraw and not allow_withdrawal:
            await self.audit_denied(
                actor,
                "credential.rotate",
                credential_id,
                "denied",
                {"reason": "withdrawal permission"},
            )
            raise ApiError(
                422,
                "withdrawal_permission_refused",
                "the new key can withdraw or transfer funds; the current key stays active",
                {"permissions": sorted(checked.permissions)},
            )
        # A new KV v2 version of the same path: the old secret stays in the history.
        version = await self._store_secret(
            "rotate", self.path(row["account_id"], credential_id), secret
        )
        try:
            async with self.db.connection() as conn, conn.transaction():
                cursor = conn.cursor(row_factory=dict_row)
                await cursor.execute(
                    sql.SQL(
                        "UPDATE {} SET vault_version = %s, permissions = %s, ip_restricted = %s,"
                        " withdrawal_override = %s, last_rotated_at = now(),"
                        " last_validated_at = now(), expiring_alerted_at = NULL"
                        " WHERE id = %s AND status = 'active' RETURNING *"
                    ).format(self._table),
                    (
                        version,
                        sorted(checked.permissions),
                        checked.ip_restricted,
                        checked.can_withdraw and allow_withdrawal,
                        credential_id,
                    ),
                )
                updated = await cursor.fetchone()
                if updated is None:
                    raise ApiError(409, "credential_revoked", "the credential was revoked")
                entries = [
                    await self.audit.append(
                        conn,
                        actor=actor,
                        action="credential.rotate",
                        subject=credential_id,
                        details={
                            "from_version": str(row["vault_version"]),
                            "to_version": str(version),
                            "permissions": ",".join(sorted(checked.permissions)),
                        },
                    )
                ]
                if checked.can_withdraw:
                    entries.append(
                        await self.audit.append(
                            conn,
                            actor=actor,
                            action="credential.override",
                            subject=credential_id,
                            details={"override": "allow_withdrawal"},
                        )
                    )
                await self._enqueue(conn, updated, _ACTION.CREDENTIAL_ACTION_ROTATED)
        except ApiError:
            raise
        except Exception as exc:
            # The new version is an orphan: reads pin the version in the metadata (the old one).
            log.error("rotation not recorded", extra={"error": type(exc).__name__})
            raise database_unavailable() from None
        self.on_change(credential_id)  # the next signature reads the new version
        await self.audit.publish(entries)
        await self._relay_now()
        CREDENTIAL_ACTIONS.labels("rotate", "success").inc()
        return updated, self._warnings(validator, checked)

    async def revoke(self, *, actor: str, credential_id: str, reason: str) -> dict[str, Any]:
        await self.get(credential_id)  # 404 for unknown ids
        async with self.db.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL(
                    "UPDATE {} SET status = 'revoked', revoked_at = now()"
                    " WHERE id = %s AND status = 'active' RETURNING *"
                ).format(self._table),
                (credential_id,),
            )
            updated = await cursor.fetchone()
            if updated is None:
                raise ApiError(409, "credential_revoked", "the credential is already revoked")
            entry = await self.audit.append(
                conn,
                actor=actor,
                action="credential.revoke",
                subject=credential_id,
                details={"reason": reason},
            )
            await self._enqueue(conn, updated, _ACTION.CREDENTIAL_ACTION_REVOKED)
        self.on_change(credential_id)  # signing here ends with the commit
        await self.audit.publish([entry])
        await self._relay_now()
        try:
            await self.vault.kv_delete_latest(self.path(updated["account_id"], credential_id))
        except (VaultUnavailable, VaultError):
            # Access already ended with the metadata; the secret stays unreadable through us.
            log.warning("revoked credential's secret not yet deleted in Vault")
        CREDENTIAL_ACTIONS.labels("revoke", "success").inc()
        return updated

    async def use(
        self, *, actor: str, credential_id: str, purpose: str
    ) -> tuple[dict[str, Any], ExchangeSecret]:
        """The secret for a trading service, audited. The caller checked scope and account."""
        row = await self.get(credential_id)
        if row["status"] != "active":
            await self.audit_denied(
                actor, "credential.use", credential_id, "denied", {"reason": "revoked"}
            )
            raise ApiError(410, "credential_revoked", "the credential is revoked")
        secret = await self.read_secret(row)
        async with self.db.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL("UPDATE {} SET last_used_at = now() WHERE id = %s").format(self._table),
                (credential_id,),
            )
            entry = await self.audit.append(
                conn,
                actor=actor,
                action="credential.use",
                subject=credential_id,
                details={"purpose": purpose, "vault_version": str(row["vault_version"])},
            )
        await self.audit.publish([entry])
        CREDENTIAL_ACTIONS.labels("use", "success").inc()
        return row, secret

    async def check_expiry(self, actor: str = "auth-service") -> list[dict[str, Any]]:
        """Alert (metric, event, audit) once per key age period for keys past the maximum age."""
        cutoff = datetime.now(UTC) - self.max_key_age
        async with self.db.connection() as conn:
            # Its own transaction, so that each alert below commits on its own (a bare SELECT
            # would leave an implicit transaction open and turn those into savepoints).
            async with conn.transaction():
                cursor = conn.cursor(row_factory=dict_row)
                await cursor.execute(
                    sql.SQL(
                        "SELECT * FROM {} WHERE status = 'active'"
                        " AND coalesce(last_rotated_at, created_at) < %s"
                    ).format(self._table),
                    (cutoff,),
                )
                expiring = list(await cursor.fetchall())
            CREDENTIALS_EXPIRING.set(len(expiring))
            alerted = []
            for row in expiring:
                if row["expiring_alerted_at"] is not None:
                    continue
                async with conn.transaction():
                    # Instances checking at the same moment all saw the key unalerted: the
                    # conditional update lets exactly one of them raise the alert.
                    claimed = await conn.execute(
                        sql.SQL(
                            "UPDATE {} SET expiring_alerted_at = now()"
                            " WHERE id = %s AND expiring_alerted_at IS NULL"
                        ).format(self._table),
                        (row["id"],),
                    )
                    if claimed.rowcount != 1:
                        continue
                    entry = await self.audit.append(
                        conn,
                        actor=actor,
                        action="credential.expiring",
                        subject=str(row["id"]),
                        outcome="alert",
                        details={
                            "last_rotated_at": str(row["last_rotated_at"] or row["created_at"])
                        },
                    )
                    await self._enqueue(conn, row, _ACTION.CREDENTIAL_ACTION_EXPIRING)
                await self.audit.publish([entry])
                await self._relay_now()
                log.warning(
                    "credential older than the maximum key age; rotate it",
                    extra={"credential_id": str(row["id"]), "account_id": row["account_id"]},
                )
                alerted.append(row)
        return alerted


def public_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as the API shows it: nothing secret is in a row, but list the fields anyway so
    a column added later is not exposed by accident."""
    fields = (
        "account_id",
        "exchange",
        "label",
        "status",
        "ip_restricted",
        "withdrawal_override",
        "vault_version",
    )
    view: dict[str, Any] = {"id": str(row["id"]), **{f: row[f] for f in fields}}
    view["permissions"] = list(row["permissions"])
    for ts in ("created_at", "last_validated_at", "last_used_at", "last_rotated_at", "revoked_at"):
        view[ts] = row[ts].isoformat() if row[ts] is not None else None
    return view
