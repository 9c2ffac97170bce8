"""The key validators this deployment knows, by exchange id: one for every venue whose package
has a validator (``eip.exchanges.registry.credential_exchanges``), built by that package.

Each calls the venue's public API (the package's ``default_base_url``) unless the settings
give the venue another endpoint (``AUTH_<VENUE>_BASE_URL``: the simulator, a test server).
A validator is never gated on a setting: one that only a setting could switch on is one a
deployment that forgot it silently lacks (auth would answer ``unsupported_exchange``).
"""

from __future__ import annotations

from eip.auth.settings import AuthSettings
from eip.exchanges import registry
from eip.exchanges.contract.credentials import KeyValidator


def validator_endpoints(settings: AuthSettings) -> dict[str, str]:
    """Where each venue's validator sends its calls."""
    configured = settings.exchange_base_urls()
    return {
        exchange: configured.get(exchange) or registry.key_validator_base_url(exchange)
        for exchange in registry.credential_exchanges()
    }


def build_validators(settings: AuthSettings) -> dict[str, KeyValidator]:
    return {
        exchange: registry.create_key_validator(exchange, base_url, settings.exchange_timeout_s)
        for exchange, base_url in validator_endpoints(settings).items()
    }
