"""The HTTP app of a service: the app factory's app, the service's standard dependencies, and
its token verifier.

The verifier is configured here, from the settings every protected service shares
(``eip.config.ProtectedServiceSettings``), and nowhere else: a service's routes only declare
the scopes they need (``eip.tokens.require_scope``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.config import ProtectedServiceSettings
from eip.observability.http import Lifespan, ReadinessCheck, create_app
from eip.runtime.dependencies import Dependencies, Needs
from eip.tokens import TokenVerifier


def service_app(
    settings: ProtectedServiceSettings,
    version: str,
    needs: Needs,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The app factory's app with the service's dependencies opened at startup and checked by
    /readyz (with ``readiness``, checks of the service's own beside them, and ``lifespan``, the
    service's own start-up and shutdown inside theirs); ``app.state.deps`` holds them for the
    routes the service adds, and ``app.state.token_verifier`` checks the tokens they ask for."""
    deps = Dependencies(settings, needs)
    verifier = TokenVerifier(
        settings.auth_jwks_url, issuer=settings.auth_issuer, audience=settings.auth_audience
    )

    @asynccontextmanager
    async def service_lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with deps.lifespan(app):
                if lifespan is None:
                    yield
                else:
                    async with lifespan(app):
                        yield
        finally:
            await verifier.aclose()

    app = create_app(
        settings.service_name,
        version,
        readiness={**deps.readiness(), **(readiness or {})},
        lifespan=service_lifespan,
    )
    app.state.deps = deps
    app.state.token_verifier = verifier
    return app
