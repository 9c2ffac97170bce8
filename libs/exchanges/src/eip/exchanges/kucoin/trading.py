"""KuCoin spot trading (classic account, high-frequency spot) through ccxt: what KuCoin adds.

- **Account mode**: classic (not the unified account) with the high-frequency spot account
  KuCoin has moved spot trading to (``/api/v1/hf/orders``); ccxt is told both (``uta``,
  ``hf``) instead of asking ``/api/ua/v1/account/mode`` and the migration status first.
- **Client order ids**: ``clientOid``, up to 40 of letters, digits, ``-`` and ``_``; KuCoin
  looks orders up and cancels them by it.
- **Amend** is not native: KuCoin's ``hf/orders/alter`` cancels and places a new order under a
  new id, so the platform's cancel-replace is the honest equivalent (``EMULATED``).
- **Quote-sized market buys** are native (``funds``).
- **Passphrase**: KuCoin keys have one; API key v2 sends it HMAC-signed with the secret
  (ccxt's ``password``); auth stores it with the key in Vault.
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.trading import CcxtVenueProfile, adapter_factory
from eip.exchanges.contract.trading import (
    AmendSupport,
    ClientOrderIdRules,
    Support,
    TradingCapabilities,
)

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.EMULATED, quantity_up=Support.EMULATED, price=Support.EMULATED
    ),
    stop=Support.EMULATED,  # KuCoin has stop orders; not sent by this adapter yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    client_order_ids=ClientOrderIdRules(max_length=40, alphabet="A-Za-z0-9_-"),
)


def read_code(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("code") not in (None, "200000"):
        return str(body["code"])
    return None


PROFILE = CcxtVenueProfile(
    exchange="kucoin",
    capabilities=CAPABILITIES,
    client_options={"uta": False, "hf": True},
    read_code=read_code,
)

create_adapter = adapter_factory(PROFILE)
