"""Service clients and token issuance.

A client is a service identity: ``client_id``, a secret stored only as a scrypt hash, the
scopes it may ask for and the accounts it may act on (``*`` = any). A token request names the
client and its secret (client-credentials grant) and may narrow the scopes and accounts; the
token says exactly what was granted. Failed authentications are rate-limited per source.

Clients are listed, disabled and deleted by an admin (each change audited). A disabled or
deleted client gets no new token from that moment. Its live tokens end in two ways: every
service that checks tokens against the JWKS alone accepts them until they expire (their
lifetime, ``AUTH_TOKEN_TTL_S``, 300 s by default, plus the verifiers' 30 s leeway); the auth
service itself, and introspection, check the client of every token (``token_refusal``): the
instance that made the change refuses them at once, every other auth instance as soon as the
change's audit event reaches it over ``audit.events.v1`` and at the latest after
``AUTH_CACHE_TTL_S`` (a client's state is read from PostgreSQL at most that often, so the token
check of a signing request costs no round trip; ``eip.auth.caches``). A token carries its
client's generation (claim ``gen``, new at every creation or reset), so re-creating a deleted
client id does not bring its old tokens back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from eip.audit import AuditTrail
from eip.auth.caches import RefreshingCache
from eip.auth.ratelimit import FailureLimiter, FailureOutcome
from eip.auth.secrets_hash import DUMMY_HASH, check_secret, hash_secret, new_client_secret
from eip.auth.signer import TokenSigner
from eip.observability.http import ApiError
from eip.tokens import SCOPES, Claims

log = logging.getLogger(__name__)

AUTH_FAILURES = Counter("eip_auth_failures_total", "Failed authentications", ["kind"])
AUTH_LOCKOUTS = Counter(
    "eip_auth_lockouts_total", "Sources locked out after repeated failed authentications", ["kind"]
)
TOKENS_ISSUED = Counter("eip_auth_tokens_issued_total", "Tokens issued", ["client_id"])


def locked_out(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_failures",
        "too many failed authentications; try again later",
        {"retry_after_s": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


async def count_failure(
    limiter: FailureLimiter,
    db: AsyncConnectionPool[AsyncConnection[Any]],
    audit: AuditTrail,
    source: str,
    kind: str,
    subject: str,
) -> FailureOutcome:
    """Count one failed authentication of ``source``; the failure that locks it out also raises
    the alert: ``eip_auth_lockouts_total``, a warning log and an ``auth.lockout`` audit event."""
    AUTH_FAILURES.labels(kind).inc()
    outcome = await limiter.fail(source)
    if outcome.locks:
        AUTH_LOCKOUTS.labels(kind).inc()
        log.warning(
            "repeated failed authentications: source locked out",
            extra={"source": source, "kind": kind, "subject": subject},
        )
        async with db.connection() as conn:
            await audit.record(
                conn,
                actor=f"source:{source}",
                action="auth.lockout",
                subject=subject,
                outcome="alert",
                details={"kind": kind, "window_s": str(limiter.window_s)},
            )
    return outcome


class ClientRegistry:
    def __init__(
        self,
        *,
        db: AsyncConnectionPool[AsyncConnection[Any]],
        audit: AuditTrail,
        signer: TokenSigner,
        schema: str,
        limiter: FailureLimiter,
        token_ttl_s: int,
        cache_ttl_s: float = 0.0,
    ) -> None:
        self.db = db
        self.audit = audit
        self.signer = signer
        self.limiter = limiter
        self.token_ttl_s = token_ttl_s
        self._schema = schema
        self._table = sql.Identifier(schema, "clients")
        # client id -> (disabled, generation), or None for no such client
        self._state: RefreshingCache[str, tuple[bool, int] | None] = RefreshingCache(cache_ttl_s)

    def forget(self, client_id: str) -> None:
        """The client changed (here, or at another instance): read it again next time."""
        self._state.evict(client_id)

    def forget_all(self) -> None:
        self._state.clear()

    async def upsert(
        self,
        *,
        actor: str,
        client_id: str,
        scopes: Sequence[str],
        accounts: Sequence[str],
        secret: str | None = None,
    ) -> str:
        """Create (or reset) a client; returns its secret, which is stored only hashed."""
        unknown = sorted(set(scopes) - SCOPES)
        if unknown:
            raise ApiError(422, "invalid_scope", "unknown scopes", {"unknown": unknown[:20]})
        secret = secret or new_client_secret()
        hashed = await hash_secret(secret)
        async with self.db.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (client_id, secret_hash, scopes, accounts)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (client_id) DO UPDATE SET"
                    " secret_hash = excluded.secret_hash, scopes = excluded.scopes,"
                    " accounts = excluded.accounts, disabled = false, disabled_at = NULL,"
                    " generation = nextval({})"
                ).format(self._table, sql.Literal(f"{self._schema}.client_generation")),
                (client_id, hashed, sorted(scopes), sorted(accounts)),
            )
            entry = await self.audit.append(
                conn,
                actor=actor,
                action="client.upsert",
                subject=f"client:{client_id}",
                details={"scopes": " ".join(sorted(scopes)), "accounts": ",".join(accounts)},
            )
        self.forget(client_id)
        await self.audit.publish([entry])
        return secret

    async def _record_failure(
        self, source: str, client_id: str, kind: str, reason: str
    ) -> FailureOutcome:
        async with self.db.connection() as conn:
            await self.audit.record(
                conn,
                actor=f"client:{client_id}" if client_id else f"source:{source}",
                action="token.issue" if kind == "client_secret" else "token.introspect",
                subject=f"client:{client_id}",
                outcome="denied",
                details={"reason": reason, "source": source},
            )
        return await count_failure(
            self.limiter, self.db, self.audit, source, kind, subject=f"client:{client_id}"
        )

    async def issue(
        self,
        *,
        source_ip: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] | None,
        accounts: Sequence[str] | None,
    ) -> dict[str, Any]:
        source = f"{source_ip}|{client_id}"
        retry = await self.limiter.retry_after(source)
        if retry is not None:
            raise locked_out(retry)
        async with self.db.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL("SELECT * FROM {} WHERE client_id = %s").format(self._table), (client_id,)
            )
            client = await cursor.fetchone()
        stored = client["secret_hash"] if client and not client["disabled"] else DUMMY_HASH
        if not await check_secret(client_secret, stored) or client is None or client["disabled"]:
            failure = await self._record_failure(
                source, client_id, "client_secret", "bad client credentials"
            )
            if failure.retry_after is not None:
                raise locked_out(failure.retry_after)
            raise ApiError(401, "invalid_client", "unknown client or wrong secret")
        await self.limiter.succeed(source)
        allowed_scopes = set(client["scopes"])
        granted_scopes = sorted(allowed_scopes if scopes is None else set(scopes))
        if not set(granted_scopes) <= allowed_scopes:
            raise ApiError(
                403,
                "invalid_scope",
                "the client may not have these scopes",
                {"not_allowed": sorted(set(granted_scopes) - allowed_scopes)},
            )
        allowed_accounts = set(client["accounts"])
        if accounts is None:
            granted_accounts = sorted(allowed_accounts - {"*"})
        else:
            granted_accounts = sorted(set(accounts))
            if "*" not in allowed_accounts and not set(granted_accounts) <= allowed_accounts:
                raise ApiError(
                    403,
                    "invalid_account",
                    "the client may not act on these accounts",
                    {"not_allowed": sorted(set(granted_accounts) - allowed_accounts)},
                )
        token, claims = await self.signer.issue(
            client_id,
            granted_scopes,
            granted_accounts,
            self.token_ttl_s,
            generation=int(client["generation"]),
        )
        async with self.db.connection() as conn:
            await self.audit.record(
                conn,
                actor=f"client:{client_id}",
                action="token.issue",
                subject=claims["jti"],
                details={"scope": claims["scope"], "accounts": ",".join(granted_accounts)},
            )
        TOKENS_ISSUED.labels(client_id).inc()
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_s,
            "scope": claims["scope"],
            "accounts": granted_accounts,
        }

    async def list_clients(self) -> list[dict[str, Any]]:
        """Every client, without its secret hash."""
        async with self.db.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL(
                    "SELECT client_id, scopes, accounts, created_at, disabled, disabled_at"
                    " FROM {} ORDER BY client_id"
                ).format(self._table)
            )
            return list(await cursor.fetchall())

    async def disable(self, *, actor: str, client_id: str) -> dict[str, Any]:
        """Stop the client getting tokens (and its tokens working at this service) from now;
        creating it again (POST /v1/clients) enables it with a new secret. 404 if unknown."""
        async with self.db.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                sql.SQL(
                    "UPDATE {} SET disabled = true, disabled_at = coalesce(disabled_at, now())"
                    " WHERE client_id = %s"
                    " RETURNING client_id, scopes, accounts, created_at, disabled, disabled_at"
                ).format(self._table),
                (client_id,),
            )
            row = await cursor.fetchone()
            if row is None:
                raise ApiError(404, "not_found", "no such client")
            entry = await self.audit.append(
                conn, actor=actor, action="client.disable", subject=f"client:{client_id}"
            )
        self.forget(client_id)
        await self.audit.publish([entry])
        return row

    async def delete(self, *, actor: str, client_id: str) -> None:
        """Remove the client for good (its id may be created again, its tokens stay dead).
        404 if unknown."""
        async with self.db.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                sql.SQL("DELETE FROM {} WHERE client_id = %s RETURNING client_id").format(
                    self._table
                ),
                (client_id,),
            )
            if await cursor.fetchone() is None:
                raise ApiError(404, "not_found", "no such client")
            entry = await self.audit.append(
                conn, actor=actor, action="client.delete", subject=f"client:{client_id}"
            )
        self.forget(client_id)
        await self.audit.publish([entry])

    async def token_refusal(self, claims: Claims) -> str | None:
        """Why a validly signed token must be refused now (``client_deleted``,
        ``client_disabled``, ``client_reset``), or None while its client stands as it did when
        the token was issued."""
        state = await self._state.get(claims.subject, lambda: self._read_state(claims.subject))
        if state is None:
            return "client_deleted"
        disabled, generation = state
        if disabled:
            return "client_disabled"
        if claims.raw.get("gen") != generation:
            return "client_reset"
        return None

    async def _read_state(self, client_id: str) -> tuple[bool, int] | None:
        async with self.db.connection() as conn:
            cursor = await conn.execute(
                sql.SQL("SELECT disabled, generation FROM {} WHERE client_id = %s").format(
                    self._table
                ),
                (client_id,),
            )
            row = await cursor.fetchone()
        return None if row is None else (bool(row[0]), int(row[1]))
