"""The entry point every service's ``__main__`` calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI

from eip.config import ConfigError, ServiceSettings, load_settings
from eip.observability.http import serve
from eip.observability.logging import configure_logging

S = TypeVar("S", bound=ServiceSettings)


def run_service(settings_cls: type[S], build_app: Callable[[S], FastAPI]) -> None:
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(exc, file=sys.stderr)  # logging is not configured yet; say it plainly
        sys.exit(2)
    configure_logging(settings_cls.service_name, settings.log_level)
    serve(
        build_app(settings),
        settings.http_host,
        settings.http_port,
        settings.ws_ping_interval_s,
        settings.ws_ping_timeout_s,
    )
