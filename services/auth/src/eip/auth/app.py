from __future__ import annotations

from fastapi import FastAPI

from eip.auth import __version__
from eip.auth.settings import AuthSettings
from eip.runtime import Needs, service_app


def build_app(settings: AuthSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=True, vault=True))
