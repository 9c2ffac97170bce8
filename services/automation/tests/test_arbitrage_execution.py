"""Arbitrage execution without infrastructure: the table of allowed transitions, the sizing
within an account's limits, and the unwind rule's arithmetic, all in Decimal."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eip.automation.arbitrage_execution import (
    FINAL_STATES,
    TRANSITIONS,
    AccountConfig,
    Event,
    Plan,
    State,
    TransitionRefused,
    Unwind,
    advance,
    execution_id,
    leg_key,
    legs_event,
    plan,
    unwind_event,
    unwind_of,
)

D = Decimal
STATES: list[State] = list(get_args(State))
EVENTS: list[Event] = list(get_args(Event))
CONFIG = AccountConfig(
    account_id="acct",
    enabled=True,
    exchanges=("binance", "kraken"),
    symbols=("BTC/USDT",),
    max_notional_per_execution=D("100"),
    max_notional_per_day=D("250"),
    min_net_profit_bps=D("10"),
    cooldown_s=0,
    lot=D("0.001"),
)


def test_every_pair_of_state_and_event_is_allowed_by_the_table_or_refused() -> None:
    for state, event in itertools.product(STATES, EVENTS):
        if (state, event) in TRANSITIONS:
            assert advance(state, event) == TRANSITIONS[(state, event)]
        else:
            with pytest.raises(TransitionRefused):
                advance(state, event)


def test_the_table_reaches_every_state_and_the_final_states_are_closed() -> None:
    reached = {"sent"} | set(TRANSITIONS.values())
    assert reached == set(STATES) == {
        "sent", "both_filled", "missed", "unwinding", "unwound", "failed"
    }  # fmt: skip
    assert all(state not in FINAL_STATES for state, _ in TRANSITIONS)
    # every state that is not final can still move
    assert {state for state, _ in TRANSITIONS} == set(STATES) - FINAL_STATES


def test_an_execution_is_sent_then_matched_or_unwound_or_failed() -> None:
    assert advance("sent", "legs_matched") == "both_filled"
    assert advance("sent", "legs_missed") == "missed"
    assert advance(advance("sent", "legs_unequal"), "unwind_filled") == "unwound"
    assert advance(advance("sent", "legs_unequal"), "unwind_failed") == "failed"
    with pytest.raises(TransitionRefused):
        advance("both_filled", "legs_unequal")  # a settled execution never unwinds later


def test_the_execution_id_depends_on_the_opportunity_and_the_account_only() -> None:
    a = execution_id("0b4e8d0c-7c1a-4f55-9d55-6f0a4c2f7e11", "acct-1")
    assert a == execution_id("0b4e8d0c-7c1a-4f55-9d55-6f0a4c2f7e11", "acct-1")
    assert a != execution_id("0b4e8d0c-7c1a-4f55-9d55-6f0a4c2f7e11", "acct-2")
    assert a != execution_id("1b4e8d0c-7c1a-4f55-9d55-6f0a4c2f7e11", "acct-1")
    assert len(leg_key(a, "unwind")) <= 128  # order management's longest key
    assert leg_key(a, "buy") == f"{a}#buy"


def test_the_quantity_is_the_walk_cut_to_the_execution_s_notional_and_the_lot() -> None:
    # 100 USDT at a 1000.5 limit is 0.09995...: down to the lot, 0.099
    got = plan(D("0.5"), D("1000.5"), D("1010"), D("20"), CONFIG, D(0))
    assert got == Plan(D("0.099"), D("1000.5"), D("1010"))
    assert got.notional == D("99.0495")
    # a walk smaller than the limits is taken whole
    assert plan(D("0.05"), D("1000"), D("1010"), D("20"), CONFIG, D(0)) == Plan(
        D("0.050"), D("1000"), D("1010")
    )


def test_the_day_s_notional_left_bounds_the_quantity() -> None:
    got = plan(D("1"), D("1000"), D("1010"), D("20"), CONFIG, D("200"))
    assert isinstance(got, Plan)
    assert got.quantity == D("0.050")  # 50 USDT left of 250
    assert plan(D("1"), D("1000"), D("1010"), D("20"), CONFIG, D("250")) == "max_notional_per_day"


def test_an_opportunity_is_refused_for_the_account_s_reasons() -> None:
    args = (D("1"), D("1000"), D("1010"))
    assert plan(*args, D("9.99"), CONFIG, D(0)) == "below_min_net_profit_bps"
    assert plan(*args, D("20"), dataclasses.replace(CONFIG, enabled=False), D(0)) == "disabled"
    held = dataclasses.replace(CONFIG, held_reason="execution arb:x failed")
    assert plan(*args, D("20"), held, D(0)) == "held"
    assert plan(D("0.0009"), D("1000"), D("1010"), D("20"), CONFIG, D(0)) == "below_lot"


def test_the_account_covers_only_its_symbols_and_both_venues() -> None:
    assert CONFIG.covers("BTC/USDT", "binance", "kraken")
    assert not CONFIG.covers("ETH/USDT", "binance", "kraken")
    assert not CONFIG.covers("BTC/USDT", "binance", "coinbase")


def test_more_bought_than_sold_is_sold_back_on_the_buy_venue() -> None:
    assert unwind_of("binance", "kraken", D("0.05"), D("0.02")) == Unwind(
        "binance", "sell", D("0.03")
    )
    assert unwind_of("binance", "kraken", D("0.05"), D("0")) == Unwind("binance", "sell", D("0.05"))


def test_more_sold_than_bought_is_bought_back_on_the_sell_venue() -> None:
    assert unwind_of("binance", "kraken", D("0"), D("0.05")) == Unwind("kraken", "buy", D("0.05"))
    assert unwind_of("binance", "kraken", D("0.010"), D("0.0125")) == Unwind(
        "kraken", "buy", D("0.0025")
    )


def test_equal_legs_need_no_unwind() -> None:
    assert unwind_of("binance", "kraken", D("0.05"), D("0.050")) is None
    assert legs_event(D("0.05"), D("0.050")) == "legs_matched"
    assert legs_event(D("0"), D("0")) == "legs_missed"
    assert legs_event(D("0.05"), D("0")) == "legs_unequal"


def test_an_unwind_flattens_only_when_it_filled_the_whole_excess() -> None:
    assert unwind_event(D("0.03"), D("0.030")) == "unwind_filled"
    assert unwind_event(D("0.03"), D("0.02")) == "unwind_failed"
    assert unwind_event(D("0.03"), D("0")) == "unwind_failed"


amounts = st.decimals(min_value=0, max_value=1000, places=8, allow_nan=False)


@given(amounts, amounts)
def test_after_the_unwind_the_position_is_flat_on_every_venue_together(
    bought: Decimal, sold: Decimal
) -> None:
    position = {"binance": bought, "kraken": -sold}  # base held per venue after the legs
    unwind = unwind_of("binance", "kraken", bought, sold)
    if unwind is not None:
        assert unwind.quantity > 0
        position[unwind.exchange] += unwind.quantity if unwind.side == "buy" else -unwind.quantity
        # the excess is closed where it is: that venue ends holding what the other sold or
        # bought, never more
        assert abs(position[unwind.exchange]) == min(bought, sold)
    assert sum(position.values()) == 0
