"""Bitfinex spot (exchange wallet) trading through ccxt: what Bitfinex adds to ccxt.

- **Client order ids** are integers (``cid``, the platform's 45-bit id), unique per day only:
  Bitfinex looks an order up by ``cid`` together with the UTC date it was placed on, which the
  platform does not keep, so the adapter finds an order by client id among the orders it has
  seen, then the open orders, then the recent closed ones — ``OrderNotFound`` then proves
  nothing for older orders.
- **Lookups by id** read the active orders, then the history (ccxt's ``fetch_order`` reads
  active orders only).
- **Amend** is native (``order/update``: amount and price; ids kept).
- **Quote-sized market orders** are not offered.
- **Errors**: ``["error", 10001, text]`` for most refusals (ccxt maps 10001 to
  ``PermissionDenied``); the reason is read from the text.
- **Precision** is five significant digits of price (ccxt's SIGNIFICANT_DIGITS mode): the
  rules give eight decimals as the tick, and Bitfinex refuses a sixth significant digit.
"""

from __future__ import annotations

from typing import Any

import ccxt

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
    stop=Support.EMULATED,  # Bitfinex has EXCHANGE STOP orders; not sent by this adapter yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NONE,
    client_order_ids=ClientOrderIdRules(max_length=19, alphabet="0-9", kind="integer"),
)


async def fetch_open_or_closed(client: Any, symbol: str, order_id: str) -> Any:
    """ccxt's ``fetch_order`` reads active orders only (``r/orders``): a filled or cancelled
    order is in the history (``r/orders/{symbol}/hist``)."""
    try:
        return await client.fetch_open_order(order_id, symbol)
    except ccxt.OrderNotFound:
        return await client.fetch_closed_order(order_id, symbol)


PROFILE = CcxtVenueProfile(
    exchange="bitfinex",
    capabilities=CAPABILITIES,
    lookup_by_client_id=False,
    fetch_by_venue_id=fetch_open_or_closed,
    # Bitfinex answers most refusals with the generic code 10001 (which ccxt calls
    # PermissionDenied): its text says what was wrong
    reject_messages={
        "not enough": RejectReason.INSUFFICIENT_FUNDS,
        "minimum size": RejectReason.LOT_SIZE,
        "maximum size": RejectReason.LOT_SIZE,
        "price": RejectReason.PRICE_FILTER,
        "permission": RejectReason.PERMISSION_DENIED,
        "invalid order": RejectReason.INVALID_ORDER,
    },
)

create_adapter = adapter_factory(PROFILE)
