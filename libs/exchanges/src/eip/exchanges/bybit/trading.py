"""Bybit spot trading (v5, unified trading account) through ccxt: what Bybit adds to ccxt.

- **Account mode**: the unified trading account (every account since Bybit retired classic
  spot); ccxt is told so (``enableUnifiedAccount``) instead of asking ``/v5/user/query-api``
  and ``/v5/account/info`` before the first order.
- **Client order ids**: ``orderLinkId``, up to 36 of letters, digits, ``-`` and ``_``.
- **Lookups**: ``GET /v5/order/realtime`` by ``orderId`` or ``orderLinkId`` covers open orders
  and the account's last 500 closed ones (ccxt wants that acknowledged); by ``orderLinkId`` the
  adapter asks it, then ``/v5/order/history``, itself (ccxt's ``fetch_order`` would send
  ``orderId=None``). ``OrderNotFound`` is authoritative only within Bybit's history window.
- **Amend** is native (``POST /v5/order/amend``: ``qty`` total, ``price``; ids kept).
- **Market orders**: sized in base with ``marketUnit=baseCoin``, in quote with ``quoteCoin``.
- **Errors**: ``retCode``; 170146 ("order creation timeout") means Bybit does not know whether
  it placed the order: ``OutcomeUnknown``.
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
    stop=Support.EMULATED,  # Bybit has conditional spot orders; not sent by this adapter yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    client_order_ids=ClientOrderIdRules(max_length=36, alphabet="A-Za-z0-9_-"),
)


def read_code(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("retCode") not in (None, 0, "0"):
        return str(body["retCode"])
    return None


async def fetch_by_order_link_id(client: Any, symbol: str, order_link_id: str) -> Any:
    """ccxt's ``fetch_order`` sends ``orderId`` even when it is None; Bybit looks an order up by
    ``orderLinkId`` alone: the live orders (and recent closed ones), then the history."""
    market = client.market(symbol)
    request = {"category": "spot", "symbol": market["id"], "orderLinkId": order_link_id}
    for query in (client.privateGetV5OrderRealtime, client.privateGetV5OrderHistory):
        response = await query(request)
        rows = client.safe_list(client.safe_dict(response, "result", {}), "list", [])
        if rows:
            return client.parse_order(rows[0], market)
    raise ccxt.OrderNotFound(f"bybit order {order_link_id} not found")


PROFILE = CcxtVenueProfile(
    exchange="bybit",
    capabilities=CAPABILITIES,
    client_options={"enableUnifiedAccount": True, "enableUnifiedMargin": False},
    fetch_params={"acknowledged": True},
    client_id_key="orderLinkId",
    fetch_by_client_id=fetch_by_order_link_id,
    reject_codes={
        "110003": RejectReason.PRICE_FILTER,
        "110094": RejectReason.MIN_NOTIONAL,
        "170132": RejectReason.PRICE_FILTER,
        "170133": RejectReason.PRICE_FILTER,
        "170134": RejectReason.PRICE_FILTER,
        "170135": RejectReason.LOT_SIZE,
        "170136": RejectReason.LOT_SIZE,
        "170137": RejectReason.LOT_SIZE,
        "170140": RejectReason.MIN_NOTIONAL,
        "170141": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
        "170148": RejectReason.LOT_SIZE,
        "170193": RejectReason.PRICE_FILTER,
        "170194": RejectReason.PRICE_FILTER,
        "170218": RejectReason.POST_ONLY_WOULD_TAKE,
        "170139": RejectReason.ORDER_NOT_AMENDABLE,  # already filled
        "170142": RejectReason.ORDER_NOT_AMENDABLE,  # already cancelled
    },
    read_code=read_code,
    unknown_codes=frozenset({"170146"}),
)

create_adapter = adapter_factory(PROFILE)
