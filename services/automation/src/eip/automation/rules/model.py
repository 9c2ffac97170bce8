"""A rule's definition as callers write it and PostgreSQL stores it (JSON): a condition, an
action and limits. The same models check the HTTP body and read the stored rows back, so a
stored rule is always one the API would accept.

Conditions are a closed vocabulary, told apart by ``type``:

- ``price_cross``: the last trade price, or the ticker's bid, ask or mid, is above / below a
  level (``md.trades.v1`` gives ``last``, ``md.tickers.v1`` the others and ``last`` too);
- ``percent_move``: the price moved by at least ``percent`` within the last ``window_s`` seconds
  (up, down or either);
- ``book``: the order-book service's book (``md.book.*``) has a spread in basis points of the
  mid, or an imbalance ``(bid - ask) / (bid + ask)`` of the sizes of the top ``depth`` levels,
  above / below a threshold; a book out of sync or stale makes it false;
- ``indicator``: an indicator of closed candles (``md.candles.v1``) above / below a level or
  another indicator of the same market and timeframe (an SMA/EMA cross);
- ``cron``: the instants of a cron expression in a named time zone;
- ``all`` / ``any`` of other conditions. A cron condition may stand alone or directly inside a
  top-level ``all`` (then the others are checked at each instant); anywhere else it has no
  meaning (an instant is no state that can be true for a while) and is refused.

Rules fire on the edge: when the condition becomes true (see ``engine.py``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from eip.automation.indicators import IndicatorKind
from eip.observability.inputs import Text

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=38)]
Threshold = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=38)]
Exchange = Annotated[Text, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
Symbol = Annotated[
    Text, Field(min_length=3, max_length=40, pattern=r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}$")
]
Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
Comparison = Literal["above", "below"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Market(_Strict):
    exchange: Exchange
    symbol: Symbol


class PriceCross(Market):
    type: Literal["price_cross"]
    price: Literal["last", "bid", "ask", "mid"] = "last"
    direction: Comparison
    level: Positive


class PercentMove(Market):
    type: Literal["percent_move"]
    price: Literal["last", "mid"] = "last"
    window_s: int = Field(ge=1, le=86_400)
    percent: Positive
    direction: Literal["up", "down", "either"] = "either"


class BookCondition(Market):
    type: Literal["book"]
    metric: Literal["spread_bps", "imbalance"]
    depth: int = Field(default=5, ge=1, le=100)  # levels per side summed for the imbalance
    direction: Comparison
    threshold: Threshold


class IndicatorSpec(_Strict):
    kind: IndicatorKind
    period: int = Field(ge=1, le=500)
    width: Decimal = Field(default=Decimal(2), gt=0, le=10, allow_inf_nan=False)  # Bollinger


class IndicatorCondition(Market):
    type: Literal["indicator"]
    timeframe: Timeframe
    indicator: IndicatorSpec
    direction: Comparison
    level: Threshold | None = None  # compare with a level ...
    other: IndicatorSpec | None = None  # ... or with another indicator (an SMA/EMA cross)

    @model_validator(mode="after")
    def _one_reference(self) -> IndicatorCondition:
        if (self.level is None) == (self.other is None):
            raise ValueError("give exactly one of level and other")
        return self


def _cron(expression: str) -> str:
    if not croniter.is_valid(expression):
        raise ValueError("not a cron expression (5 fields: minute hour day month weekday)")
    if len(expression.split()) != 5:
        raise ValueError("a cron expression has 5 fields: minute hour day month weekday")
    return expression


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone name, e.g. Europe/Paris or UTC") from None
    return name


class Cron(_Strict):
    type: Literal["cron"]
    expression: Annotated[Text, Field(min_length=9, max_length=120), AfterValidator(_cron)]
    timezone: Annotated[Text, Field(min_length=1, max_length=64), AfterValidator(_zone)] = "UTC"

    def next_after(self, instant: datetime) -> datetime:
        """The first instant of the schedule strictly after ``instant`` (aware, any zone)."""
        local = instant.astimezone(ZoneInfo(self.timezone))
        nxt: datetime = croniter(self.expression, local).get_next(datetime)
        return nxt


class AllOf(_Strict):
    type: Literal["all"]
    conditions: list[Condition] = Field(min_length=1, max_length=10)


class AnyOf(_Strict):
    type: Literal["any"]
    conditions: list[Condition] = Field(min_length=1, max_length=10)


Condition = Annotated[
    PriceCross | PercentMove | BookCondition | IndicatorCondition | Cron | AllOf | AnyOf,
    Field(discriminator="type"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()

OrderType = Literal[
    "market", "limit", "stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit"
]
LIMIT_PRICED = {"limit", "stop_loss_limit", "take_profit_limit"}
STOP_PRICED = {"stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit"}


class PlaceOrderAction(Market):
    """An order for order management (``PlaceOrder`` on ``orders.commands.v1``)."""

    type: Literal["place_order"]
    side: Literal["buy", "sell"]
    order_type: OrderType = "market"
    quantity: Positive | None = None
    quote_quantity: Positive | None = None  # market orders only
    price: Positive | None = None
    stop_price: Positive | None = None
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"

    @model_validator(mode="after")
    def _shape(self) -> PlaceOrderAction:
        if (self.quantity is None) == (self.quote_quantity is None):
            raise ValueError("give exactly one of quantity and quote_quantity")
        if self.quote_quantity is not None and self.order_type != "market":
            raise ValueError("only market orders are sized in the quote asset")
        if (self.order_type in LIMIT_PRICED) != (self.price is not None):
            verb = "needs" if self.order_type in LIMIT_PRICED else "takes no"
            raise ValueError(f"a {self.order_type} order {verb} price")
        if (self.order_type in STOP_PRICED) != (self.stop_price is not None):
            verb = "needs" if self.order_type in STOP_PRICED else "takes no"
            raise ValueError(f"a {self.order_type} order {verb} stop_price")
        return self


class SlicedAction(Market):
    """A parent quantity sent as ``slices`` market orders, one at the end of each of the
    ``slices`` equal intervals of ``duration_s``. With ``max_participation``, a slice is at
    most that share of the market's traded volume since the previous one; what the cap holds
    back moves to the later slices, and what is left after the last is recorded as the
    schedule's shortfall. Each slice is an ordinary command (idempotency key
    ``<firing id>/<slice>``)."""

    side: Literal["buy", "sell"]
    quantity: Positive
    duration_s: int = Field(ge=2, le=7 * 86_400)
    slices: int = Field(ge=2, le=1000)
    max_participation: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    # the venue's quantity step: slices are cut down to a multiple of it (the last one takes
    # the rest), so order management does not deny them (quantity_step)
    lot: Positive = Decimal("0.00000001")

    @property
    def interval_s(self) -> Decimal:
        return Decimal(self.duration_s) / self.slices


class TwapAction(SlicedAction):
    """Time-weighted: every slice the same share of what is left to send."""

    type: Literal["twap"]


class VwapAction(SlicedAction):
    """Volume-weighted: each slice's share follows the market's volume at the same time of day
    over the last ``profile_days`` days (closed 1-minute candles of md.candles.v1;
    ``eip.automation.vwap``). At most a day long, so each day's candles weigh once."""

    type: Literal["vwap"]
    duration_s: int = Field(ge=2, le=86_400)
    profile_days: int = Field(default=7, ge=1, le=30)


class OrderListAction(Market):
    """An OCO or a bracket for order management (``PlaceOrderList``), which places it natively
    where the venue can and emulates it otherwise. An OCO: a limit leg at ``price`` and a stop
    leg triggered at ``stop_price`` (a market order, or a limit at ``stop_limit_price``), both
    of ``side`` and ``quantity``; one executing cancels the other. A bracket: an entry of
    ``side`` (market, or limit at ``entry_price``) for ``quantity``, then such an OCO on the
    opposite side for what the entry filled (take-profit at ``price``, stop-loss at
    ``stop_price``). The legs' idempotency keys are order management's ``<firing id>#<role>``."""

    type: Literal["place_order_list"]
    list_type: Literal["oco", "bracket"]
    side: Literal["buy", "sell"]
    quantity: Positive
    price: Positive
    stop_price: Positive
    stop_limit_price: Positive | None = None
    entry_type: Literal["market", "limit"] | None = None  # brackets only (default market)
    entry_price: Positive | None = None

    @model_validator(mode="after")
    def _shape(self) -> OrderListAction:
        if self.list_type == "oco" and (self.entry_type or self.entry_price):
            raise ValueError("an OCO has no entry: entry_type and entry_price are for brackets")
        if self.list_type == "bracket" and (
            (self.entry_type == "limit") != (self.entry_price is not None)
        ):
            raise ValueError("a bracket's entry_price goes with entry_type limit")
        exits = self.side if self.list_type == "oco" else ("sell" if self.side == "buy" else "buy")
        # the limit leg takes profit, the stop leg limits the loss: on opposite sides of now
        if exits == "sell" and self.stop_price >= self.price:
            raise ValueError("selling exits need stop_price below price")
        if exits == "buy" and self.stop_price <= self.price:
            raise ValueError("buying exits need stop_price above price")
        return self


class CancelAllAction(_Strict):
    """Cancel every open order of the account (``CancelAll``), of one exchange and symbol if
    given: order management's own cancel-all, idempotent under the firing id."""

    type: Literal["cancel_all"]
    exchange: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    symbol: Annotated[Text, Field(min_length=3, max_length=40)] | None = None

    @model_validator(mode="after")
    def _scope(self) -> CancelAllAction:
        if self.symbol is not None and self.exchange is None:
            raise ValueError("a symbol goes with its exchange")
        return self


class AccountSwitchAction(_Strict):
    """Move the account to REDUCING (only orders that reduce a position, and cancels) or HALTED
    (cancels only; with ``cancel_open`` its open orders are cancelled too): order management's
    ``SetAccountSwitch``, which only ever tightens — back to ACTIVE is an administrator's act."""

    type: Literal["account_switch"]
    state: Literal["reducing", "halted"]
    cancel_open: bool = False

    @model_validator(mode="after")
    def _cancel_with_halt(self) -> AccountSwitchAction:
        if self.cancel_open and self.state != "halted":
            raise ValueError("cancel_open goes with halted")
        return self


class CancelOrderAction(_Strict):
    """Cancel one order of the account (``CancelOrder`` on ``orders.commands.v1``)."""

    type: Literal["cancel_order"]
    order_id: Annotated[Text, Field(min_length=1, max_length=128)]


class AlertAction(_Strict):
    """Only record the firing (listed with the rule's firings), no command."""

    type: Literal["alert"]
    message: Annotated[Text, Field(max_length=500)] = ""


Action = Annotated[
    PlaceOrderAction
    | OrderListAction
    | TwapAction
    | VwapAction
    | CancelOrderAction
    | CancelAllAction
    | AccountSwitchAction
    | AlertAction,
    Field(discriminator="type"),
]
# the actions a firing turns into one command on orders.commands.v1
CommandAction = (
    PlaceOrderAction | OrderListAction | CancelOrderAction | CancelAllAction | AccountSwitchAction
)


class Limits(_Strict):
    max_notional_per_firing: Positive | None = None
    max_notional_per_day: Positive | None = None  # UTC day
    max_firings: int | None = Field(default=None, ge=1, le=1_000_000)
    # After a firing, the condition must be false again before the next (always true for an
    # edge) and at least this long must have passed.
    cooldown_s: int = Field(default=0, ge=0, le=86_400 * 30)


class RuleDefinition(_Strict):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    condition: Condition
    action: Action
    limits: Limits = Limits()
    # Paper mode: orders are simulated against the live book (``paper.py``) and kept apart;
    # nothing is sent. Only for place_order actions.
    paper: bool = False

    @model_validator(mode="after")
    def _paper_orders_only(self) -> RuleDefinition:
        if self.paper and not isinstance(self.action, PlaceOrderAction):
            raise ValueError("paper mode simulates place_order actions only")
        return self

    @model_validator(mode="after")
    def _cron_placement(self) -> RuleDefinition:
        top = self.condition
        allowed: list[object] = [top]
        if isinstance(top, AllOf):
            allowed += list(top.conditions)
        crons = [c for c in walk(top) if isinstance(c, Cron)]
        if any(not any(c is a for a in allowed) for c in crons):
            raise ValueError("a cron condition stands alone or directly inside a top-level all")
        if sum(1 for c in crons) > 1:
            raise ValueError("a rule has at most one cron condition")
        return self


def walk(condition: Condition) -> list[Condition]:
    """The condition and every condition inside it."""
    out: list[Condition] = [condition]
    if isinstance(condition, AllOf | AnyOf):
        for inner in condition.conditions:
            out += walk(inner)
    return out


def schedule_of(condition: Condition) -> Cron | None:
    """The rule's cron condition, if it is a scheduled rule."""
    if isinstance(condition, Cron):
        return condition
    if isinstance(condition, AllOf):
        return next((c for c in condition.conditions if isinstance(c, Cron)), None)
    return None


def markets_of(condition: Condition) -> set[tuple[str, str]]:
    return {
        (c.exchange, c.symbol)
        for c in walk(condition)
        if isinstance(c, PriceCross | PercentMove | BookCondition | IndicatorCondition)
    }
