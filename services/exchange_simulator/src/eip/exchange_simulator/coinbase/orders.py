"""Coinbase's view of the core's orders: what Coinbase knows about an order that the core does
not (a GTD order's ``end_time``, a stop's direction, that it expired rather than was cancelled),
the account's client order ids, and the order and fill objects of the REST API and the ``user``
channel.

What is subtle:

- One account, several dialects: an order placed through the Binance dialect is the same
  account's order here too, so every order of the account is listed; what Coinbase would know
  only from its own order entry (``end_time``, ``stop_direction``) is derived for those.
- ``client_order_id`` is an idempotency key on Coinbase: a second order with an id the account
  already used is not placed, the first one is answered instead. The index covers every order
  the account ever placed through any dialect (the core only refuses duplicates among open ones).
- Fees: the core takes a fee from what each side receives (a buyer pays it in the base asset);
  Coinbase reports every fee in the quote currency, so a buyer's fee is shown at the fill price
  (``commission`` = base fee * price). The balances show where the fee was really taken.
- Statuses: open and partially filled orders are ``OPEN``; an IOC/FOK/market remainder the core
  expires is ``CANCELLED`` (as Coinbase ends them); a GTD order reaching its ``end_time`` is
  ``EXPIRED``. A stop waiting for its trigger is ``OPEN`` with ``trigger_status: STOP_PENDING``.
- A bracket (``trigger_bracket_*``) is one Coinbase order over two core legs of an order list
  (the take-profit limit, whose id it has, and a hidden stop-limit): it is shown with both
  legs' fills, open while either leg is, filled when one is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eip.exchange_simulator.coinbase import wire
from eip.exchange_simulator.coinbase.ids import CoinbaseIds
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.engine import OrderUpdate
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import (
    ExecType,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

ZERO = Decimal(0)
STOP_UP = "STOP_DIRECTION_STOP_UP"
STOP_DOWN = "STOP_DIRECTION_STOP_DOWN"
AVERAGE_QUANTUM = Decimal("1e-10")  # an average price has as many digits as it needs, up to 10


def plain(value: Decimal) -> str:
    """A decimal as Coinbase writes computed values: no exponent, no trailing zeros."""
    return f"{value.normalize():f}" if value else "0"


@dataclass
class Extras:
    """What Coinbase knows about an order beyond the core's fields."""

    end_time_ms: int | None = None  # GTD
    expired: bool = False  # cancelled because its end_time came
    edits: list[dict[str, str]] = field(default_factory=list)  # edit_history, oldest first


def stop_is_up(order_type: OrderType, side: Side) -> bool:
    """Whether a stop triggers on a rise (``STOP_UP``): a buy stop-loss or a sell take-profit."""
    loss = order_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
    return loss == (side is Side.BUY)


def stop_type(direction: str, side: Side, limit: bool = True) -> OrderType:
    """The core's stop type for a Coinbase stop direction (the inverse of ``stop_is_up``)."""
    loss = (direction == STOP_UP) == (side is Side.BUY)
    if loss:
        return OrderType.STOP_LOSS_LIMIT if limit else OrderType.STOP_LOSS
    return OrderType.TAKE_PROFIT_LIMIT if limit else OrderType.TAKE_PROFIT


class CoinbaseOrders:
    def __init__(self, exchange: Exchange, ids: CoinbaseIds) -> None:
        self.exchange = exchange
        self.ids = ids
        self.extras: dict[int, Extras] = {}
        self._by_client_id: dict[tuple[str, str], int] = {}
        self._stops: dict[int, int] = {}  # a bracket's take-profit leg -> its stop leg
        self._brackets: dict[int, int] = {}  # a bracket's stop leg -> its take-profit leg
        exchange.listeners.order.append(self._on_order)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _on_order(self, account_id: str, update: OrderUpdate) -> None:
        if update.exec_type is ExecType.NEW and account_id not in self.exchange.untracked_accounts:
            key = (account_id, update.order.client_order_id)
            self._by_client_id.setdefault(key, update.order.order_id)

    def by_client_id(self, account_id: str, client_order_id: str) -> Order | None:
        order_id = self._by_client_id.get((account_id, client_order_id))
        if order_id is None:
            return None
        return self.exchange.orders.get(self._brackets.get(order_id, order_id))

    def open_of(self, account_id: str) -> list[Order]:
        """The account's open orders as Coinbase lists them, oldest first (a bracket once)."""
        seen: set[int] = set()
        out = []
        for order in self.exchange.open_orders(account_id):
            primary_id = self._brackets.get(order.order_id, order.order_id)
            if primary_id not in seen:
                seen.add(primary_id)
                out.append(self.exchange.orders.get(primary_id, order))
        return out

    def find(self, account_id: str, order_uuid: str) -> Order | None:
        order_id = self.ids.order_id(order_uuid)
        order = None if order_id is None else self.exchange.orders.get(order_id)
        return order if order is not None and order.account_id == account_id else None

    def of_account(self, account_id: str) -> Iterator[Order]:
        """The account's orders as Coinbase lists them, newest first (a bracket once)."""
        return (
            o
            for o in reversed(self.exchange.orders.values())
            if o.account_id == account_id and o.order_id not in self._brackets
        )

    # -- brackets: one Coinbase order over a core order list -----------------------------------

    def bracket(self, take_profit: Order, stop: Order) -> None:
        self._stops[take_profit.order_id] = stop.order_id
        self._brackets[stop.order_id] = take_profit.order_id

    def is_bracket(self, order: Order) -> bool:
        return order.order_id in self._stops or order.order_id in self._brackets

    def shown(self, order: Order) -> Order:
        """The order Coinbase shows for ``order``: itself, or for either leg of a bracket the
        bracket as it stands (both legs' fills, open while either is)."""
        primary_id = self._brackets.get(order.order_id, order.order_id)
        stop_id = self._stops.get(primary_id)
        if stop_id is None:
            return order
        take_profit, stop = self.exchange.orders[primary_id], self.exchange.orders[stop_id]
        legs = (take_profit, stop)
        executed = sum((leg.executed_qty for leg in legs), ZERO)
        if any(leg.status is OrderStatus.FILLED for leg in legs):
            status = OrderStatus.FILLED
        elif any(leg.status.is_open for leg in legs):
            status = OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.NEW
        elif any(leg.status is OrderStatus.CANCELED for leg in legs):
            status = OrderStatus.CANCELED
        else:
            status = OrderStatus.EXPIRED
        return dataclasses.replace(
            take_profit,
            status=status,
            executed_qty=executed,
            cumulative_quote=sum((leg.cumulative_quote for leg in legs), ZERO),
            reserved=sum((leg.reserved for leg in legs), ZERO),
            fills=sorted((f for leg in legs for f in leg.fills), key=lambda f: f.trade_id),
            stop_price=stop.stop_price,
            working_ms=stop.working_ms,
        )

    def legs(self, order: Order) -> list[Order]:
        stop_id = self._stops.get(order.order_id)
        return [order] if stop_id is None else [order, self.exchange.orders[stop_id]]

    def is_open(self, order: Order) -> bool:
        return any(leg.status.is_open for leg in self.legs(order))

    def cancel(self, order: Order) -> None:
        """Cancel the order (a bracket: through whichever leg is still open)."""
        leg = next(leg for leg in self.legs(order) if leg.status.is_open)
        self.exchange.cancel(leg.account_id, leg.symbol, leg.order_id)

    def order_uuid(self, leg: Order) -> str:
        """The Coinbase order id of ``leg`` (a bracket's stop leg has its bracket's)."""
        return self.ids.order(self._brackets.get(leg.order_id, leg.order_id))

    def expire_at(self, order: Order, end_time_ms: int) -> None:
        """Cancel ``order`` as EXPIRED when ``end_time`` comes (GTD)."""
        self.extras.setdefault(order.order_id, Extras()).end_time_ms = end_time_ms
        delay_s = max(0.0, (end_time_ms - self.exchange.now_ms()) / 1000)
        asyncio.get_running_loop().call_later(delay_s, self._expire, order)

    def edited(self, order: Order, now_ms: int) -> None:
        """Record an accepted edit for the order's ``edit_history``."""
        inst = self.exchange.instruments[order.symbol]
        entry = {
            "price": "" if order.price is None else fixed(order.price, inst.price_decimals),
            "size": "" if order.quantity is None else fixed(order.quantity, inst.qty_decimals),
            "replace_accept_timestamp": wire.timestamp_us(now_ms),
        }
        self.extras.setdefault(order.order_id, Extras()).edits.append(entry)

    def _expire(self, order: Order) -> None:
        if not self.is_open(order):
            return
        self.extras[order.order_id].expired = True
        with contextlib.suppress(Rejection):  # closed meanwhile
            self.cancel(order)

    # -- what an order looks like --------------------------------------------------------------

    def status(self, order: Order) -> str:
        if order.status.is_open:
            return "OPEN"
        if order.status is OrderStatus.FILLED:
            return "FILLED"
        extras = self.extras.get(order.order_id)
        if extras is not None and extras.expired:
            return "EXPIRED"
        if order.status is OrderStatus.REJECTED:
            return "FAILED"
        return "CANCELLED"

    def end_time_ms(self, order: Order) -> int | None:
        extras = self.extras.get(order.order_id)
        return None if extras is None else extras.end_time_ms

    def time_in_force(self, order: Order) -> str:
        if order.type is OrderType.MARKET or order.time_in_force is TimeInForce.IOC:
            return "IMMEDIATE_OR_CANCEL"
        if order.time_in_force is TimeInForce.FOK:
            return "FILL_OR_KILL"
        if self.end_time_ms(order) is not None:
            return "GOOD_UNTIL_DATE_TIME"
        return "GOOD_UNTIL_CANCELLED"

    def configuration(self, order: Order, inst: Instrument) -> dict[str, Any]:
        """The ``order_configuration`` the order would have been placed with on Coinbase."""
        size = None if order.quantity is None else fixed(order.quantity, inst.qty_decimals)
        price = None if order.price is None else fixed(order.price, inst.price_decimals)
        end_ms = self.end_time_ms(order)
        end = {} if end_ms is None else {"end_time": wire.timestamp_us(end_ms)}
        gtd = "gtd" if end_ms is not None else "gtc"
        if order.order_id in self._stops:
            trigger = fixed(order.stop_price or ZERO, inst.price_decimals)
            bracket = {"base_size": size, "limit_price": price, "stop_trigger_price": trigger}
            return {f"trigger_bracket_{gtd}": {**bracket, **end}}
        if order.type is OrderType.MARKET:
            if order.quantity is None:
                assert order.quote_quantity is not None
                quote = fixed(order.quote_quantity, inst.price_decimals)
                return {"market_market_ioc": {"quote_size": quote}}
            return {"market_market_ioc": {"base_size": size}}
        if order.type.is_conditional:
            stop = {
                "base_size": size,
                "stop_price": fixed(order.stop_price or ZERO, inst.price_decimals),
                "stop_direction": STOP_UP if stop_is_up(order.type, order.side) else STOP_DOWN,
            }
            if price is not None:
                stop["limit_price"] = price
            return {f"stop_limit_stop_limit_{gtd}": {**stop, **end}}
        if order.time_in_force is TimeInForce.IOC:
            return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
        if order.time_in_force is TimeInForce.FOK:
            return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
        post_only = order.type is OrderType.LIMIT_MAKER
        limit = {"base_size": size, "limit_price": price, **end, "post_only": post_only}
        return {f"limit_limit_{gtd}": limit}

    def order_type(self, order: Order, ws: bool = False) -> str:
        if order.order_id in self._stops:
            return "Bracket" if ws else "BRACKET"
        if order.type is OrderType.MARKET:
            return "Market" if ws else "MARKET"
        if order.type.is_conditional:
            if order.type.has_limit_price:
                return "Stop Limit" if ws else "STOP_LIMIT"
            return "Stop" if ws else "STOP"
        return "Limit" if ws else "LIMIT"

    def trigger_status(self, order: Order) -> str:
        if order.order_id in self._stops:  # shown(): working_ms is the stop leg's
            return "STOP_TRIGGERED" if order.is_working else "STOP_PENDING"
        if not order.type.is_conditional:
            return "INVALID_ORDER_TYPE"
        return "STOP_TRIGGERED" if order.is_working else "STOP_PENDING"

    def fills_until(self, order: Order) -> list[Fill]:
        """The fills an order snapshot had: its ``fills`` list is shared with the live order,
        which may have filled further since the snapshot was taken."""
        taken, out = ZERO, []
        for fill in order.fills:
            if taken >= order.executed_qty:
                break
            out.append(fill)
            taken += fill.qty
        return out

    def fee_in_quote(self, fill: Fill, inst: Instrument) -> Decimal:
        if fill.commission_asset == inst.base:
            return fill.commission * fill.price
        return fill.commission

    def figures(self, order: Order, inst: Instrument) -> dict[str, str]:
        """Fill figures shared by the REST order and the ``user`` channel's order."""
        fills = self.fills_until(order)
        fees = sum((self.fee_in_quote(f, inst) for f in fills), ZERO)
        value = order.cumulative_quote
        after_fees = value + fees if order.side is Side.BUY else value - fees
        if order.quantity:
            done = order.executed_qty / order.quantity
        elif order.quote_quantity:
            done = value / order.quote_quantity
        else:
            done = ZERO
        average = value / order.executed_qty if order.executed_qty else ZERO
        return {
            "filled_size": fixed(order.executed_qty, inst.qty_decimals),
            "filled_value": plain(value),
            "average_filled_price": plain(average.quantize(AVERAGE_QUANTUM)),
            "number_of_fills": str(len(fills)),
            "total_fees": plain(fees),
            "total_value_after_fees": plain(after_fees),
            "completion_percentage": plain((done * 100).quantize(Decimal("0.01"))),
            "outstanding_hold_amount": plain(order.reserved if order.status.is_open else ZERO),
        }

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as ``orders/historical/*`` returns it."""
        order = self.shown(order)
        inst = self.exchange.instruments[order.symbol]
        figures = self.figures(order, inst)
        fills = self.fills_until(order)
        quote_sized = order.quantity is None
        extras = self.extras.get(order.order_id)
        return {
            "order_id": self.ids.order(order.order_id),
            "product_id": wire.product_id(inst),
            "user_id": self.ids.user(order.account_id),
            "order_configuration": self.configuration(order, inst),
            "side": order.side.value,
            "client_order_id": order.client_order_id,
            "status": self.status(order),
            "time_in_force": self.time_in_force(order),
            "created_time": wire.timestamp_us(order.created_ms),
            "completion_percentage": figures["completion_percentage"],
            "filled_size": figures["filled_size"],
            "average_filled_price": figures["average_filled_price"],
            "fee": "",
            "number_of_fills": figures["number_of_fills"],
            "filled_value": figures["filled_value"],
            "pending_cancel": False,
            "size_in_quote": quote_sized,
            "total_fees": figures["total_fees"],
            "size_inclusive_of_fees": False,
            "total_value_after_fees": figures["total_value_after_fees"],
            "trigger_status": self.trigger_status(order),
            "order_type": self.order_type(order),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": not order.status.is_open,
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": figures["outstanding_hold_amount"],
            "is_liquidation": False,
            "last_fill_time": wire.timestamp_us(fills[-1].time_ms) if fills else None,
            "edit_history": list(extras.edits) if extras else [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": self.ids.portfolio(order.account_id),
            "originating_order_id": "",
            "attached_order_id": "",
        }

    def ws_order(self, order: Order) -> dict[str, Any]:
        """An order as the ``user`` channel sends it (a change of either leg of a bracket shows
        the bracket as it stands)."""
        order = self.shown(order)
        inst = self.exchange.instruments[order.symbol]
        figures = self.figures(order, inst)
        end_ms = self.end_time_ms(order)
        open_base = order.quantity is not None and order.status.is_open
        leaves = order.remaining if open_base else ZERO
        return {
            "avg_price": figures["average_filled_price"],
            "cancel_reason": "",
            "client_order_id": order.client_order_id,
            "completion_percentage": figures["completion_percentage"],
            "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
            "cumulative_quantity": figures["filled_size"],
            "filled_value": figures["filled_value"],
            "leaves_quantity": fixed(leaves, inst.qty_decimals),
            "limit_price": "" if order.price is None else fixed(order.price, inst.price_decimals),
            "number_of_fills": figures["number_of_fills"],
            "order_id": self.ids.order(order.order_id),
            "order_side": order.side.value,
            "order_type": self.order_type(order, ws=True),
            "outstanding_hold_amount": figures["outstanding_hold_amount"],
            "post_only": "true" if order.type is OrderType.LIMIT_MAKER else "false",
            "product_id": wire.product_id(inst),
            "product_type": "SPOT",
            "reject_reason": "",
            "retail_portfolio_id": self.ids.portfolio(order.account_id),
            "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
            "status": self.status(order),
            "stop_price": ""
            if order.stop_price is None
            else fixed(order.stop_price, inst.price_decimals),
            "time_in_force": self.time_in_force(order),
            "total_fees": figures["total_fees"],
            "total_value_after_fees": figures["total_value_after_fees"],
            "trigger_status": self.trigger_status(order),
            "creation_time": wire.timestamp_us(order.created_ms),
            "end_time": wire.timestamp_us(end_ms) if end_ms is not None else "0001-01-01T00:00:00Z",
            "start_time": "0001-01-01T00:00:00Z",
        }

    def fill_json(self, order: Order, fill: Fill) -> dict[str, Any]:
        """One side of a trade as ``orders/historical/fills`` returns it."""
        inst = self.exchange.instruments[order.symbol]
        return {
            "entry_id": self.ids.entry(order.order_id, fill.trade_id),
            "trade_id": self.ids.fill(order.symbol, fill.trade_id),
            "order_id": self.order_uuid(order),
            "trade_time": wire.timestamp_us(fill.time_ms),
            "trade_type": "FILL",
            "price": fixed(fill.price, inst.price_decimals),
            "size": fixed(fill.qty, inst.qty_decimals),
            "commission": plain(self.fee_in_quote(fill, inst)),
            "product_id": wire.product_id(inst),
            "sequence_timestamp": wire.timestamp_us(fill.time_ms),
            "liquidity_indicator": "MAKER" if fill.is_maker else "TAKER",
            "size_in_quote": False,
            "user_id": self.ids.user(order.account_id),
            "side": order.side.value,
            "retail_portfolio_id": self.ids.portfolio(order.account_id),
        }

    def success_response(self, order: Order) -> dict[str, Any]:
        inst = self.exchange.instruments[order.symbol]
        return {
            "order_id": self.ids.order(order.order_id),
            "product_id": wire.product_id(inst),
            "side": order.side.value,
            "client_order_id": order.client_order_id,
        }
