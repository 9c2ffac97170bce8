"""How a service starts: settings, logging, its dependencies, its HTTP app."""

from eip.runtime.app import service_app
from eip.runtime.dependencies import Dependencies, Needs
from eip.runtime.main import run_service

__all__ = ["Dependencies", "Needs", "run_service", "service_app"]
