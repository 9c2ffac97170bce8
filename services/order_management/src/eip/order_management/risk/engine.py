"""Pre-trade risk: every check an order passes before it is stored as something to send, each
refusal a ``Denied`` with its code (``codes.py``). The checks, in the order they run (cheap and
decisive first; nothing is reserved by an order that is refused later, except a rate token):

1. kill switch (platform, exchange, account): HALTED refuses, REDUCING refuses what does not
   reduce a position (spot: a sell of at most the base asset held);
2. anomaly guard (``anomaly.py``): a sharp departure halts the account;
3. the venue's instrument rules: listed, trading, order type / time in force / post-only /
   quote sizing native or emulated, price on the tick, quantity on the lot and within min/max,
   notional within min/max;
4. price: a limit (or trigger) price within ``price_band_pct`` of the live mid, refused when the
   mid is older than ``reference_max_age_s``; a market order's expected slippage (order-book
   service) within ``max_slippage_bps``;
5. the account's limits: order quantity and notional, open orders, order rate (token bucket),
   the day's traded notional and realized loss;
6. balance: the free amount of what the order spends, less what orders the venue has not locked
   yet will need.

An order that passes is held for confirmation when its notional is above the account's
``confirm_above_notional``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from eip.exchanges.contract.errors import CredentialRejected, ExchangeError, UnknownExchange
from eip.exchanges.contract.trading import (
    InstrumentRules,
    OrderType,
    Support,
    TradingCapabilities,
)
from eip.order_management.commands import OrderSpec, Origin
from eip.order_management.exposure import Exposure, assets
from eip.order_management.market import MarketPrices, SlippageClient, SlippageUnavailable
from eip.order_management.risk import anomaly
from eip.order_management.risk.bucket import TokenBuckets
from eip.order_management.risk.codes import DenialCode, Denied
from eip.order_management.risk.killswitch import KillState
from eip.order_management.risk.limits import EffectiveLimits
from eip.order_management.risk.state import RiskState
from eip.order_management.storage.database import Database
from eip.order_management.storage.risk import RiskStore
from eip.order_management.venues import BalanceSource, BalanceUnknown, Holding, Venues

log = logging.getLogger(__name__)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
TEN_THOUSAND = Decimal(10_000)
Usage = Callable[[str, date], Awaitable[tuple[Decimal, Decimal]]]

_CONDITIONAL_SUPPORT = {
    OrderType.STOP_MARKET: "stop",
    OrderType.STOP_LIMIT: "stop",
    OrderType.TAKE_PROFIT_MARKET: "take_profit",
    OrderType.TAKE_PROFIT_LIMIT: "take_profit",
    OrderType.TRAILING_STOP_MARKET: "trailing_stop",
    OrderType.TRAILING_STOP_LIMIT: "trailing_stop",
}


class AnomalyHalt(Denied):
    """The anomaly guard refused the order and halts the account (the caller stores both)."""

    def __init__(self, found: anomaly.Anomaly) -> None:
        super().__init__(
            DenialCode.ANOMALY,
            f"anomaly guard: {found.message}; the account is halted until an admin releases it",
            {"kind": found.kind, **found.details},
        )
        self.anomaly = found


@dataclass(frozen=True, slots=True)
class Verdict:
    emulated: bool
    confirmation: bool
    four_eyes: bool
    confirm_ttl_s: int
    notional: Decimal | None
    reference: Decimal | None  # the price a market order was valued at
    limits: EffectiveLimits


def sent_type(order_type: OrderType) -> OrderType:
    """What an emulated order is sent as once its trigger fired."""
    return OrderType.LIMIT if order_type.has_limit_price else OrderType.MARKET


def is_native(spec: OrderSpec, capabilities: TradingCapabilities, rules: InstrumentRules) -> bool:
    """Whether a conditional order goes to the venue as it is (else the platform holds it)."""
    if not spec.type.is_conditional or spec.emulate:
        return not spec.type.is_conditional
    support = getattr(capabilities, _CONDITIONAL_SUPPORT[spec.type])
    return support is Support.NATIVE and spec.type in rules.order_types


def check_instrument_rules(
    spec: OrderSpec,
    rules: InstrumentRules,
    capabilities: TradingCapabilities,
    native: bool,
    notional: Decimal | None,
) -> None:
    """The venue's instrument rules (and what the venue takes natively) for one order: a
    ``Denied`` with the rule's code, else nothing. Pure: the rules and capabilities are given."""
    where = {"exchange": spec.exchange, "symbol": spec.symbol}
    if not rules.trading:
        raise Denied(DenialCode.MARKET_CLOSED, f"{spec.symbol} is not trading now", where)
    sent = spec.type if native else sent_type(spec.type)
    if sent not in rules.order_types:
        raise Denied(
            DenialCode.ORDER_TYPE_UNSUPPORTED,
            f"{spec.exchange} takes no {sent.value} orders on {spec.symbol}",
            {**where, "type": sent.value},
        )
    if spec.post_only and not (capabilities.post_only is Support.NATIVE and rules.post_only):
        raise Denied(
            DenialCode.ORDER_TYPE_UNSUPPORTED, f"{spec.exchange} has no post-only orders", where
        )
    if spec.quote_quantity is not None and not (
        capabilities.quote_quantity_market is Support.NATIVE and rules.quote_quantity_market
    ):
        raise Denied(
            DenialCode.ORDER_TYPE_UNSUPPORTED,
            f"{spec.exchange} takes no market orders sized in the quote asset",
            where,
        )
    if sent is not OrderType.MARKET and spec.time_in_force not in rules.time_in_force:
        raise Denied(
            DenialCode.TIME_IN_FORCE_UNSUPPORTED,
            f"{spec.exchange} takes no {spec.time_in_force.value.upper()} orders",
            {**where, "time_in_force": spec.time_in_force.value},
        )
    prices = [("price", spec.price)]
    if native:
        prices.append(("stop_price", spec.stop_price))
    for name, price in prices:
        if price is not None and not _multiple(price, rules.tick_size):
            raise Denied(
                DenialCode.PRICE_TICK,
                f"{name} {price} is not a multiple of the tick {rules.tick_size}",
                {**where, "tick_size": str(rules.tick_size), name: str(price)},
            )
    if spec.quantity is not None:
        quantity = spec.quantity
        if not _multiple(quantity, rules.lot_size):
            raise Denied(
                DenialCode.QUANTITY_STEP,
                f"quantity {quantity} is not a multiple of the lot {rules.lot_size}",
                {**where, "lot_size": str(rules.lot_size)},
            )
        if quantity < rules.min_quantity:
            raise Denied(
                DenialCode.QUANTITY_BELOW_MIN,
                f"quantity {quantity} is below the minimum {rules.min_quantity}",
                {**where, "min_quantity": str(rules.min_quantity)},
            )
        ceiling = rules.max_quantity
        market_ceiling = getattr(rules, "max_market_quantity", None)
        if sent is OrderType.MARKET and market_ceiling is not None:
            ceiling = market_ceiling if ceiling is None else min(ceiling, market_ceiling)
        if ceiling is not None and quantity > ceiling:
            raise Denied(
                DenialCode.QUANTITY_ABOVE_MAX,
                f"quantity {quantity} is above the maximum {ceiling}",
                {**where, "max_quantity": str(ceiling)},
            )
    if notional is not None:
        if rules.min_notional is not None and notional < rules.min_notional:
            raise Denied(
                DenialCode.NOTIONAL_BELOW_MIN,
                f"notional {notional} is below the minimum {rules.min_notional}",
                {**where, "min_notional": str(rules.min_notional)},
            )
        if rules.max_notional is not None and notional > rules.max_notional:
            raise Denied(
                DenialCode.NOTIONAL_ABOVE_MAX,
                f"notional {notional} is above the maximum {rules.max_notional}",
                {**where, "max_notional": str(rules.max_notional)},
            )


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or (value % step) == 0


class Profiles:
    """The anomaly guard's account profiles, loaded on first use by the account's owner and
    written back by ``flush`` (periodically and when partitions are given up)."""

    def __init__(self, db: Database, store: RiskStore) -> None:
        self.db = db
        self.store = store
        self._profiles: dict[str, anomaly.Profile] = {}
        self._dirty: set[str] = set()

    async def get(self, account_id: str) -> anomaly.Profile:
        profile = self._profiles.get(account_id)
        if profile is None:
            async with self.db.connection() as conn:
                data = await self.store.profile(conn, account_id)
            profile = self._profiles.setdefault(
                account_id, anomaly.Profile() if data is None else anomaly.Profile.from_json(data)
            )
        return profile

    def touched(self, account_id: str) -> None:
        self._dirty.add(account_id)

    async def flush(self, accounts: set[str] | None = None) -> None:
        dirty = self._dirty if accounts is None else self._dirty & accounts
        if not dirty:
            return
        async with self.db.transaction() as conn:
            for account_id in sorted(dirty):
                await self.store.put_profile(conn, account_id, self._profiles[account_id].to_json())
        self._dirty -= dirty

    def forget(self, accounts: set[str]) -> None:
        for account_id in accounts:
            self._profiles.pop(account_id, None)


class RiskEngine:
    def __init__(
        self,
        state: RiskState,
        venues: Venues,
        balances: BalanceSource,
        prices: MarketPrices,
        slippage: SlippageClient | None,
        exposure: Exposure,
        profiles: Profiles,
        usage: Usage,
    ) -> None:
        self.state = state
        self.venues = venues
        self.balances = balances
        self.prices = prices
        self.slippage = slippage
        self.exposure = exposure
        self.profiles = profiles
        self.usage = usage
        self.buckets = TokenBuckets()

    async def instrument(
        self, account_id: str, spec: OrderSpec
    ) -> tuple[InstrumentRules, TradingCapabilities]:
        try:
            rules = await self.venues.rules(account_id, spec.exchange)
            capabilities = await self.venues.capabilities(account_id, spec.exchange)
        except UnknownExchange as exc:
            raise Denied(
                DenialCode.UNKNOWN_INSTRUMENT,
                f"the platform does not trade on {spec.exchange!r}",
                {"exchange": spec.exchange, "reason": str(exc)},
            ) from None
        instrument = rules.get(spec.symbol)
        if instrument is None:
            raise Denied(
                DenialCode.UNKNOWN_INSTRUMENT,
                f"{spec.exchange} does not list {spec.symbol}",
                {"exchange": spec.exchange, "symbol": spec.symbol},
            )
        return instrument, capabilities

    async def check(self, origin: Origin, spec: OrderSpec, *, exit_leg: bool = False) -> Verdict:
        """The verdict on one order, or ``Denied``. ``exit_leg``: a bracket's exit, checked for
        shape and price only (its funds come from its entry)."""
        account = origin.account_id
        limits = self.state.limits_for(spec.exchange, account, spec.symbol)
        await self._kill_switch(account, spec)
        rules, capabilities = await self.instrument(account, spec)
        native = is_native(spec, capabilities, rules)
        reference = self._reference(spec, limits, required=False)
        notional = self._notional(spec, reference)
        if not exit_leg:
            await self._anomaly(origin, spec, limits, notional)
        check_instrument_rules(spec, rules, capabilities, native, notional)
        if spec.type is OrderType.MARKET:
            reference = await self._slippage(spec, limits, reference) or reference
            notional = self._notional(spec, reference)
        else:
            self._price_band(spec, limits)
        self._caps(spec, limits, notional)
        if not exit_leg:
            await self._account_limits(account, spec, limits, notional)
            await self._balance(account, spec, notional)
            profile = await self.profiles.get(account)
            anomaly.learn(
                profile,
                source=origin.source,
                instrument=f"{spec.exchange}:{spec.symbol}",
                notional=notional,
            )
            self.profiles.touched(account)
        threshold = limits.confirm_above_notional
        return Verdict(
            emulated=not native,
            confirmation=bool(
                threshold is not None and notional is not None and notional > threshold
            ),
            four_eyes=limits.four_eyes,
            confirm_ttl_s=limits.confirm_ttl_s,
            notional=notional,
            reference=reference,
            limits=limits,
        )

    async def check_amend(
        self,
        account_id: str,
        spec: OrderSpec,
    ) -> None:
        """An amended order's new terms: the kill switch (an amend is no cancel), the venue's
        rules and the price band."""
        limits = self.state.limits_for(spec.exchange, account_id, spec.symbol)
        await self._kill_switch(account_id, spec)
        rules, capabilities = await self.instrument(account_id, spec)
        native = is_native(spec, capabilities, rules)
        reference = self._reference(spec, limits, required=False)
        notional = self._notional(spec, reference)
        check_instrument_rules(spec, rules, capabilities, native, notional)
        if spec.type is not OrderType.MARKET:
            self._price_band(spec, limits)
        self._caps(spec, limits, notional)

    # -- the checks ---------------------------------------------------------------------------

    async def _kill_switch(self, account_id: str, spec: OrderSpec) -> None:
        switch = self.state.switch_for(spec.exchange, account_id)
        if switch is None:
            return
        details = {
            "level": switch.level.value,
            "scope": switch.scope_id or "platform",
            "reason": switch.reason,
        }
        if switch.state is KillState.HALTED:
            raise Denied(
                DenialCode.HALTED,
                f"trading is halted ({switch.level.value} {switch.scope_id or 'platform'}):"
                " only cancels are taken",
                details,
            )
        if spec.side == "sell" and spec.quantity is not None:
            base, _ = assets(spec.symbol)
            holding = await self._holding(account_id, spec.exchange, base)
            held = None if holding is None else holding.total
            selling = spec.quantity + self._pending_sells(account_id, spec)
            if held is not None and selling <= held:
                return
            details["held"] = str(held)
        raise Denied(
            DenialCode.REDUCING_ONLY,
            f"the {switch.level.value} kill switch is REDUCING: only orders that reduce a"
            " position (sales of what is held) and cancels are taken",
            details,
        )

    def _pending_sells(self, account_id: str, spec: OrderSpec) -> Decimal:
        return sum(
            (
                o.remaining or ZERO
                for o in self.exposure.open_orders(account_id)
                if o.side == "sell" and o.exchange == spec.exchange and o.symbol == spec.symbol
            ),
            ZERO,
        )

    async def _anomaly(
        self, origin: Origin, spec: OrderSpec, limits: EffectiveLimits, notional: Decimal | None
    ) -> None:
        if not limits.anomaly_guard:
            return
        profile = await self.profiles.get(origin.account_id)
        found = anomaly.assess(
            profile,
            limits,
            source=origin.source,
            instrument=f"{spec.exchange}:{spec.symbol}",
            notional=notional,
        )
        if found is not None:
            raise AnomalyHalt(found)

    def _reference(
        self, spec: OrderSpec, limits: EffectiveLimits, *, required: bool
    ) -> Decimal | None:
        mid, age = self.prices.mid(spec.exchange, spec.symbol, float(limits.reference_max_age_s))
        if mid is None and required:
            raise Denied(
                DenialCode.REFERENCE_STALE,
                f"no live price for {spec.exchange} {spec.symbol}"
                + ("" if age is None else f" (the latest is {age:.1f}s old)"),
                {
                    "exchange": spec.exchange,
                    "symbol": spec.symbol,
                    "age_s": "none" if age is None else f"{age:.3f}",
                    "max_age_s": str(limits.reference_max_age_s),
                },
            )
        return mid

    def _notional(self, spec: OrderSpec, reference: Decimal | None) -> Decimal | None:
        if spec.quote_quantity is not None:
            return spec.quote_quantity
        price = spec.price or spec.stop_price or reference
        if price is None or spec.quantity is None:
            return None
        return spec.quantity * price

    def _price_band(self, spec: OrderSpec, limits: EffectiveLimits) -> None:
        band = limits.price_band_pct
        if band is None:
            return
        mid = self._reference(spec, limits, required=True)
        assert mid is not None
        for name, price in (("price", spec.price), ("stop_price", spec.stop_price)):
            if price is None:
                continue
            distance = abs(price - mid) / mid * HUNDRED
            if distance > band:
                raise Denied(
                    DenialCode.PRICE_BAND,
                    f"{name} {price} is {distance:.2f}% from the mid {mid}, beyond the band of"
                    f" {band}%",
                    {name: str(price), "mid": str(mid), "band_pct": str(band)},
                )

    async def _slippage(
        self, spec: OrderSpec, limits: EffectiveLimits, reference: Decimal | None
    ) -> Decimal | None:
        ceiling = limits.max_slippage_bps
        if ceiling is None:
            return None
        if self.slippage is None:
            raise Denied(
                DenialCode.SLIPPAGE_UNAVAILABLE,
                "no order-book service is configured to check a market order's slippage",
            )
        try:
            estimate = await self.slippage.estimate(
                spec.exchange,
                spec.symbol,
                spec.side,
                size=spec.quantity,
                notional=spec.quote_quantity,
            )
        except SlippageUnavailable as exc:
            raise Denied(
                DenialCode.SLIPPAGE_UNAVAILABLE,
                f"the expected slippage cannot be known: {exc}",
                {"exchange": spec.exchange, "symbol": spec.symbol},
            ) from None
        if not estimate.complete:
            raise Denied(
                DenialCode.SLIPPAGE,
                "the book is too thin to fill this market order",
                {"filled_notional": str(estimate.filled_notional)},
            )
        bps = estimate.slippage_bps
        if bps is not None and bps > ceiling:
            raise Denied(
                DenialCode.SLIPPAGE,
                f"expected slippage {bps:.2f} bps is above the limit of {ceiling} bps",
                {"slippage_bps": f"{bps:.4f}", "max_slippage_bps": str(ceiling)},
            )
        return estimate.average_price or reference

    def _caps(self, spec: OrderSpec, limits: EffectiveLimits, notional: Decimal | None) -> None:
        if (
            limits.max_order_quantity is not None
            and spec.quantity is not None
            and spec.quantity > limits.max_order_quantity
        ):
            raise Denied(
                DenialCode.MAX_ORDER_QUANTITY,
                f"quantity {spec.quantity} is above the limit {limits.max_order_quantity}",
                {"max_order_quantity": str(limits.max_order_quantity)},
            )
        if limits.max_order_notional is not None:
            if notional is None:
                raise Denied(
                    DenialCode.REFERENCE_STALE,
                    "the order cannot be valued against the notional limit: no live price",
                    {"exchange": spec.exchange, "symbol": spec.symbol},
                )
            if notional > limits.max_order_notional:
                raise Denied(
                    DenialCode.MAX_ORDER_NOTIONAL,
                    f"notional {notional} is above the account's limit {limits.max_order_notional}",
                    {"max_order_notional": str(limits.max_order_notional)},
                )

    async def _account_limits(
        self, account_id: str, spec: OrderSpec, limits: EffectiveLimits, notional: Decimal | None
    ) -> None:
        if limits.max_open_orders is not None:
            open_orders = self.exposure.open_count(account_id)
            if open_orders >= limits.max_open_orders:
                raise Denied(
                    DenialCode.MAX_OPEN_ORDERS,
                    f"the account has {open_orders} open orders, its limit is"
                    f" {limits.max_open_orders}",
                    {
                        "open_orders": str(open_orders),
                        "max_open_orders": str(limits.max_open_orders),
                    },
                )
        if limits.order_rate_per_s is not None:
            burst = limits.order_burst or max(1, int(limits.order_rate_per_s))
            wait = self.buckets.take(account_id, limits.order_rate_per_s, burst)
            if wait is not None:
                raise Denied(
                    DenialCode.ORDER_RATE,
                    f"the account's order rate is limited to {limits.order_rate_per_s}/s"
                    f" (burst {burst}); retry in {wait:.2f}s",
                    {"retry_after_s": f"{wait:.3f}"},
                )
        if limits.max_daily_notional is None and limits.max_daily_loss is None:
            return
        traded, realized = await self.usage(account_id, datetime.now(UTC).date())
        if limits.max_daily_loss is not None and -realized >= limits.max_daily_loss:
            raise Denied(
                DenialCode.DAILY_LOSS,
                f"the account's realized loss today ({-realized}) reached its limit"
                f" {limits.max_daily_loss}",
                {"realized": str(realized), "max_daily_loss": str(limits.max_daily_loss)},
            )
        if limits.max_daily_notional is not None:
            if notional is None:
                raise Denied(
                    DenialCode.REFERENCE_STALE,
                    "the order cannot be valued against the daily limit: no live price",
                )
            if traded + notional > limits.max_daily_notional:
                raise Denied(
                    DenialCode.DAILY_NOTIONAL,
                    f"today's traded notional {traded} plus {notional} is above the limit"
                    f" {limits.max_daily_notional}",
                    {"traded": str(traded), "max_daily_notional": str(limits.max_daily_notional)},
                )

    async def _holding(self, account_id: str, exchange: str, asset: str) -> Holding | None:
        try:
            return await asyncio.wait_for(self.balances.holding(account_id, exchange, asset), 10)
        except CredentialRejected as exc:
            raise Denied(
                DenialCode.NO_CREDENTIAL,
                f"the account has no usable key at {exchange}",
                {"exchange": exchange, "reason": str(exc)[:200]},
            ) from None
        except BalanceUnknown as exc:
            raise Denied(
                DenialCode.BALANCE_UNAVAILABLE,
                f"the free {asset} balance at {exchange} cannot be known: {exc}",
                {"asset": asset, "reason": str(exc)[:200]},
            ) from None
        except (TimeoutError, ExchangeError) as exc:
            log.warning(
                "balance check failed", extra={"account_id": account_id, "error": repr(exc)}
            )
            return None

    async def _balance(self, account_id: str, spec: OrderSpec, notional: Decimal | None) -> None:
        base, quote = assets(spec.symbol)
        if spec.side == "sell":
            asset, need = base, spec.quantity  # a quote-sized sale is the venue's to check
        else:
            asset, need = quote, notional
        if need is None:
            return
        holding = await self._holding(account_id, spec.exchange, asset)
        if holding is None:
            raise Denied(
                DenialCode.BALANCE_UNAVAILABLE,
                f"the free {asset} balance at {spec.exchange} cannot be read now",
                {"asset": asset},
            )
        reserved = self.exposure.reserved(account_id, spec.exchange, asset, since=holding.as_of)
        if holding.free - reserved < need:
            raise Denied(
                DenialCode.INSUFFICIENT_BALANCE,
                f"needs {need} {asset}; {holding.free} is free and {reserved} is already"
                " promised to orders the venue had not locked then",
                {
                    "asset": asset,
                    "needed": str(need),
                    "free": str(holding.free),
                    "reserved": str(reserved),
                },
            )
