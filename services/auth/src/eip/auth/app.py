from __future__ import annotations

from fastapi import FastAPI

from eip.auth import __version__
from eip.auth.settings import AuthSettings
from eip.observability.http import create_app
from eip.runtime import Dependencies, Needs


def build_app(settings: AuthSettings) -> FastAPI:
    deps = Dependencies(settings, Needs(kafka=True, database=True, vault=True))
    app = create_app(
        settings.service_name,
        __version__,
        readiness=deps.readiness(),
        lifespan=deps.lifespan,
    )
    app.state.deps = deps
    return app
