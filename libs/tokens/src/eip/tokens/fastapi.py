"""Scope enforcement for FastAPI endpoints, with the platform's error body.

    app.state.token_verifier = TokenVerifier(jwks_url, issuer=..., audience=...)

    @app.get("/v1/things", dependencies=[Depends(require_scope("market:read"))])
    async def things(claims: Claims = Depends(require_scope("market:read"))): ...

No or a bad token: 401 ``unauthorized``; a good token without the scope: 403 ``forbidden``;
JWKS unreachable: 503 ``auth_unavailable``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import Request

from eip.observability.http import ApiError
from eip.tokens.jwt import Claims, TokenError
from eip.tokens.verifier import JwksUnavailable

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Verifier(Protocol):
    async def verify(self, token: str) -> Claims: ...


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required", headers=_CHALLENGE)
    return token.strip()


async def authenticate(request: Request) -> Claims:
    verifier: Verifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise ApiError(503, "auth_unavailable", "token verification is not configured")
    token = bearer_token(request)
    try:
        claims = await verifier.verify(token)
    except TokenError as exc:
        raise ApiError(
            401, "unauthorized", exc.message, {"reason": exc.code}, headers=_CHALLENGE
        ) from None
    except JwksUnavailable:
        raise ApiError(503, "auth_unavailable", "token keys cannot be fetched") from None
    request.state.claims = claims
    return claims


def require_scope(*scopes: str) -> Callable[[Request], Awaitable[Claims]]:
    """A dependency that yields the token's claims if it carries every one of ``scopes``."""

    async def dependency(request: Request) -> Claims:
        claims = await authenticate(request)
        missing = sorted(set(scopes) - claims.scopes)
        if missing:
            raise ApiError(403, "forbidden", "token lacks a required scope", {"missing": missing})
        return claims

    return dependency
