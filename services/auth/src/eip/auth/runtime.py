"""The auth service's parts, assembled once its dependencies are connected.

The standard ``Dependencies`` connect Kafka and PostgreSQL in the background; ``initialize``
waits for PostgreSQL, applies the migrations (the audit chain's and the service's own) and
bootstraps the admin client. The Transit signing key is made ready separately and lazily, so
a Vault outage degrades token work and credential writes to 503s without stopping the rest.
Background loops beside the requests: the audit and credential-event relays, the key-age check,
the failure-table cleanup, the Vault token's renewal, the aggregated sign audit's flusher and
the listener that keeps the caches true to other instances' changes (``eip.auth.changes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.audit import MIGRATIONS as AUDIT_MIGRATIONS
from eip.audit import AuditTrail
from eip.auth.changes import ChangeListener
from eip.auth.clients import ClientRegistry
from eip.auth.credentials import CredentialStore
from eip.auth.ratelimit import FailureLimiter
from eip.auth.settings import AuthSettings
from eip.auth.signer import TokenSigner
from eip.auth.signing import CredentialSigner, SignAudit
from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS
from eip.exchanges.contract.credentials import KeyValidator
from eip.observability.http import ApiError
from eip.runtime import Dependencies
from eip.storage import apply_migrations
from eip.tokens import SCOPES, Claims, TokenError, verify_token
from eip.vault import VaultClient, VaultError, VaultUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# What a renewal asks for; a periodic token gets its period instead, any other token at most
# what its max TTL leaves.
RENEW_INCREMENT_S = 768 * 3600
# The verifiers' clock leeway on exp and nbf (eip.tokens' default, named here because a
# remembered token is held to the same bound).
LEEWAY_S = 30


class AuthRuntime:
    def __init__(
        self,
        settings: AuthSettings,
        deps: Dependencies,
        validators: dict[str, KeyValidator],
    ) -> None:
        self.settings = settings
        self.deps = deps
        self.validators = validators
        self.credentials_topic = dataclasses.replace(
            AUTH_CREDENTIALS, name=settings.credentials_topic
        )
        self.audit_topic = dataclasses.replace(AUDIT_EVENTS, name=settings.audit_topic)
        self._store: CredentialStore | None = None
        self._clients: ClientRegistry | None = None
        self._signer: TokenSigner | None = None
        self._audit: AuditTrail | None = None
        self._limiter: FailureLimiter | None = None
        self._signing: CredentialSigner | None = None
        self.changes = ChangeListener(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            service_name=settings.service_name,
            producer=lambda: deps.producer,
            credentials_topic=self.credentials_topic,
            audit_topic=self.audit_topic,
            forget_credential=self.forget_credential,
            forget_client=self.forget_client,
            forget_all=self.forget_all,
        )
        self.ready = asyncio.Event()
        self.last_error = "starting"

    # -- accessors that answer 503 until the part is there ------------------------------------

    def _not_ready(self) -> ApiError:
        return ApiError(503, "not_ready", f"the auth service is not ready: {self.last_error}")

    def db(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self.deps.db is None or not self.ready.is_set():
            raise self._not_ready()
        return self.deps.db

    def vault(self) -> VaultClient:
        if self.deps.vault is None:
            raise self._not_ready()
        return self.deps.vault

    def audit(self) -> AuditTrail:
        if self._audit is None:
            raise self._not_ready()
        # The producer may connect after the trail was built.
        self._audit.producer = self.deps.producer
        return self._audit

    def signer(self) -> TokenSigner:
        if self._signer is None:
            raise self._not_ready()
        return self._signer

    def limiter(self) -> FailureLimiter:
        if self._limiter is None or not self.ready.is_set():
            raise self._not_ready()
        return self._limiter

    def store(self) -> CredentialStore:
        if self._store is None or not self.ready.is_set():
            raise self._not_ready()
        self._store.producer = self.deps.producer
        self.audit()
        return self._store

    def clients(self) -> ClientRegistry:
        if self._clients is None or not self.ready.is_set():
            raise self._not_ready()
        self.audit()
        return self._clients

    def signing(self) -> CredentialSigner:
        if self._signing is None or not self.ready.is_set():
            raise self._not_ready()
        self.store()
        return self._signing

    # -- cache eviction (this instance's changes, and other instances' through Kafka) ---------

    def forget_credential(self, credential_id: str) -> None:
        if self._signing is not None:
            self._signing.forget(credential_id)

    def forget_client(self, client_id: str) -> None:
        if self._clients is not None:
            self._clients.forget(client_id)

    def forget_all(self) -> None:
        if self._signing is not None:
            self._signing.forget_all()
        if self._clients is not None:
            self._clients.forget_all()

    # -- startup -------------------------------------------------------------------------------

    async def initialize(self) -> None:
        s = self.settings
        while self.deps.db is None or self.deps.vault is None:
            self.last_error = "waiting for PostgreSQL"
            await asyncio.sleep(0.2)
        self._signer = TokenSigner(self.deps.vault, s.jwt_key_name, s.issuer, s.audience)
        delay = 0.5
        while True:
            try:
                async with self.deps.db.connection() as conn:
                    await apply_migrations(conn, AUDIT_MIGRATIONS, s.audit_schema)
                    await apply_migrations(conn, MIGRATIONS, s.db_schema)
                break
            except Exception as exc:
                self.last_error = f"migrations failed: {type(exc).__name__}"
                log.warning("migrations not applied yet", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        self._audit = AuditTrail(
            s.audit_schema, self.deps.producer, self.audit_topic, pool=self.deps.db
        )
        self._store = CredentialStore(
            db=self.deps.db,
            vault=self.deps.vault,
            producer=self.deps.producer,
            audit=self._audit,
            validators=self.validators,
            schema=s.db_schema,
            vault_prefix=s.credentials_path,
            credentials_topic=self.credentials_topic,
            max_key_age=timedelta(days=s.max_key_age_days),
            on_change=self.forget_credential,
        )
        self._signing = CredentialSigner(
            self._store,
            SignAudit(
                db=self.deps.db,
                audit=self._audit,
                schema=s.db_schema,
                interval_s=s.sign_audit_interval_s,
            ),
            cache_ttl_s=s.cache_ttl_s,
        )
        self._limiter = FailureLimiter(
            self.deps.db,
            s.db_schema,
            s.failure_limit,
            s.failure_window_s,
            max_sources=s.failure_max_sources,
        )
        self._clients = ClientRegistry(
            db=self.deps.db,
            audit=self._audit,
            signer=self._signer,
            schema=s.db_schema,
            limiter=self._limiter,
            token_ttl_s=s.token_ttl_s,
            cache_ttl_s=s.cache_ttl_s,
        )
        if s.bootstrap_client_secret.get_secret_value():
            await self._clients.upsert(
                actor="auth-service",
                client_id=s.bootstrap_client_id,
                scopes=sorted(SCOPES),
                accounts=["*"],
                secret=s.bootstrap_client_secret.get_secret_value(),
            )
        self.ready.set()
        self.last_error = ""
        log.info("auth service ready")
        await self._signing_key_loop()

    async def _signing_key_loop(self) -> None:
        """Create the Transit signing key if missing; retry while Vault is away."""
        assert self._signer is not None
        delay = 0.5
        while True:
            try:
                await self._signer.ensure_key()
                return
            except (VaultUnavailable, VaultError) as exc:
                log.warning("signing key not ready", extra={"error": type(exc).__name__})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def audit_relay_loop(self, interval_s: float = 5.0) -> None:
        """Catch the audit and credential topics up after a Kafka outage (each change relays at
        once otherwise)."""
        await self.ready.wait()
        while True:
            try:
                trail = self.audit()  # picks up a producer that connected late
                while await trail.relay() > 0:
                    pass
                while await self.store().relay_events() > 0:
                    pass
            except Exception as exc:
                log.warning("audit relay failed, will retry", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval_s)

    async def token_renewal_loop(self) -> None:
        """Keep the service's own Vault token alive, renewed at half its TTL.

        A periodic token (``python -m eip.vault.token eip-auth-service --period 24h``) gets its
        full period back at every renewal, so this renews it every half period for as long as
        the service runs. Any other token grows only up to Vault's max TTL; once a renewal is
        capped, a warning says when it will expire, since the service then needs a new token.
        """
        interval = 3600.0
        periodic: bool | None = None
        while True:
            vault = self.deps.vault  # opened by the dependencies' lifespan
            if vault is None:
                await asyncio.sleep(0.5)
                continue
            if periodic is None:
                # Only for the log and the max-TTL warning: a token that may not look itself
                # up is still renewed below.
                try:
                    periodic = int((await vault.lookup_self()).get("period") or 0) > 0
                    log.info("Vault token", extra={"periodic": periodic})
                except (VaultUnavailable, VaultError) as exc:
                    log.info("Vault token not looked up", extra={"error": type(exc).__name__})
            try:
                ttl = await vault.renew_self(f"{RENEW_INCREMENT_S}s")
                interval = max(5.0, ttl / 2) if ttl > 0 else 3600.0
                if not periodic and 0 < ttl < RENEW_INCREMENT_S:
                    log.warning(
                        "Vault token capped at its max TTL; give the service a periodic token",
                        extra={"expires_in_s": ttl},
                    )
            except (VaultUnavailable, VaultError) as exc:
                # A root or non-renewable token: nothing to renew; an outage: try again later.
                log.info("Vault token not renewed", extra={"error": type(exc).__name__})
                interval = 60.0
            await asyncio.sleep(interval)

    async def failure_cleanup_loop(self) -> None:
        """Bound the shared failure table even when no failure comes to prune it."""
        await self.ready.wait()
        while True:
            await asyncio.sleep(self.settings.failure_cleanup_interval_s)
            try:
                await self.limiter().cleanup()
            except Exception as exc:  # PostgreSQL away: the next round catches up
                log.warning("failure cleanup failed", extra={"error": type(exc).__name__})

    async def sign_audit_loop(self) -> None:
        """Flush the aggregated sign audit every interval, and drop the secrets no signature
        used during the last interval (memory holds only the secrets in use)."""
        await self.ready.wait()
        signing = self.signing()
        interval = self.settings.sign_audit_interval_s
        flusher = asyncio.create_task(signing.audit.run())
        try:
            while True:
                await asyncio.sleep(interval)
                signing.sweep(idle_s=interval)
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    async def close(self) -> None:
        """At shutdown, while the database is still open: what was counted since the last
        flush goes into the audit chain; the key refresh in flight ends."""
        if self._signing is not None:
            try:
                await self._signing.audit.flush()
            except Exception as exc:
                log.error(
                    "sign audit not flushed at shutdown; these counts are lost",
                    extra={"error": type(exc).__name__, "pending": self._signing.audit.pending},
                )
        if self._signer is not None:
            await self._signer.aclose()

    async def expiry_loop(self) -> None:
        await self.ready.wait()
        while True:
            try:
                await self.store().check_expiry()
            except Exception as exc:  # a failed check must not end the loop
                log.error("key age check failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.settings.expiry_check_interval_s)

    # -- helpers for routes --------------------------------------------------------------------

    async def record(self, actor: str, action: str, subject: str, **details: str) -> None:
        async with self.db().connection() as conn:
            await self.audit().record(
                conn, actor=actor, action=action, subject=subject, details=details
            )


class LocalVerifier:
    """Verifies this service's own tokens against the signing key's public keys (from Vault,
    cached), without an HTTP round trip to itself. If Vault is briefly away the cached keys
    keep working; a stale copy is renewed in the background, not in a request. A token whose
    client was disabled, deleted or reset since it was issued is refused
    (``ClientRegistry.token_refusal``, at once on the instance that made the change): this
    service reads the client table anyway, unlike the services that only hold the JWKS.

    A token that passed the signature and claim checks is remembered by its SHA-256 until it
    expires, so a caller presenting the same token for every request (a trading service
    signing) pays the ES256 check once; the client check still runs for every request, and a
    change of the key set (a version retired) forgets every remembered token."""

    MAX_REMEMBERED = 10_000

    def __init__(self, rt: AuthRuntime) -> None:
        self.rt = rt
        self._last_forced = float("-inf")
        self._checked: dict[bytes, Claims] = {}
        self._key_set = -1

    def _key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self.rt.signer().cached_key(kid)

    async def verify(self, token: str) -> Claims:
        claims = await self._verify_signed(token)
        refusal = await self.rt.clients().token_refusal(claims)
        if refusal is not None:
            raise TokenError(refusal, "the token's client was disabled, deleted or reset")
        return claims

    async def _verify_signed(self, token: str) -> Claims:
        signer = self.rt.signer()
        if not signer.has_keys:
            try:
                await signer.jwks()
            except (VaultUnavailable, VaultError):
                log.warning("signing keys not fetched yet")
        elif signer.stale:
            signer.refresh_in_background()
        if signer.key_set_generation != self._key_set:
            self._checked.clear()
            self._key_set = signer.key_set_generation
        digest = hashlib.sha256(token.encode()).digest()
        known = self._checked.get(digest)
        if known is not None:
            if time.time() <= known.expires_at + LEEWAY_S:
                return known
            del self._checked[digest]
        claims = await self._check(signer, token)
        if len(self._checked) >= self.MAX_REMEMBERED:
            self._checked.clear()  # tokens live minutes: the ones in use come back at once
        self._checked[digest] = claims
        return claims

    async def _check(self, signer: TokenSigner, token: str) -> Claims:
        s = self.rt.settings
        try:
            return verify_token(
                token, self._key, issuer=s.issuer, audience=s.audience, leeway_s=LEEWAY_S
            )
        except Exception:
            # An unknown kid may be a fresh rotation: refresh once, at most every 5 s.
            if time.monotonic() - self._last_forced < 5:
                raise
            self._last_forced = time.monotonic()
            with contextlib.suppress(VaultUnavailable, VaultError):
                await signer.refresh()
            return verify_token(
                token, self._key, issuer=s.issuer, audience=s.audience, leeway_s=LEEWAY_S
            )
