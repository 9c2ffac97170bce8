"""Gate.io spot trading (API v4, classic spot account) through ccxt: what Gate.io adds.

- **Account mode**: classic spot; ccxt is told so (``unifiedAccount``) instead of asking
  ``/api/v4/account/detail`` first.
- **Client order ids**: ``text``, ``t-`` then up to 28 of letters, digits, ``_``, ``-``, ``.``
  (Gate.io's rule); ccxt 4.5.90 refuses a ``text`` longer than 28 *with* the prefix, so the
  platform's ids are ``t-`` + 26 (base62, 155 bits). Gate.io accepts the text wherever an order
  id goes (lookups and cancels).
- **Amend** is native (``PATCH /api/v4/spot/orders/{order_id}``: ``amount`` total, ``price``).
- **Market buys are sized in quote** (``amount`` is what to spend): a base-sized market buy is
  ``NotSupported`` and the caller sends a quote-sized one.
- **Errors** are ``{"label", "message"}``; ccxt sorts labels into its classes and the table
  below refines ``InvalidOrder``.
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
    stop=Support.EMULATED,  # Gate.io has price-triggered orders; not sent by this adapter yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    client_order_ids=ClientOrderIdRules(max_length=28, alphabet="A-Za-z0-9_.-", prefix="t-"),
)


def read_code(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("label"):
        return str(body["label"])
    return None


PROFILE = CcxtVenueProfile(
    exchange="gateio",
    capabilities=CAPABILITIES,
    client_options={"unifiedAccount": False},
    market_buy_in_base=False,
    reject_codes={
        "INVALID_PRECISION": RejectReason.LOT_SIZE,
        "AMOUNT_TOO_LITTLE": RejectReason.LOT_SIZE,
        "AMOUNT_TOO_MUCH": RejectReason.LOT_SIZE,
        "PRICE_TOO_DEVIATED": RejectReason.PRICE_FILTER,
        "PRICE_THRESHOLD_EXCEEDED": RejectReason.PRICE_FILTER,
        "ORDER_CLOSED": RejectReason.ORDER_NOT_AMENDABLE,
    },
    read_code=read_code,
)

create_adapter = adapter_factory(PROFILE)
