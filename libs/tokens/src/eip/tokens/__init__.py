"""Service tokens: verify the auth service's ES256 JWTs and enforce scopes on endpoints."""

from eip.tokens.fastapi import authenticate, bearer_token, require_scope
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
    "SCOPES",
    "Claims",
    "JwksUnavailable",
    "TokenError",
    "TokenVerifier",
    "authenticate",
    "bearer_token",
    "jwk_from_pem",
    "require_scope",
    "signing_input",
    "verify_token",
]
