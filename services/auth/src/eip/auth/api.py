"""The auth service's HTTP API (/v1). Every admin route needs ``credentials:admin``; a trading
service reads a credential only with ``credentials:use`` and the account in its token."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, SecretStr

from eip.audit import AuditEntry, AuditQuery
from eip.auth.clients import count_failure, locked_out
from eip.auth.credentials import ACCOUNT_ID, public_view
from eip.auth.exchanges import ExchangeSecret
from eip.auth.runtime import AuthRuntime
from eip.observability.http import ApiError
from eip.tokens import Claims, TokenError, require_scope, verify_token

ADMIN = "credentials:admin"
USE = "credentials:use"

Admin = Annotated[Claims, Depends(require_scope(ADMIN))]
User = Annotated[Claims, Depends(require_scope(USE))]


def runtime(request: Request) -> AuthRuntime:
    rt: AuthRuntime = request.app.state.auth
    return rt


Runtime = Annotated[AuthRuntime, Depends(runtime)]


def actor(claims: Claims) -> str:
    return f"client:{claims.subject}"


class NewCredential(BaseModel):
    account_id: str = Field(pattern=ACCOUNT_ID.pattern)
    exchange: str = Field(min_length=1, max_length=32)
    label: str = Field(default="", max_length=200)
    api_key: SecretStr = Field(min_length=1, max_length=512)
    secret: SecretStr = Field(min_length=1, max_length=512)
    passphrase: SecretStr | None = Field(default=None, max_length=512)
    # Least privilege: a key that can withdraw is refused unless this is set (and audited).
    allow_withdrawal: bool = False

    def material(self) -> ExchangeSecret:
        return ExchangeSecret(
            self.api_key.get_secret_value(),
            self.secret.get_secret_value(),
            self.passphrase.get_secret_value() if self.passphrase else None,
        )


class RotateCredential(BaseModel):
    api_key: SecretStr = Field(min_length=1, max_length=512)
    secret: SecretStr = Field(min_length=1, max_length=512)
    passphrase: SecretStr | None = Field(default=None, max_length=512)
    allow_withdrawal: bool = False

    def material(self) -> ExchangeSecret:
        return ExchangeSecret(
            self.api_key.get_secret_value(),
            self.secret.get_secret_value(),
            self.passphrase.get_secret_value() if self.passphrase else None,
        )


class Revoke(BaseModel):
    reason: str = Field(default="", max_length=500)


class Use(BaseModel):
    purpose: str = Field(default="", max_length=200)


class SignRequest(BaseModel):
    payload: str = Field(max_length=65536)
    purpose: str = Field(default="", max_length=200)


class TokenRequest(BaseModel):
    client_id: str = Field(min_length=1, max_length=128)
    client_secret: SecretStr = Field(min_length=1, max_length=512)
    scope: str | None = Field(default=None, max_length=1000)  # space-separated, as in OAuth
    accounts: list[str] | None = None


class Introspect(BaseModel):
    token: SecretStr = Field(max_length=8192)


class NewClient(BaseModel):
    client_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")
    scopes: list[str]
    accounts: list[str] = Field(default_factory=list)


def _entry(e: AuditEntry) -> dict[str, Any]:
    return {
        "sequence": e.sequence,
        "event_id": e.event_id,
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "time": e.time.isoformat(),
        "outcome": e.outcome,
        "details": dict(e.details),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _may_see(claims: Claims, row: dict[str, Any]) -> bool:
    return ADMIN in claims.scopes or (
        USE in claims.scopes and claims.may_use_account(row["account_id"])
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    # -- credentials ---------------------------------------------------------------------------

    @router.post("/credentials", status_code=201, tags=["credentials"])
    async def create_credential(body: NewCredential, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Validate the key at the exchange, store the secret in Vault, the metadata here."""
        row, warnings = await rt.store().create(
            actor=actor(claims),
            account_id=body.account_id,
            exchange=body.exchange,
            label=body.label,
            secret=body.material(),
            allow_withdrawal=body.allow_withdrawal,
        )
        return {"credential": public_view(row), "warnings": warnings}

    @router.get("/credentials", tags=["credentials"])
    async def list_credentials(
        rt: Runtime,
        claims: Annotated[Claims, Depends(require_scope())],
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Metadata only. ``credentials:admin`` sees all; ``credentials:use`` its accounts."""
        if ADMIN not in claims.scopes and USE not in claims.scopes:
            raise ApiError(403, "forbidden", "token lacks a required scope", {"missing": [ADMIN]})
        rows = await rt.store().list_credentials(account_id)
        return {"credentials": [public_view(r) for r in rows if _may_see(claims, r)]}

    @router.get("/credentials/{credential_id}", tags=["credentials"])
    async def get_credential(
        credential_id: str, rt: Runtime, claims: Annotated[Claims, Depends(require_scope())]
    ) -> dict[str, Any]:
        row = await rt.store().get(credential_id)
        if not _may_see(claims, row):
            raise ApiError(403, "forbidden", "token does not cover this credential's account")
        return {"credential": public_view(row)}

    @router.post("/credentials/{credential_id}/validate", tags=["credentials"])
    async def validate_credential(credential_id: str, claims: Admin, rt: Runtime) -> dict[str, Any]:
        row, warnings = await rt.store().validate(actor=actor(claims), credential_id=credential_id)
        return {"credential": public_view(row), "warnings": warnings}

    @router.post("/credentials/{credential_id}/rotate", tags=["credentials"])
    async def rotate_credential(
        credential_id: str, body: RotateCredential, claims: Admin, rt: Runtime
    ) -> dict[str, Any]:
        """The new key is validated first; the old one stays active if it fails."""
        row, warnings = await rt.store().rotate(
            actor=actor(claims),
            credential_id=credential_id,
            secret=body.material(),
            allow_withdrawal=body.allow_withdrawal,
        )
        return {"credential": public_view(row), "warnings": warnings}

    @router.post("/credentials/{credential_id}/revoke", tags=["credentials"])
    async def revoke_credential(
        credential_id: str, body: Revoke, claims: Admin, rt: Runtime
    ) -> dict[str, Any]:
        row = await rt.store().revoke(
            actor=actor(claims), credential_id=credential_id, reason=body.reason
        )
        return {"credential": public_view(row)}

    async def _usable(rt: AuthRuntime, claims: Claims, credential_id: str) -> None:
        row = await rt.store().get(credential_id)
        if not claims.may_use_account(row["account_id"]):
            await rt.store().audit_denied(
                actor(claims),
                "credential.use",
                credential_id,
                "denied",
                {"reason": "account not in token"},
            )
            raise ApiError(403, "forbidden", "token does not cover this credential's account")

    @router.post("/credentials/{credential_id}/use", tags=["credentials"])
    async def use_credential(
        credential_id: str, body: Use, claims: User, rt: Runtime
    ) -> dict[str, Any]:
        """The secret itself, for a trading service that signs its own requests. Audited.
        Prefer /sign, which keeps the secret here."""
        await _usable(rt, claims, credential_id)
        row, secret = await rt.store().use(
            actor=actor(claims), credential_id=credential_id, purpose=body.purpose or "use"
        )
        return {
            "credential_id": str(row["id"]),
            "account_id": row["account_id"],
            "exchange": row["exchange"],
            "version": row["vault_version"],
            "api_key": secret.api_key,
            "secret": secret.secret,
            "passphrase": secret.passphrase,
        }

    @router.post("/credentials/{credential_id}/sign", tags=["credentials"])
    async def sign_with_credential(
        credential_id: str, body: SignRequest, claims: User, rt: Runtime
    ) -> dict[str, Any]:
        """Sign an exchange request payload with the credential's secret, which never leaves
        this service: the caller gets the API key (a public identifier) and the signature."""
        await _usable(rt, claims, credential_id)
        row, secret = await rt.store().use(
            actor=actor(claims), credential_id=credential_id, purpose=body.purpose or "sign"
        )
        signature = rt.store().validator(row["exchange"]).sign(secret, body.payload)
        return {"api_key": secret.api_key, "signature": signature, "version": row["vault_version"]}

    @router.post("/credentials/expiry-check", tags=["credentials"])
    async def expiry_check(claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Run the key-age check now (it also runs periodically)."""
        alerted = await rt.store().check_expiry(actor(claims))
        return {"alerted": [str(r["id"]) for r in alerted]}

    # -- tokens --------------------------------------------------------------------------------

    @router.post("/tokens", tags=["tokens"])
    async def issue_token(body: TokenRequest, request: Request, rt: Runtime) -> dict[str, Any]:
        """Client-credentials grant: a short-lived ES256 JWT with the granted scopes."""
        return await rt.clients().issue(
            source_ip=request.client.host if request.client else "unknown",
            client_id=body.client_id,
            client_secret=body.client_secret.get_secret_value(),
            scopes=body.scope.split() if body.scope is not None else None,
            accounts=body.accounts,
        )

    @router.post("/tokens/introspect", tags=["tokens"])
    async def introspect(body: Introspect, request: Request, rt: Runtime) -> dict[str, Any]:
        """``{"active": true, ...claims}`` or ``{"active": false}`` (RFC 7662 shape)."""
        source = f"introspect|{request.client.host if request.client else 'unknown'}"
        retry = await rt.limiter().retry_after(source)
        if retry is not None:
            raise locked_out(retry)
        try:
            await rt.signer().jwks()
            claims = verify_token(
                body.token.get_secret_value(),
                rt.signer().cached_key,
                issuer=rt.settings.issuer,
                audience=rt.settings.audience,
            )
        except TokenError as exc:
            failure = await count_failure(
                rt.limiter(), rt.db(), rt.audit(), source, "introspect", subject="introspect"
            )
            if failure.retry_after is not None:
                raise locked_out(failure.retry_after) from None
            return {"active": False, "reason": exc.code}
        return {"active": True, **claims.raw}

    @router.get("/.well-known/jwks.json", tags=["tokens"])
    async def jwks(rt: Runtime) -> dict[str, Any]:
        """Public keys of every signing key version still valid; ``kid`` = version."""
        return await rt.signer().jwks()

    @router.post("/signing-key/rotate", tags=["tokens"])
    async def rotate_signing_key(claims: Admin, rt: Runtime) -> dict[str, Any]:
        version = await rt.signer().rotate()
        await rt.record(
            actor(claims), "signing_key.rotate", rt.settings.jwt_key_name, version=str(version)
        )
        return {"kid": str(version)}

    @router.post("/clients", status_code=201, tags=["tokens"])
    async def create_client(body: NewClient, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Create (or reset) a service client; its secret is shown once, stored hashed."""
        secret = await rt.clients().upsert(
            actor=actor(claims),
            client_id=body.client_id,
            scopes=body.scopes,
            accounts=body.accounts,
        )
        return {"client_id": body.client_id, "client_secret": secret}

    # -- audit ---------------------------------------------------------------------------------

    @router.get("/audit", tags=["audit"])
    async def query_audit(
        claims: Admin,
        rt: Runtime,
        actor_: Annotated[str | None, Query(alias="actor")] = None,
        action: str | None = None,
        subject: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_sequence: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Events in chain order; page with ``after_sequence`` = the last one's sequence."""
        query = AuditQuery(actor_, action, subject, outcome, since, until, after_sequence, limit)
        async with rt.db().connection() as conn:
            entries = await rt.audit().query(conn, query)
        return {
            "events": [_entry(e) for e in entries],
            "next_after_sequence": entries[-1].sequence if len(entries) == limit else None,
        }

    @router.get("/audit/verify", tags=["audit"])
    async def verify_audit(claims: Admin, rt: Runtime) -> dict[str, Any]:
        started = time.perf_counter()
        async with rt.db().connection() as conn:
            checked, broken = await rt.audit().verify(conn)
        return {
            "ok": broken is None,
            "checked": checked,
            "broken_at": broken.sequence if broken else None,
            "reason": broken.reason if broken else None,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    return router
