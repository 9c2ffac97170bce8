from __future__ import annotations

from fastapi import FastAPI

from eip.market_data import __version__
from eip.market_data.settings import MarketDataSettings
from eip.runtime import Needs, service_app


def build_app(settings: MarketDataSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=True))
