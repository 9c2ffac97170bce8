from __future__ import annotations

from fastapi import FastAPI

from eip.observability.http import create_app
from eip.order_book import __version__
from eip.order_book.settings import OrderBookSettings
from eip.runtime import Dependencies, Needs


def build_app(settings: OrderBookSettings) -> FastAPI:
    deps = Dependencies(settings, Needs(kafka=True, database=False))
    app = create_app(
        settings.service_name,
        __version__,
        readiness=deps.readiness(),
        lifespan=deps.lifespan,
    )
    app.state.deps = deps
    return app
