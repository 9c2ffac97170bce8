"""What the HTTP endpoints that change a service's runtime configuration (its subscriptions)
share: who asked, and the answer when the change cannot be stored."""

from __future__ import annotations

from fastapi import Request

from eip.observability.http import ApiError
from eip.storage import DatabaseUnavailable


def request_actor(request: Request) -> str | None:
    """The caller's principal when an authentication dependency put its claims on the request
    (``eip.tokens``); ``None`` for endpoints that take no token."""
    claims = getattr(request.state, "claims", None)
    subject = getattr(claims, "subject", None)
    return subject if isinstance(subject, str) else None


def change_not_stored(exc: DatabaseUnavailable) -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "the subscription change cannot be stored, so it was not made; retry when PostgreSQL"
        " is back",
        {"reason": str(exc)},
    )
