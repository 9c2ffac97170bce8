"""The one configuration loader: every service's settings come from here."""

from eip.config.loader import ConfigError, load_settings
from eip.config.settings import ProtectedServiceSettings, ServiceSettings

__all__ = ["ConfigError", "ProtectedServiceSettings", "ServiceSettings", "load_settings"]
