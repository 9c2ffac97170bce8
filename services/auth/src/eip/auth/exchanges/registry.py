"""The validators this deployment knows, by exchange id."""

from __future__ import annotations

from eip.auth.exchanges import KeyValidator
from eip.auth.exchanges.binance import BinanceValidator
from eip.auth.settings import AuthSettings


def build_validators(settings: AuthSettings) -> dict[str, KeyValidator]:
    return {
        "binance": BinanceValidator(settings.binance_base_url, settings.exchange_timeout_s),
    }
