"""Scope enforcement for FastAPI endpoints, with the platform's error body: the one way an
endpoint asks for a token.

    @router.get("/v1/things")
    async def things(claims: Annotated[Claims, Depends(require_scope("market:read"))]): ...

``eip.runtime.service_app`` puts the service's verifier on ``app.state.token_verifier`` (the
auth service puts its own). No or a bad token: 401 ``unauthorized``; a good token without the
scope: 403 ``forbidden``; keys unreachable: 503 ``auth_unavailable``.

What is subtle:

- Every route of a service is either behind one of these dependencies or on ``PUBLIC_PATHS``;
  ``unprotected_routes`` finds the others, and a test walks every service's routes with it, so
  an endpoint added without a token is a failing test, not an open door.
- The dependency declares the bearer scheme through FastAPI's ``Security`` with the scopes, so
  the OpenAPI document says for each operation which token it takes
  (``security: [{"bearer": ["books:admin"]}]``); ``require_any_scope`` documents its
  alternatives through ``any_scope_openapi``. The token itself is still read here, so a missing
  or malformed header answers with the platform's body, not FastAPI's.
"""

# No ``from __future__ import annotations``: the dependency's signature names the scopes of the
# closure that makes it, which FastAPI can only read from an evaluated annotation.
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import FastAPI, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eip.observability.http import ApiError, served_routes
from eip.tokens.jwt import Claims, TokenError
from eip.tokens.verifier import JwksUnavailable

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
SCHEME = "bearer"
# Documents the scheme (components.securitySchemes.bearer); never answers by itself.
bearer_scheme = HTTPBearer(
    scheme_name=SCHEME,
    bearerFormat="JWT",
    description="A token from the auth service: POST /v1/tokens (client-credentials grant).",
    auto_error=False,
)

# Every service's routes that need no token: operations, and what FastAPI serves about them.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/v1/tokens",
        "/v1/.well-known/jwks.json",
    }
)
# Marks a dependency as a token check, for unprotected_routes.
_MARK = "__eip_scopes__"


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


ScopeDependency = Callable[..., Awaitable[Claims]]


def _scoped(scopes: Iterable[str], check: Callable[[Claims], None]) -> ScopeDependency:
    documented = list(scopes)

    async def dependency(
        request: Request,
        _: Annotated[
            HTTPAuthorizationCredentials | None, Security(bearer_scheme, scopes=documented)
        ],
    ) -> Claims:
        claims = await authenticate(request)
        check(claims)
        return claims

    setattr(dependency, _MARK, tuple(documented))
    return dependency


def require_scope(*scopes: str) -> ScopeDependency:
    """A dependency that yields the token's claims if it carries every one of ``scopes``
    (none: any valid token)."""

    def check(claims: Claims) -> None:
        missing = sorted(set(scopes) - claims.scopes)
        if missing:
            raise ApiError(403, "forbidden", "token lacks a required scope", {"missing": missing})

    return _scoped(scopes, check)


def require_any_scope(*scopes: str) -> ScopeDependency:
    """Claims of a token that carries at least one of ``scopes``; the endpoint decides what each
    one allows. Document it with ``openapi_extra=any_scope_openapi(*scopes)``."""
    if not scopes:
        raise ValueError("require_any_scope needs at least one scope")

    def check(claims: Claims) -> None:
        if not claims.scopes & set(scopes):
            raise ApiError(
                403, "forbidden", "token lacks a required scope", {"one_of": sorted(scopes)}
            )

    return _scoped((), check)


def any_scope_openapi(*scopes: str) -> dict[str, Any]:
    """The operation's OpenAPI ``security``: one alternative per scope."""
    return {"security": [{SCHEME: [scope]} for scope in scopes]}


Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def declare_scope_check(dependency: Dependency, scopes: Iterable[str]) -> Dependency:
    """Mark ``dependency`` as a token check with ``scopes`` that reads its token another way
    than the ``Authorization`` header (the console's server-side session, which holds the
    operator's token), so that ``unprotected_routes`` counts the routes behind it as protected.
    The dependency must itself refuse a request without a valid token or a scope."""
    setattr(dependency, _MARK, tuple(scopes))
    return dependency


def dependant_scopes(dependant: Dependant) -> tuple[str, ...] | None:
    """The scopes an operation's token check asks for (``()``: any valid token, or one of
    several documented ones), or ``None`` when it checks no token."""
    for sub in dependant.dependencies:
        marked = getattr(sub.call, _MARK, None)
        if marked is not None:
            return tuple(marked)
        found = dependant_scopes(sub)
        if found is not None:
            return found
    return None


def unprotected_routes(app: FastAPI, public: Iterable[str] = PUBLIC_PATHS) -> list[str]:
    """``"METHODS path"`` of every route that neither checks a token nor is public."""
    allowed = set(public)
    return [
        f"{methods} {path}"
        for methods, path, dependant in served_routes(app)
        if path not in allowed and (dependant is None or dependant_scopes(dependant) is None)
    ]
