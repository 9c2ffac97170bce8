"""Paper mode: what a rule's order would have done against the live book — walked with the
order-book service's own fill estimate (``eip.order_book.analysis.slippage.estimate_fill``),
charged the venue's taker fee — recorded apart (``paper_fills``), with no command sent.

A market order takes the opposite side for its quantity (or spends its quote quantity); a limit
order takes only the levels at or better than its limit (the rest would rest on the book and is
not simulated: ``complete`` is false). Stop and take-profit orders are not simulated (their
trigger is order management's to emulate): such a paper firing is an error. A book out of sync
or stale is no book: the firing is an error too, counted toward the rule's self-pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eip.automation.books import BookFollower
from eip.automation.rules.model import PlaceOrderAction
from eip.order_book.analysis.slippage import estimate_fill


@dataclass(frozen=True, slots=True)
class PaperFill:
    exchange: str
    symbol: str
    side: str
    filled_size: Decimal
    filled_notional: Decimal
    average_price: Decimal | None
    fee: Decimal
    slippage_vs_mid_bps: Decimal | None
    complete: bool


class PaperRefused(Exception):
    """The order cannot be simulated (the message says why)."""


def simulate(action: PlaceOrderAction, books: BookFollower, taker_fee: Decimal) -> PaperFill:
    if action.order_type not in ("market", "limit"):
        raise PaperRefused(f"a {action.order_type} order is not simulated in paper mode")
    levels = books.levels(action.exchange, action.symbol)
    if levels is None:
        raise PaperRefused(f"no usable {action.exchange} book of {action.symbol}")
    bids, asks = levels
    if action.order_type == "limit":
        assert action.price is not None
        limit = action.price
        if action.side == "buy":
            asks = [(p, q) for p, q in asks if p <= limit]
        else:
            bids = [(p, q) for p, q in bids if p >= limit]
    estimate = estimate_fill(
        bids, asks, action.side, size=action.quantity, notional=action.quote_quantity
    )
    return PaperFill(
        action.exchange,
        action.symbol,
        action.side,
        estimate.filled_size,
        estimate.filled_notional,
        estimate.average_price,
        estimate.filled_notional * taker_fee,
        estimate.slippage_vs_mid_bps,
        estimate.complete,
    )
