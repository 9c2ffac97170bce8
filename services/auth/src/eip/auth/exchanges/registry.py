"""The validators this deployment knows, by exchange id."""

from __future__ import annotations

from eip.auth.exchanges.binance import BinanceValidator
from eip.auth.settings import AuthSettings
from eip.exchanges.contract.credentials import KeyValidator


def build_validators(settings: AuthSettings) -> dict[str, KeyValidator]:
    return {
        "binance": BinanceValidator(settings.binance_base_url, settings.exchange_timeout_s),
    }
