"""Service tokens: verify the auth service's ES256 JWTs and enforce scopes on endpoints."""

from eip.tokens.fastapi import (
    PUBLIC_PATHS,
    any_scope_openapi,
    authenticate,
    bearer_token,
    declare_scope_check,
    dependant_scopes,
    require_any_scope,
    require_scope,
    unprotected_routes,
)
from eip.tokens.jwt import (
    ALGORITHM,
    SCOPES,
    Claims,
    TokenError,
    jwk_from_pem,
    signing_input,
    verify_token,
)
from eip.tokens.verifier import JwksUnavailable, TokenVerifier

__all__ = [
    "ALGORITHM",
    "PUBLIC_PATHS",
    "SCOPES",
    "Claims",
    "JwksUnavailable",
    "TokenError",
    "TokenVerifier",
    "any_scope_openapi",
    "authenticate",
    "bearer_token",
    "declare_scope_check",
    "dependant_scopes",
    "jwk_from_pem",
    "require_any_scope",
    "require_scope",
    "signing_input",
    "unprotected_routes",
    "verify_token",
]
