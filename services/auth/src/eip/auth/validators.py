"""The key validators this deployment knows, by exchange id: one for each venue the settings
give an endpoint to (``AuthSettings.exchange_base_urls``), built by the venue's package through
``eip.exchanges.registry``."""

from __future__ import annotations

from eip.auth.settings import AuthSettings
from eip.exchanges import registry
from eip.exchanges.contract.credentials import KeyValidator


def build_validators(settings: AuthSettings) -> dict[str, KeyValidator]:
    return {
        exchange: registry.create_key_validator(exchange, base_url, settings.exchange_timeout_s)
        for exchange, base_url in settings.exchange_base_urls().items()
    }
