"""The auth service's HTTP API (/v1). Every admin route (credentials, clients, the signing key)
needs ``credentials:admin``; a trading service reads a credential only with ``credentials:use``
and the account in its token; the audit trail needs ``audit:read``, introspection
``tokens:introspect``. Only the token endpoint and the JWKS take no token."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, SecretStr

from eip.audit import AuditEntry, AuditQuery
from eip.auth.clients import count_failure, locked_out
from eip.auth.credentials import ACCOUNT_ID, public_view
from eip.auth.runtime import AuthRuntime
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.observability.http import ApiError, error_responses
from eip.observability.inputs import Instant, Text
from eip.tokens import (
    SCOPES,
    Claims,
    TokenError,
    any_scope_openapi,
    require_any_scope,
    require_scope,
    verify_token,
)

ADMIN = "credentials:admin"
USE = "credentials:use"
AUDIT = "audit:read"
INTROSPECT = "tokens:introspect"

Admin = Annotated[Claims, Depends(require_scope(ADMIN))]
User = Annotated[Claims, Depends(require_scope(USE))]
AdminOrUser = Annotated[Claims, Depends(require_any_scope(ADMIN, USE))]
Auditor = Annotated[Claims, Depends(require_scope(AUDIT))]
Introspector = Annotated[Claims, Depends(require_scope(INTROSPECT))]

ACCOUNT = r"^[A-Za-z0-9_.-]{1,64}$"
CLIENT_ID = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
CredentialId = Annotated[Text, Path(min_length=1, max_length=64)]
ClientId = Annotated[Text, Path(pattern=CLIENT_ID)]
Scope = Literal[tuple(sorted(SCOPES))]  # type: ignore[valid-type]
# Limits on free text fields keep every request small enough to audit.
Label = Annotated[Text, Field(max_length=200)]


async def runtime(request: Request) -> AuthRuntime:
    # async on purpose: FastAPI runs a plain-def dependency on its thread pool, a thread hop
    # per request on the signing path for what is an attribute read
    rt: AuthRuntime = request.app.state.auth
    return rt


Runtime = Annotated[AuthRuntime, Depends(runtime)]


def actor(claims: Claims) -> str:
    return f"client:{claims.subject}"


class NewCredential(BaseModel):
    account_id: Text = Field(pattern=ACCOUNT_ID.pattern)
    exchange: Text = Field(min_length=1, max_length=32)
    label: Label = ""
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
    reason: Text = Field(default="", max_length=500)


class Use(BaseModel):
    purpose: Label = ""


class SignRequest(BaseModel):
    """What to sign: a scheme of the credential's exchange (its default when absent, e.g.
    ``binance-rest``) and that scheme's fields; ``payload`` alone is the default scheme's one
    field, as before schemes existed."""

    scheme: Text | None = Field(default=None, min_length=1, max_length=64)
    payload: Text | None = Field(default=None, max_length=65536)
    fields: dict[
        Annotated[Text, Field(min_length=1, max_length=64)],
        Annotated[Text, Field(max_length=65536)],
    ] = Field(default_factory=dict, max_length=64)
    purpose: Label = ""

    def inputs(self) -> dict[str, str]:
        if self.payload is None:
            return dict(self.fields)
        if "payload" in self.fields:
            raise ApiError(422, "invalid_signing_request", "payload given twice")
        return {**self.fields, "payload": self.payload}


class TokenRequest(BaseModel):
    client_id: Text = Field(min_length=1, max_length=128)
    client_secret: SecretStr = Field(min_length=1, max_length=512)
    # space-separated, as in OAuth
    scope: Text | None = Field(default=None, max_length=1000)
    accounts: list[Annotated[Text, Field(max_length=64)]] | None = Field(
        default=None, max_length=1000
    )


class Introspect(BaseModel):
    token: SecretStr = Field(max_length=8192)


class NewClient(BaseModel):
    client_id: Text = Field(pattern=CLIENT_ID)
    scopes: list[Scope] = Field(max_length=len(SCOPES))  # type: ignore[valid-type]
    # account ids, or "*" for any
    accounts: list[Annotated[Text, Field(pattern=r"^(\*|[A-Za-z0-9_.-]{1,64})$")]] = Field(
        default_factory=list, max_length=1000
    )


def _client(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_id": row["client_id"],
        "scopes": list(row["scopes"]),
        "accounts": list(row["accounts"]),
        "created_at": row["created_at"].isoformat(),
        "disabled": row["disabled"],
        "disabled_at": row["disabled_at"].isoformat() if row["disabled_at"] else None,
    }


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

    @router.post(
        "/credentials", status_code=201, tags=["credentials"], responses=error_responses(502)
    )
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

    @router.get("/credentials", tags=["credentials"], openapi_extra=any_scope_openapi(ADMIN, USE))
    async def list_credentials(
        rt: Runtime,
        claims: AdminOrUser,
        account_id: Annotated[Text | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """Metadata only. ``credentials:admin`` sees all; ``credentials:use`` its accounts."""
        rows = await rt.store().list_credentials(account_id)
        return {"credentials": [public_view(r) for r in rows if _may_see(claims, r)]}

    @router.get(
        "/credentials/{credential_id}",
        tags=["credentials"],
        responses=error_responses(404),
        openapi_extra=any_scope_openapi(ADMIN, USE),
    )
    async def get_credential(
        credential_id: CredentialId, rt: Runtime, claims: AdminOrUser
    ) -> dict[str, Any]:
        """Metadata only; ``credentials:use`` sees its accounts' credentials."""
        row = await rt.store().get(credential_id)
        if not _may_see(claims, row):
            raise ApiError(403, "forbidden", "token does not cover this credential's account")
        return {"credential": public_view(row)}

    @router.post(
        "/credentials/{credential_id}/validate",
        tags=["credentials"],
        responses=error_responses(404, 409, 410, 502),
    )
    async def validate_credential(
        credential_id: CredentialId, claims: Admin, rt: Runtime
    ) -> dict[str, Any]:
        row, warnings = await rt.store().validate(actor=actor(claims), credential_id=credential_id)
        return {"credential": public_view(row), "warnings": warnings}

    @router.post(
        "/credentials/{credential_id}/rotate",
        tags=["credentials"],
        responses=error_responses(404, 409, 410, 502),
    )
    async def rotate_credential(
        credential_id: CredentialId, body: RotateCredential, claims: Admin, rt: Runtime
    ) -> dict[str, Any]:
        """The new key is validated first; the old one stays active if it fails."""
        row, warnings = await rt.store().rotate(
            actor=actor(claims),
            credential_id=credential_id,
            secret=body.material(),
            allow_withdrawal=body.allow_withdrawal,
        )
        return {"credential": public_view(row), "warnings": warnings}

    @router.post(
        "/credentials/{credential_id}/revoke",
        tags=["credentials"],
        responses=error_responses(404, 409),
    )
    async def revoke_credential(
        credential_id: CredentialId, body: Revoke, claims: Admin, rt: Runtime
    ) -> dict[str, Any]:
        row = await rt.store().revoke(
            actor=actor(claims), credential_id=credential_id, reason=body.reason
        )
        return {"credential": public_view(row)}

    async def _usable(rt: AuthRuntime, claims: Claims, credential_id: str) -> dict[str, Any]:
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
        return row

    @router.post(
        "/credentials/{credential_id}/use",
        tags=["credentials"],
        responses=error_responses(404, 409, 410),
    )
    async def use_credential(
        credential_id: CredentialId, body: Use, claims: User, rt: Runtime
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

    @router.post(
        "/credentials/{credential_id}/sign",
        tags=["credentials"],
        responses=error_responses(404, 409, 410),
    )
    async def sign_with_credential(
        credential_id: CredentialId, body: SignRequest, claims: User, rt: Runtime
    ) -> dict[str, Any]:
        """Sign an exchange request with the credential's secret, which never leaves this
        service: the caller gets the API key (a public identifier), the signature and the
        headers to attach. 422 ``invalid_signing_request`` when the fields do not fit the
        scheme; 410 ``credential_revoked`` from the moment of a revocation (at once on the
        instance that revoked, within ``AUTH_CACHE_TTL_S`` on the others). Audited in
        aggregate: one ``credential.sign`` event per credential, caller and interval."""
        return await rt.signing().sign(
            claims=claims,
            actor=actor(claims),
            credential_id=credential_id,
            scheme=body.scheme,
            inputs=body.inputs(),
            purpose=body.purpose or "sign",
        )

    @router.post("/credentials/expiry-check", tags=["credentials"])
    async def expiry_check(claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Run the key-age check now (it also runs periodically)."""
        alerted = await rt.store().check_expiry(actor(claims))
        return {"alerted": [str(r["id"]) for r in alerted]}

    # -- tokens --------------------------------------------------------------------------------

    @router.post("/tokens", tags=["tokens"], responses=error_responses(401, 403, 429, 503))
    async def issue_token(body: TokenRequest, request: Request, rt: Runtime) -> dict[str, Any]:
        """Client-credentials grant: a short-lived ES256 JWT with the granted scopes. Takes no
        token. 401 ``invalid_client`` (unknown, disabled or deleted client, or a wrong secret),
        403 when asking for more scopes or accounts than the client has, 429 after repeated
        failures from one source."""
        return await rt.clients().issue(
            source_ip=request.client.host if request.client else "unknown",
            client_id=body.client_id,
            client_secret=body.client_secret.get_secret_value(),
            scopes=body.scope.split() if body.scope is not None else None,
            accounts=body.accounts,
        )

    @router.post("/tokens/introspect", tags=["tokens"], responses=error_responses(429))
    async def introspect(
        body: Introspect, request: Request, rt: Runtime, caller: Introspector
    ) -> dict[str, Any]:
        """``{"active": true, ...claims}`` or ``{"active": false, "reason": ...}`` (RFC 7662
        shape). A token whose client was disabled, deleted or reset since is inactive at once.
        The caller authenticates with a token of its own (``tokens:introspect``), as RFC 7662
        asks, so tokens cannot be probed anonymously."""
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
        refusal = await rt.clients().token_refusal(claims)
        if refusal is not None:
            return {"active": False, "reason": refusal}
        return {"active": True, **claims.raw}

    @router.get("/.well-known/jwks.json", tags=["tokens"], responses=error_responses(503))
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

    @router.post("/clients", status_code=201, tags=["clients"])
    async def create_client(body: NewClient, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Create (or reset, or enable again) a service client; its secret is shown once,
        stored hashed. A reset ends the client's earlier tokens at this service at once."""
        secret = await rt.clients().upsert(
            actor=actor(claims),
            client_id=body.client_id,
            scopes=list(body.scopes),
            accounts=body.accounts,
        )
        return {"client_id": body.client_id, "client_secret": secret}

    @router.get("/clients", tags=["clients"])
    async def list_clients(claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Every service client: scopes, accounts, whether disabled (never a secret)."""
        return {"clients": [_client(row) for row in await rt.clients().list_clients()]}

    @router.post("/clients/{client_id}/disable", tags=["clients"], responses=error_responses(404))
    async def disable_client(client_id: ClientId, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """No new token for the client from now on, and its tokens stop working here and at
        introspection at once; services that verify with the JWKS alone accept them until
        they expire (at most the token lifetime, ``AUTH_TOKEN_TTL_S``). Audited
        (``client.disable``). Creating the client again enables it with a new secret."""
        row = await rt.clients().disable(actor=actor(claims), client_id=client_id)
        return {"client": _client(row)}

    @router.delete(
        "/clients/{client_id}", status_code=204, tags=["clients"], responses=error_responses(404)
    )
    async def delete_client(client_id: ClientId, claims: Admin, rt: Runtime) -> Response:
        """Remove the client; as ``disable`` for its tokens, and for good: creating the same id
        again makes a new client whose earlier tokens stay dead. Audited (``client.delete``)."""
        await rt.clients().delete(actor=actor(claims), client_id=client_id)
        return Response(status_code=204)

    # -- audit ---------------------------------------------------------------------------------

    @router.get("/audit", tags=["audit"])
    async def query_audit(
        claims: Auditor,
        rt: Runtime,
        actor_: Annotated[Text | None, Query(alias="actor", max_length=200)] = None,
        action: Annotated[Text | None, Query(max_length=200)] = None,
        subject: Annotated[Text | None, Query(max_length=200)] = None,
        outcome: Annotated[Text | None, Query(max_length=200)] = None,
        since: Annotated[Instant | None, Query(description="ISO 8601 with offset")] = None,
        until: Annotated[Instant | None, Query(description="ISO 8601 with offset")] = None,
        after_sequence: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
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
    async def verify_audit(claims: Auditor, rt: Runtime) -> dict[str, Any]:
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
