"""Rule evaluation in memory: market state from the streams, each rule's condition as a
function of it, and the index that decides which rules a market update can change.

Rules fire on the **edge**: a rule keeps its condition's last truth (``level``: ``None`` until
first observed); a change from false to true fires it, a change back re-arms it, the first
observation only establishes it (a rule created while the price is already above its level
fires at the next crossing, not at once). A rule with a cron condition is *scheduled* instead:
it fires at each instant of its schedule when its other conditions hold then.

The engine only proposes: every change of level it sees is returned as a ``Transition`` with
the level it assumed before, which the runtime applies to PostgreSQL by compare-and-set
(``storage/rules.py``); a refused set means another instance moved the rule first, and the
rule's state is read back. The engine's own copy is updated at once, so one tick is never
evaluated twice into two transitions.

What makes it fast (``bench/automation_rules.py``): a tick only reaches the rules of its
market, and a plain price cross — the most common rule — is kept in a sorted list of levels
per market and price, so a tick moving the price from p0 to p1 looks only at the levels between
them (plus rules whose level is not known yet). Percent moves keep monotonic deques of the
window's extremes, indicators are updated once per closed candle and shared by every rule
that names them.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from eip.automation.indicators import Indicator, make_indicator
from eip.automation.rules.model import (
    AllOf,
    AnyOf,
    BookCondition,
    Condition,
    Cron,
    IndicatorCondition,
    IndicatorSpec,
    PercentMove,
    PriceCross,
    RuleDefinition,
    markets_of,
    schedule_of,
)

MarketKey = tuple[str, str]  # (exchange, symbol)
PriceKind = Literal["last", "bid", "ask", "mid"]
Level = Callable[[], bool | None]
_HUNDRED = Decimal(100)


class BookView(Protocol):
    """The order books as the book follower holds them (``books.py``)."""

    def spread_bps(self, exchange: str, symbol: str) -> Decimal | None: ...

    def imbalance(self, exchange: str, symbol: str, depth: int) -> Decimal | None: ...


class NoBooks:
    def spread_bps(self, exchange: str, symbol: str) -> Decimal | None:
        return None

    def imbalance(self, exchange: str, symbol: str, depth: int) -> Decimal | None:
        return None


class WindowExtremes:
    """Lowest and highest price of the last ``window_s`` seconds (monotonic deques: O(1)
    amortized per price)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._lows: deque[tuple[float, Decimal]] = deque()
        self._highs: deque[tuple[float, Decimal]] = deque()

    def add(self, t: float, price: Decimal) -> None:
        while self._lows and self._lows[-1][1] >= price:
            self._lows.pop()
        self._lows.append((t, price))
        while self._highs and self._highs[-1][1] <= price:
            self._highs.pop()
        self._highs.append((t, price))
        horizon = t - self.window_s
        while self._lows[0][0] < horizon:
            self._lows.popleft()
        while self._highs[0][0] < horizon:
            self._highs.popleft()

    @property
    def low(self) -> Decimal | None:
        return self._lows[0][1] if self._lows else None

    @property
    def high(self) -> Decimal | None:
        return self._highs[0][1] if self._highs else None


@dataclass
class MarketState:
    last: Decimal | None = None
    volume: Decimal = Decimal(0)  # base quantity traded since the instance started
    bid: Decimal | None = None
    ask: Decimal | None = None
    windows: dict[tuple[PriceKind, int], WindowExtremes] = field(default_factory=dict)
    # (timeframe, indicator spec) -> indicator; (timeframe) -> the last closed candle taken
    indicators: dict[tuple[str, IndicatorSpec], Indicator] = field(default_factory=dict)
    candle_open: dict[str, datetime] = field(default_factory=dict)
    # indicators waiting for their history (``RuleEngine.warm``): the live closes meanwhile
    warming: dict[tuple[str, IndicatorSpec], list[tuple[datetime, Decimal]]] = field(
        default_factory=dict
    )

    def price(self, kind: PriceKind) -> Decimal | None:
        if kind == "last":
            return self.last
        if kind == "bid":
            return self.bid
        if kind == "ask":
            return self.ask
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass
class CompiledRule:
    rule_id: str
    version: int
    account_id: str
    definition: RuleDefinition
    level: bool | None
    trigger_seq: int
    last_instant: datetime | None
    last_fired_at: datetime | None
    created_at: datetime
    evaluate: Level = field(repr=False, default=lambda: None)
    schedule: Cron | None = None
    cross: tuple[MarketKey, PriceKind, Decimal] | None = None  # a plain price cross

    @property
    def key(self) -> tuple[str, int]:
        return (self.rule_id, self.version)


@dataclass(frozen=True, slots=True)
class Transition:
    rule: CompiledRule
    previous: bool | None
    level: bool
    fires: bool
    at: datetime  # the market event's time, or the schedule's instant
    trigger: str  # the firing's trigger part: "e<sequence>" for edges, the instant for cron


class RuleEngine:
    def __init__(self, books: BookView | None = None) -> None:
        self.books: BookView = books or NoBooks()
        self.markets: dict[MarketKey, MarketState] = {}
        self.rules: dict[str, CompiledRule] = {}
        self._by_market: dict[MarketKey, set[str]] = {}
        # plain price crosses: (market, price kind) -> sorted [(level, rule id)]
        self._crosses: dict[tuple[MarketKey, PriceKind], list[tuple[Decimal, str]]] = {}
        self._unsettled: dict[tuple[MarketKey, PriceKind], set[str]] = {}
        self._scheduled: set[str] = set()
        self.evaluations = 0  # condition evaluations made (the bench's unit of work)

    # -- rules ----------------------------------------------------------------------------------

    def add(self, rule: CompiledRule) -> None:
        """Start evaluating ``rule`` (replacing a version held before)."""
        self.remove(rule.rule_id)
        condition = rule.definition.condition
        rule.schedule = schedule_of(condition)
        rule.evaluate = self._compile(condition)
        self.rules[rule.rule_id] = rule
        if rule.schedule is not None:
            self._scheduled.add(rule.rule_id)
            return
        if isinstance(condition, PriceCross):
            market = (condition.exchange, condition.symbol)
            self.market(market)
            rule.cross = (market, condition.price, condition.level)
            index = self._crosses.setdefault((market, condition.price), [])
            bisect.insort(index, (condition.level, rule.rule_id))
            # its stored level may be stale (the price moved while nobody watched): look at it
            # on the next price whatever that price is
            self.unsettle(rule)
            return
        for market in markets_of(condition):
            self._by_market.setdefault(market, set()).add(rule.rule_id)

    def remove(self, rule_id: str) -> CompiledRule | None:
        rule = self.rules.pop(rule_id, None)
        if rule is None:
            return None
        self._scheduled.discard(rule_id)
        if rule.cross is not None:
            market, kind, level = rule.cross
            index = self._crosses.get((market, kind), [])
            i = bisect.bisect_left(index, (level, rule_id))
            if i < len(index) and index[i] == (level, rule_id):
                del index[i]
            self._unsettled.get((market, kind), set()).discard(rule_id)
        for ids in self._by_market.values():
            ids.discard(rule_id)
        return rule

    def unsettle(self, rule: CompiledRule) -> None:
        """Look at a plain cross again on the next price of its market, moved or not past its
        level (its level as stored may not be what the market says)."""
        if rule.cross is not None:
            market, kind, _ = rule.cross
            self._unsettled.setdefault((market, kind), set()).add(rule.rule_id)

    def remove_where(self, which: Callable[[CompiledRule], bool]) -> list[CompiledRule]:
        return [r for r in list(self.rules.values()) if which(r) and self.remove(r.rule_id)]

    def market(self, key: MarketKey) -> MarketState:
        state = self.markets.get(key)
        if state is None:
            state = self.markets[key] = MarketState()
        return state

    # -- market events --------------------------------------------------------------------------

    def on_ticker(
        self,
        exchange: str,
        symbol: str,
        at: datetime,
        bid: Decimal | None,
        ask: Decimal | None,
        last: Decimal | None,
    ) -> list[Transition]:
        key = (exchange, symbol)
        state = self.market(key)
        kinds: tuple[PriceKind, ...] = ("bid", "ask", "mid", "last")
        before: dict[PriceKind, Decimal | None] = {k: state.price(k) for k in kinds}
        if bid is not None:
            state.bid = bid
        if ask is not None:
            state.ask = ask
        if last is not None:
            state.last = last
        return self._priced(key, state, at, before)

    def on_trade(
        self,
        exchange: str,
        symbol: str,
        at: datetime,
        price: Decimal,
        amount: Decimal = Decimal(0),
    ) -> list[Transition]:
        key = (exchange, symbol)
        state = self.market(key)
        state.volume += amount
        before: dict[PriceKind, Decimal | None] = {"last": state.last}
        state.last = price
        return self._priced(key, state, at, before)

    def on_candle(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        open_time: datetime,
        close: Decimal,
        at: datetime,
    ) -> list[Transition]:
        """A closed candle: each indicator of its market and timeframe takes it once."""
        key = (exchange, symbol)
        state = self.markets.get(key)
        if state is None:
            return []
        taken = state.candle_open.get(timeframe)
        if taken is not None and open_time <= taken:
            return []  # redelivered, or older than one taken
        state.candle_open[timeframe] = open_time
        for slot, indicator in state.indicators.items():
            if slot[0] != timeframe:
                continue
            waiting = state.warming.get(slot)
            if waiting is not None:
                waiting.append((open_time, close))
            else:
                indicator.update(close)
        return self._evaluate(self._by_market.get(key, ()), at)

    def cold_indicators(self) -> dict[tuple[str, str, str], int]:
        """(exchange, symbol, timeframe) of the indicators waiting for their history, with the
        most closed candles one of them needs."""
        out: dict[tuple[str, str, str], int] = {}
        for (exchange, symbol), state in self.markets.items():
            for timeframe, spec in state.warming:
                key = (exchange, symbol, timeframe)
                out[key] = max(out.get(key, 0), spec.period + 1)
        return out

    def warm(self, history: dict[tuple[str, str, str], list[tuple[datetime, Decimal]]]) -> int:
        """Feed each waiting indicator the closed candles of its market and timeframe that came
        before the first it saw live, then those; no rule is evaluated (history fires nothing).
        Indicators without history start from the live candles. Returns the candles fed."""
        fed = 0
        for (exchange, symbol), state in self.markets.items():
            for slot, live in list(state.warming.items()):
                indicator = state.indicators[slot]
                first_live = live[0][0] if live else None
                for open_time, close in history.get((exchange, symbol, slot[0]), []):
                    if first_live is None or open_time < first_live:
                        indicator.update(close)
                        fed += 1
                for _, close in live:
                    indicator.update(close)
                del state.warming[slot]
        return fed

    def on_book(self, exchange: str, symbol: str, at: datetime) -> list[Transition]:
        return self._evaluate(self._by_market.get((exchange, symbol), ()), at)

    def on_clock(self, now: datetime) -> list[Transition]:
        """Scheduled rules whose next instant has come: the newest due instant fires once (the
        instants missed while no instance ran are not made up for)."""
        out: list[Transition] = []
        for rule_id in list(self._scheduled):
            rule = self.rules[rule_id]
            assert rule.schedule is not None
            since = rule.last_instant or rule.created_at
            due = rule.schedule.next_after(since)
            if due > now:
                continue
            # the newest instant not after now
            while True:
                following = rule.schedule.next_after(due)
                if following > now:
                    break
                due = following
            self.evaluations += 1
            level = rule.evaluate()
            rule.last_instant = due
            out.append(Transition(rule, rule.level, bool(level), bool(level), due, due.isoformat()))
        return out

    # -- evaluation -----------------------------------------------------------------------------

    def _priced(
        self,
        key: MarketKey,
        state: MarketState,
        at: datetime,
        before: dict[PriceKind, Decimal | None],
    ) -> list[Transition]:
        t = at.timestamp()
        for (kind, _), window in state.windows.items():
            price = state.price(kind)
            if price is not None and (kind in before):
                window.add(t, price)
        out: list[Transition] = []
        for kind, old in before.items():
            new = state.price(kind)
            if new is None:
                continue
            index_key = (key, kind)
            # unsettled rules (loaded at a hand-over, their stored level maybe stale) are looked
            # at on the next price even when it did not move: a market flat since the crossing
            # would otherwise hold their firing back until it moves
            candidates: set[str] = self._unsettled.pop(index_key, set())
            index = self._crosses.get(index_key) if new != old else None
            if index:
                if old is None:
                    candidates.update(rule_id for _, rule_id in index)
                else:
                    low, high = min(old, new), max(old, new)
                    i = bisect.bisect_left(index, (low, ""))
                    while i < len(index) and index[i][0] <= high:
                        candidates.add(index[i][1])
                        i += 1
            out += self._evaluate(candidates, at)
        return out + self._evaluate(self._by_market.get(key, ()), at)

    def _evaluate(self, rule_ids: Iterable[str], at: datetime) -> list[Transition]:
        out: list[Transition] = []
        for rule_id in rule_ids:
            rule = self.rules.get(rule_id)
            if rule is None or rule.schedule is not None:
                continue
            self.evaluations += 1
            level = rule.evaluate()
            if level is None or level == rule.level:
                continue
            previous, rule.level = rule.level, level
            fires = previous is False and level
            cooldown = rule.definition.limits.cooldown_s
            if fires and cooldown and rule.last_fired_at is not None:
                fires = (at - rule.last_fired_at).total_seconds() >= cooldown
            out.append(Transition(rule, previous, level, fires, at, f"e{rule.trigger_seq + 1}"))
        return out

    def recheck(self, rule_ids: Iterable[str], at: datetime) -> list[Transition]:
        """These (market) rules against the current state now, without waiting for a price:
        a rule taken back after its firing was turned away (its level reset to the stored
        one) fires in a quiet market too. Scheduled rules are left to ``on_clock``."""
        return self._evaluate(rule_ids, at)

    def evaluate_all(self, at: datetime) -> list[Transition]:
        """Every rule against the current state: the naive baseline of the bench."""
        return self._evaluate(list(self.rules), at)

    # -- compiling conditions -------------------------------------------------------------------

    def _compile(self, condition: Condition) -> Level:
        if isinstance(condition, PriceCross):
            state = self.market((condition.exchange, condition.symbol))
            kind, level, above = condition.price, condition.level, condition.direction == "above"

            def cross() -> bool | None:
                price = state.price(kind)
                if price is None:
                    return None
                return price > level if above else price < level

            return cross
        if isinstance(condition, PercentMove):
            return self._percent_move(condition)
        if isinstance(condition, BookCondition):
            return self._book(condition)
        if isinstance(condition, IndicatorCondition):
            return self._indicator(condition)
        if isinstance(condition, Cron):
            return lambda: True  # the schedule itself decides when; see on_clock
        parts = [self._compile(c) for c in condition.conditions]
        if isinstance(condition, AllOf):

            def all_of() -> bool | None:
                values = [p() for p in parts]
                if any(v is False for v in values):
                    return False
                return None if any(v is None for v in values) else True

            return all_of
        assert isinstance(condition, AnyOf)

        def any_of() -> bool | None:
            values = [p() for p in parts]
            if any(v is True for v in values):
                return True
            return None if any(v is None for v in values) else False

        return any_of

    def _percent_move(self, condition: PercentMove) -> Level:
        state = self.market((condition.exchange, condition.symbol))
        window = state.windows.setdefault(
            (condition.price, condition.window_s), WindowExtremes(condition.window_s)
        )
        kind, percent, direction = condition.price, condition.percent, condition.direction

        def moved() -> bool | None:
            price, low, high = state.price(kind), window.low, window.high
            if price is None or low is None or high is None:
                return None
            # (price - low) / low >= percent / 100, without a division per tick
            up = (price - low) * _HUNDRED >= percent * low
            down = (high - price) * _HUNDRED >= percent * high
            return up if direction == "up" else down if direction == "down" else up or down

        return moved

    def _book(self, condition: BookCondition) -> Level:
        exchange, symbol, threshold = condition.exchange, condition.symbol, condition.threshold
        above, depth, spread = condition.direction == "above", condition.depth, condition.metric

        def book() -> bool | None:
            if spread == "spread_bps":
                value = self.books.spread_bps(exchange, symbol)
            else:
                value = self.books.imbalance(exchange, symbol, depth)
            if value is None:
                return False  # out of sync, stale or unknown: never trusted
            return value > threshold if above else value < threshold

        return book

    def _indicator(self, condition: IndicatorCondition) -> Level:
        state = self.market((condition.exchange, condition.symbol))

        def held(spec: IndicatorSpec) -> Indicator:
            slot = (condition.timeframe, spec)
            indicator = state.indicators.get(slot)
            if indicator is None:
                indicator = state.indicators[slot] = make_indicator(
                    spec.kind, spec.period, spec.width
                )
                state.warming[slot] = []  # until ``warm`` gives it its history
            return indicator

        main = held(condition.indicator)
        other = None if condition.other is None else held(condition.other)
        level, above = condition.level, condition.direction == "above"

        def compare() -> bool | None:
            value = main.value
            reference = level if other is None else other.value
            if value is None or reference is None:
                return None
            return value > reference if above else value < reference

        return compare
