from __future__ import annotations

from fastapi import FastAPI

from eip.account import __version__
from eip.account.settings import AccountSettings
from eip.runtime import Needs, service_app


def build_app(settings: AccountSettings) -> FastAPI:
    return service_app(settings, __version__, Needs(kafka=True, database=True))
