"""The HTTP app of a service whose only wiring is its standard dependencies."""

from __future__ import annotations

from fastapi import FastAPI

from eip.config import ServiceSettings
from eip.observability.http import create_app
from eip.runtime.dependencies import Dependencies, Needs


def service_app(settings: ServiceSettings, version: str, needs: Needs) -> FastAPI:
    """The app factory's app with the service's dependencies opened at startup and checked by
    /readyz; ``app.state.deps`` holds them for the routes the service adds."""
    deps = Dependencies(settings, needs)
    app = create_app(
        settings.service_name,
        version,
        readiness=deps.readiness(),
        lifespan=deps.lifespan,
    )
    app.state.deps = deps
    return app
