from __future__ import annotations

from fastapi import FastAPI

from eip.automation import __version__
from eip.automation.settings import AutomationSettings
from eip.runtime import Needs, service_app


def build_app(settings: AutomationSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=True))
