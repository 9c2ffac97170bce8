"""Which key validators a deployment builds and where they call: every venue whose package has
a validator gets it, at the venue's public API unless ``AUTH_<VENUE>_BASE_URL`` says otherwise
(no infrastructure needed)."""

from __future__ import annotations

import pytest

from eip.auth.settings import AuthSettings
from eip.auth.validators import build_validators, validator_endpoints
from eip.exchanges import registry

PUBLIC_APIS = {
    "binance": "https://api.binance.com",
    "coinbase": "https://api.coinbase.com",
    "kraken": "https://api.kraken.com",
    "kucoin": "https://api.kucoin.com",
    "bitfinex": "https://api.bitfinex.com",
    "htx": "https://api.huobi.pro",
    "bybit": "https://api.bybit.com",
    "okx": "https://www.okx.com",
    "bitmex": "https://www.bitmex.com",
    "gateio": "https://api.gateio.ws",
}


def settings_from(monkeypatch: pytest.MonkeyPatch, **endpoints: str) -> AuthSettings:
    """The settings of a deployment whose environment sets exactly ``endpoints``
    (``AUTH_<VENUE>_BASE_URL`` by venue id)."""
    for venue in registry.credential_exchanges():
        monkeypatch.delenv(f"AUTH_{venue.upper()}_BASE_URL", raising=False)
    for venue, url in endpoints.items():
        monkeypatch.setenv(f"AUTH_{venue.upper()}_BASE_URL", url)
    return AuthSettings()


async def test_a_deployment_without_endpoint_settings_validates_every_venues_keys_at_its_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch)
    assert validator_endpoints(settings) == PUBLIC_APIS
    validators = build_validators(settings)
    try:
        assert set(validators) == set(registry.credential_exchanges()) == set(PUBLIC_APIS)
        assert {venue: v.exchange for venue, v in validators.items()} == {
            venue: venue for venue in PUBLIC_APIS
        }
    finally:
        for validator in validators.values():
            await validator.aclose()


def test_an_endpoint_setting_moves_only_its_venue(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, okx="http://127.0.0.1:8300", kraken="http://sim:8000")
    assert validator_endpoints(settings) == {
        **PUBLIC_APIS,
        "okx": "http://127.0.0.1:8300",
        "kraken": "http://sim:8000",
    }


def test_every_venue_with_a_validator_has_an_endpoint_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = {venue: f"http://{venue}.test:1" for venue in registry.credential_exchanges()}
    settings = settings_from(monkeypatch, **every)
    assert settings.exchange_base_urls() == every
