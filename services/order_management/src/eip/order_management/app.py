from __future__ import annotations

from fastapi import FastAPI

from eip.order_management import __version__
from eip.order_management.settings import OrderManagementSettings
from eip.runtime import Needs, service_app


def build_app(settings: OrderManagementSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=True))
