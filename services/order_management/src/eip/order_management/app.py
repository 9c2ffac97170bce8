from __future__ import annotations

from fastapi import FastAPI

from eip.observability.http import create_app
from eip.order_management import __version__
from eip.order_management.settings import OrderManagementSettings
from eip.runtime import Dependencies, Needs


def build_app(settings: OrderManagementSettings) -> FastAPI:
    deps = Dependencies(settings, Needs(kafka=True, database=True))
    app = create_app(
        settings.service_name,
        __version__,
        readiness=deps.readiness(),
        lifespan=deps.lifespan,
    )
    app.state.deps = deps
    return app
