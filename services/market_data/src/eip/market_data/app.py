from __future__ import annotations

from fastapi import FastAPI

from eip.market_data import __version__
from eip.market_data.settings import MarketDataSettings
from eip.observability.http import create_app
from eip.runtime import Dependencies, Needs


def build_app(settings: MarketDataSettings) -> FastAPI:
    deps = Dependencies(settings, Needs(kafka=True, database=True))
    app = create_app(
        settings.service_name,
        __version__,
        readiness=deps.readiness(),
        lifespan=deps.lifespan,
    )
    app.state.deps = deps
    return app
