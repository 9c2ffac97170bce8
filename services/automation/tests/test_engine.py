"""The rule engine without infrastructure: edges, the price index, windows, indicators, books,
schedules and combinations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from eip.automation.rules.engine import CompiledRule, RuleEngine, Transition
from eip.automation.rules.model import RuleDefinition

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ALERT = {"type": "alert", "message": "x"}


def rule(condition: dict[str, Any], rule_id: str = "r1", **limits: Any) -> CompiledRule:
    definition = RuleDefinition.model_validate(
        {"name": rule_id, "condition": condition, "action": ALERT, "limits": limits}
    )
    return CompiledRule(rule_id, 1, "acct", definition, None, 0, None, None, T0)


def cross(level: str, direction: str = "above", price: str = "last") -> dict[str, Any]:
    return {
        "type": "price_cross",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "price": price,
        "direction": direction,
        "level": level,
    }


def trade(engine: RuleEngine, price: str, seconds: float = 0) -> list[Transition]:
    return engine.on_trade("binance", "BTC/USDT", T0 + timedelta(seconds=seconds), Decimal(price))


def test_a_cross_fires_on_the_edge_not_on_the_first_observation() -> None:
    engine = RuleEngine()
    engine.add(rule(cross("100")))
    first = trade(engine, "101")  # already above when first seen: establishes, no firing
    assert [(t.previous, t.level, t.fires) for t in first] == [(None, True, False)]
    assert trade(engine, "102") == []
    down = trade(engine, "99")
    assert [(t.level, t.fires) for t in down] == [(False, False)]  # re-armed
    up = trade(engine, "100.5")
    assert [(t.previous, t.level, t.fires, t.trigger) for t in up] == [(False, True, True, "e1")]


def test_a_tick_only_evaluates_the_crosses_whose_level_it_passed() -> None:
    engine = RuleEngine()
    for i in range(1000):
        engine.add(rule(cross(str(1000 + i)), f"r{i:04d}"))
    trade(engine, "999")  # first price: every cross establishes its level
    engine.evaluations = 0
    fired = trade(engine, "1004.5")
    assert sorted(t.rule.rule_id for t in fired) == [f"r{i:04d}" for i in range(5)]
    assert all(t.fires for t in fired)
    assert engine.evaluations == 5
    engine.evaluations = 0
    assert trade(engine, "1004.7") == []
    assert engine.evaluations == 0


def test_a_stored_level_is_checked_against_the_first_price_after_loading() -> None:
    engine = RuleEngine()
    loaded = rule(cross("100"))
    loaded.level = False  # stored: below; the price moved above while nobody watched
    engine.add(loaded)
    fired = trade(engine, "150")
    assert [(t.previous, t.fires) for t in fired] == [(False, True)]


def test_a_rule_taken_over_after_the_crossing_fires_on_the_next_price_even_unmoved() -> None:
    engine = RuleEngine()
    trade(engine, "99")
    trade(engine, "150")  # the crossing, seen while another instance held the rule
    loaded = rule(cross("100"))
    loaded.level = False  # as that instance stored it before it died
    engine.add(loaded)
    fired = trade(engine, "150")  # the market has not moved since
    assert [(t.previous, t.fires) for t in fired] == [(False, True)]
    assert trade(engine, "150") == []  # looked at once, then only crossings count


def test_mid_bid_and_ask_crosses_follow_the_ticker() -> None:
    engine = RuleEngine()
    engine.add(rule(cross("100", price="mid"), "mid"))
    engine.add(rule(cross("99", direction="below", price="bid"), "bid"))
    engine.on_ticker("binance", "BTC/USDT", T0, Decimal(99), Decimal(100), None)
    out = engine.on_ticker("binance", "BTC/USDT", T0, Decimal(100), Decimal(101), None)
    assert [(t.rule.rule_id, t.fires) for t in out] == [("mid", True)]
    out = engine.on_ticker("binance", "BTC/USDT", T0, Decimal("98.5"), Decimal(101), None)
    # 98.5 < 99: the bid rule fires; the mid (99.75) fell back under 100: re-armed
    assert [(t.rule.rule_id, t.level, t.fires) for t in out] == [
        ("bid", True, True),
        ("mid", False, False),
    ]


def test_a_percent_move_within_the_window_fires_and_old_prices_leave_it() -> None:
    engine = RuleEngine()
    move = {
        "type": "percent_move",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "window_s": 60,
        "percent": "5",
        "direction": "up",
    }
    engine.add(rule(move))
    trade(engine, "100", 0)
    trade(engine, "103", 10)
    fired = trade(engine, "105", 20)
    assert [t.fires for t in fired] == [True]
    # 100 leaves the window at 60 s: the low is 103 now, 105.5 is +2.4 % over it
    out = trade(engine, "105.5", 61)
    assert [(t.level, t.fires) for t in out] == [(False, False)]


class Books:
    def __init__(self) -> None:
        self.spread: Decimal | None = Decimal(5)

    def spread_bps(self, exchange: str, symbol: str) -> Decimal | None:
        return self.spread

    def imbalance(self, exchange: str, symbol: str, depth: int) -> Decimal | None:
        return Decimal("0.5")


def test_a_book_condition_reads_the_books_and_an_unusable_book_is_false() -> None:
    books = Books()
    engine = RuleEngine(books)
    engine.add(
        rule(
            {
                "type": "book",
                "exchange": "binance",
                "symbol": "BTC/USDT",
                "metric": "spread_bps",
                "direction": "above",
                "threshold": "10",
            }
        )
    )
    assert [t.level for t in engine.on_book("binance", "BTC/USDT", T0)] == [False]
    books.spread = Decimal(12)
    assert [t.fires for t in engine.on_book("binance", "BTC/USDT", T0)] == [True]
    books.spread = None  # out of sync or stale
    assert [t.level for t in engine.on_book("binance", "BTC/USDT", T0)] == [False]


def test_an_sma_cross_of_an_ema_fires_on_closed_candles_only_once_each() -> None:
    engine = RuleEngine()
    engine.add(
        rule(
            {
                "type": "indicator",
                "exchange": "binance",
                "symbol": "BTC/USDT",
                "timeframe": "1m",
                "indicator": {"kind": "ema", "period": 2},
                "direction": "above",
                "other": {"kind": "sma", "period": 3},
            }
        )
    )
    assert engine.warm({}) == 0  # no history: it starts from the live candles
    fired: list[Transition] = []
    for i, close in enumerate(["10", "9", "8", "7", "9", "12"]):
        open_time = T0 + timedelta(minutes=i)
        for _ in range(2):  # a redelivered candle changes nothing
            fired += engine.on_candle(
                "binance", "BTC/USDT", "1m", open_time, Decimal(close), open_time
            )
    assert [(t.level, t.fires) for t in fired] == [(False, False), (True, True)]


def test_all_and_any_combine_levels_and_wait_for_every_part() -> None:
    engine = RuleEngine()
    engine.add(rule({"type": "all", "conditions": [cross("100"), cross("50", price="bid")]}))
    assert trade(engine, "101") == []  # the bid is not known yet: no level
    engine.on_ticker("binance", "BTC/USDT", T0, Decimal(40), None, None)
    out = engine.on_ticker("binance", "BTC/USDT", T0, Decimal(60), None, None)
    assert [(t.previous, t.level, t.fires) for t in out] == [(False, True, True)]
    any_engine = RuleEngine()
    any_engine.add(rule({"type": "any", "conditions": [cross("100"), cross("200")]}))
    assert [t.level for t in trade(any_engine, "150")] == [True]


def test_a_cron_rule_fires_the_newest_due_instant_once_in_its_time_zone() -> None:
    engine = RuleEngine()
    scheduled = rule({"type": "cron", "expression": "0 9 * * *", "timezone": "Europe/Paris"})
    engine.add(scheduled)
    assert engine.on_clock(datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) == []
    # 08:00 UTC is 09:00 in Paris in December; two days later only the newest instant fires
    out = engine.on_clock(datetime(2026, 12, 9, 8, 0, 30, tzinfo=UTC))
    assert [(t.fires, t.at.astimezone(UTC)) for t in out] == [
        (True, datetime(2026, 12, 9, 8, 0, tzinfo=UTC))
    ]
    assert out[0].trigger == "2026-12-09T09:00:00+01:00"
    assert engine.on_clock(datetime(2026, 12, 9, 8, 5, tzinfo=UTC)) == []


def test_a_cron_rule_inside_all_fires_only_when_the_rest_holds() -> None:
    engine = RuleEngine()
    engine.add(
        rule(
            {
                "type": "all",
                "conditions": [{"type": "cron", "expression": "*/5 * * * *"}, cross("100")],
            }
        )
    )
    trade(engine, "90")
    out = engine.on_clock(T0 + timedelta(minutes=5))
    assert [t.fires for t in out] == [False]
    trade(engine, "110")
    assert [t.fires for t in engine.on_clock(T0 + timedelta(minutes=10))] == [True]


def test_the_cooldown_holds_a_second_edge_back() -> None:
    engine = RuleEngine()
    r = rule(cross("100"), cooldown_s=60)
    engine.add(r)
    trade(engine, "99", 0)
    assert [t.fires for t in trade(engine, "101", 1)] == [True]
    r.last_fired_at = T0 + timedelta(seconds=1)  # what storing the firing sets
    trade(engine, "99", 2)
    assert [t.fires for t in trade(engine, "101", 30)] == [False]
    trade(engine, "99", 31)
    assert [t.fires for t in trade(engine, "101", 62)] == [True]


def test_removing_a_rule_takes_it_out_of_every_index() -> None:
    engine = RuleEngine()
    engine.add(rule(cross("100"), "a"))
    engine.add(rule({"type": "any", "conditions": [cross("100")]}, "b"))
    engine.remove("a")
    engine.remove("b")
    trade(engine, "90")
    assert trade(engine, "110") == []
    assert engine.rules == {}


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"type": "any", "conditions": [{"type": "cron", "expression": "* * * * *"}]}, "cron"),
        ({"type": "cron", "expression": "61 * * * *"}, "cron expression"),
        ({"type": "cron", "expression": "* * * * *", "timezone": "Mars/Base"}, "time zone"),
        ({**cross("100"), "level": "-1"}, "greater than 0"),
        ({**cross("100"), "symbol": "btcusdt"}, "pattern"),
    ],
)
def test_a_definition_that_cannot_be_evaluated_is_refused(
    condition: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        RuleDefinition.model_validate({"name": "x", "condition": condition, "action": ALERT})


def test_an_order_action_must_be_priced_as_its_type_needs() -> None:
    base = {"type": "place_order", "exchange": "binance", "symbol": "BTC/USDT", "side": "buy"}
    ok = {**base, "order_type": "limit", "quantity": "1", "price": "100"}
    RuleDefinition.model_validate({"name": "x", "condition": cross("1"), "action": ok})
    for bad in (
        {**base, "order_type": "limit", "quantity": "1"},
        {**base, "order_type": "market", "quantity": "1", "quote_quantity": "5"},
        {**base, "order_type": "limit", "quote_quantity": "5", "price": "1"},
        {**base, "order_type": "market", "quantity": "1", "stop_price": "3"},
    ):
        with pytest.raises(ValidationError):
            RuleDefinition.model_validate({"name": "x", "condition": cross("1"), "action": bad})


def test_a_new_indicator_takes_its_history_before_the_live_candles_it_saw_meanwhile() -> None:
    engine = RuleEngine()
    condition = {
        "type": "indicator",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1m",
        "indicator": {"kind": "sma", "period": 3},
        "direction": "above",
        "level": "10",
    }
    engine.add(rule(condition))
    assert engine.cold_indicators() == {("binance", "BTC/USDT", "1m"): 4}

    def minute(i: int) -> datetime:
        return T0 + timedelta(minutes=i)

    # a live candle arrives while the history is being read: kept, nothing evaluated yet
    assert engine.on_candle("binance", "BTC/USDT", "1m", minute(3), Decimal(12), minute(4)) == []
    history = {
        ("binance", "BTC/USDT", "1m"): [
            (minute(0), Decimal(8)),
            (minute(1), Decimal(9)),
            (minute(2), Decimal(11)),
            (minute(3), Decimal(12)),  # the live one, also read back: taken once
        ],
    }
    assert engine.warm(history) == 3
    assert engine.cold_indicators() == {}
    # SMA(3) of 9, 11, 12 = 10.67 > 10: the next live candle sees a defined value at once
    out = engine.on_candle("binance", "BTC/USDT", "1m", minute(4), Decimal(13), minute(5))
    assert [(t.level, t.fires) for t in out] == [(True, False)]  # first observation


def test_a_cross_whose_firing_was_not_stored_is_proposed_again_at_the_next_price() -> None:
    engine = RuleEngine()
    r = rule(cross("100"))
    engine.add(r)
    trade(engine, "99")
    (lost,) = trade(engine, "101")
    assert lost.fires
    r.level = lost.previous  # what the runtime does when PostgreSQL refused the transaction
    engine.unsettle(r)
    (again,) = trade(engine, "101.5")  # not past the level: found through the unsettled set
    assert (again.previous, again.fires, again.trigger) == (False, True, "e1")
