"""OKX spot trading through ccxt (``eip.exchanges.ccxt.trading``): what OKX adds to ccxt.

- **Client order ids**: ``clOrdId``, up to 32 letters and digits (case-sensitive).
- **Amend** is native (``POST /api/v5/trade/amend-order``: ``newSz`` is the total size,
  filled included, ``newPx``; the order keeps ``ordId`` and ``clOrdId``).
- **Quote-sized market buys** are native (``tgtCcy=quote_ccy``); base-sized market orders are
  OKX's default for spot (``base_ccy``).
- **Errors**: an order refusal is ``{"code": "1", "data": [{"sCode", "sMsg"}]}``; ccxt sorts
  ``sCode`` into its classes and the table below refines ``InvalidOrder``.
- **Passphrase**: OKX keys have one, sent as is in ``OK-ACCESS-PASSPHRASE`` (ccxt's
  ``password``); auth stores it with the key in Vault.
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.trading import CcxtVenueProfile, adapter_factory
from eip.exchanges.contract.errors import RejectReason
from eip.exchanges.contract.trading import (
    AmendSupport,
    ClientOrderIdRules,
    Support,
    TradingCapabilities,
)

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.NATIVE, price=Support.NATIVE
    ),
    stop=Support.EMULATED,  # OKX has algo orders; this adapter does not send them yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    client_order_ids=ClientOrderIdRules(max_length=32, alphabet="A-Za-z0-9"),
)


def read_code(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("sCode"):
        return str(data[0]["sCode"])
    code = body.get("code")
    return None if code is None else str(code)


PROFILE = CcxtVenueProfile(
    exchange="okx",
    capabilities=CAPABILITIES,
    reject_codes={
        "51004": RejectReason.LOT_SIZE,  # amount above the tier limit
        "51005": RejectReason.LOT_SIZE,  # amount above the limit
        "51006": RejectReason.PRICE_FILTER,  # price out of the limit
        "51011": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
        "51016": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
        "51020": RejectReason.LOT_SIZE,  # below the minimum amount
        "51120": RejectReason.LOT_SIZE,  # quantity below the minimum
        "51121": RejectReason.LOT_SIZE,  # not a multiple of the lot size
        "51122": RejectReason.PRICE_FILTER,  # price below the minimum
    },
    read_code=read_code,
)

create_adapter = adapter_factory(PROFILE)
