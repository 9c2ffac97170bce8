"""HTX (Huobi) spot trading through ccxt: what HTX adds to ccxt.

- **Client order ids**: ``client-order-id``, up to 64 characters (letters and digits sent);
  HTX looks orders up by it (``/v1/order/orders/getClientOrder``) for 2 hours after they close
  (24 hours for open ones), so ``OrderNotFound`` proves absence only for recent orders.
- **Amend** is not offered (ccxt emulates ``editOrder`` by cancel-replace; the platform does
  that itself): ``EMULATED``.
- **Post-only** is native (``buy-limit-maker``/``sell-limit-maker``).
- **Market buys are sized in quote** (``buy-market``'s ``amount`` is what to spend): a
  base-sized market buy is ``NotSupported`` and the caller sends a quote-sized one.
- **Errors** are ``{"status": "error", "err-code", "err-msg"}``; the table refines ccxt's
  ``InvalidOrder`` by ``err-code``.
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.ccxt.trading import CcxtVenueProfile, adapter_factory
from eip.exchanges.contract.errors import RejectReason
from eip.exchanges.contract.trading import (
    AmendSupport,
    ClientOrderIdRules,
    Support,
    TimeInForce,
    TradingCapabilities,
)

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.EMULATED, quantity_up=Support.EMULATED, price=Support.EMULATED
    ),
    stop=Support.EMULATED,  # HTX has stop-limit orders; not sent by this adapter yet
    take_profit=Support.EMULATED,
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    history_needs_symbol=True,
    client_order_ids=ClientOrderIdRules(max_length=64, alphabet="A-Za-z0-9"),
)


def read_code(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("err-code"):
        return str(body["err-code"])
    return None


PROFILE = CcxtVenueProfile(
    exchange="htx",
    capabilities=CAPABILITIES,
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    market_buy_in_base=False,
    reject_codes={
        "order-limitorder-amount-min-error": RejectReason.LOT_SIZE,
        "order-limitorder-amount-max-error": RejectReason.LOT_SIZE,
        "order-marketorder-amount-min-error": RejectReason.LOT_SIZE,
        "order-orderamount-precision-error": RejectReason.LOT_SIZE,
        "order-limitorder-price-min-error": RejectReason.PRICE_FILTER,
        "order-limitorder-price-max-error": RejectReason.PRICE_FILTER,
        "order-limitorder-price-buy-min-error": RejectReason.PRICE_FILTER,
        "order-limitorder-price-buy-max-error": RejectReason.PRICE_FILTER,
        "order-limitorder-price-sell-min-error": RejectReason.PRICE_FILTER,
        "order-limitorder-price-sell-max-error": RejectReason.PRICE_FILTER,
        "order-orderprice-precision-error": RejectReason.PRICE_FILTER,
        "order-value-min-error": RejectReason.MIN_NOTIONAL,
        "order-orderstate-error": RejectReason.ORDER_NOT_AMENDABLE,
    },
    read_code=read_code,
)

create_adapter = adapter_factory(PROFILE)
