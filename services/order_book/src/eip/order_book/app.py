from __future__ import annotations

from fastapi import FastAPI

from eip.order_book import __version__
from eip.order_book.settings import OrderBookSettings
from eip.runtime import Needs, service_app


def build_app(settings: OrderBookSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=False))
