"""The transition table, checked pair by pair: every (state, event) the table allows lands where
it says, every other pair is refused and names both, and the table's shape holds (every state
reachable, no working state without a way out, final states closed but for late fills)."""

from __future__ import annotations

import itertools

import pytest

from eip.order_management.state_machine import (
    FINAL,
    RESUME,
    TRANSITIONS,
    Event,
    OrderState,
    TransitionRefused,
    allowed,
    resume_state,
    transition,
)

SOURCES: list[OrderState | None] = [None, *OrderState]
ALL_PAIRS = list(itertools.product(SOURCES, Event))


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_lands_where_the_table_says_or_is_refused(
    state: OrderState | None, event: Event
) -> None:
    target = TRANSITIONS.get((state, event))
    if target is None:
        with pytest.raises(TransitionRefused) as refused:
            transition(state, event)
        assert refused.value.state is state
        assert refused.value.event is event
        assert event.value in str(refused.value)
        assert not allowed(state, event)
    elif target is RESUME:
        for filled, triggered in itertools.product((False, True), repeat=2):
            landed = transition(state, event, filled=filled, triggered=triggered)
            assert landed is resume_state(filled=filled, triggered=triggered)
    else:
        assert transition(state, event) is target
        # the hints that only steer RESUME never change a concrete target
        assert transition(state, event, filled=True, triggered=True) is target


def test_the_table_has_no_pair_outside_the_states_and_events() -> None:
    assert {pair for pair in TRANSITIONS} <= set(ALL_PAIRS)


def test_resume_lands_on_the_working_state_the_fills_say() -> None:
    assert resume_state(filled=False, triggered=False) is OrderState.ACCEPTED
    assert resume_state(filled=False, triggered=True) is OrderState.TRIGGERED
    assert resume_state(filled=True, triggered=False) is OrderState.PARTIALLY_FILLED
    assert resume_state(filled=True, triggered=True) is OrderState.PARTIALLY_FILLED


def _successors(state: OrderState | None) -> set[OrderState]:
    out: set[OrderState] = set()
    for (source, _event), target in TRANSITIONS.items():
        if source is state:
            if target is RESUME:
                out |= {
                    resume_state(filled=f, triggered=t)
                    for f, t in itertools.product((False, True), repeat=2)
                }
            else:
                assert isinstance(target, OrderState)
                out.add(target)
    return out


def _reachable(start: OrderState | None) -> set[OrderState]:
    seen: set[OrderState] = set()
    frontier = _successors(start)
    while frontier:
        state = frontier.pop()
        if state not in seen:
            seen.add(state)
            frontier |= _successors(state)
    return seen


def test_every_state_is_reachable_from_a_new_order() -> None:
    assert _reachable(None) == set(OrderState)


def test_every_state_can_still_end() -> None:
    for state in OrderState:
        assert state in FINAL or _reachable(state) & FINAL, state


def test_denied_rejected_and_filled_orders_never_change_again() -> None:
    for state in (OrderState.DENIED, OrderState.REJECTED, OrderState.FILLED):
        assert _successors(state) == set(), state


def test_canceled_and_expired_orders_only_count_late_fills() -> None:
    for state in (OrderState.CANCELED, OrderState.EXPIRED):
        events = {event for (source, event) in TRANSITIONS if source is state}
        assert events == {Event.V_PARTIALLY_FILLED, Event.V_FILLED}
        assert transition(state, Event.V_PARTIALLY_FILLED) is state
        assert transition(state, Event.V_FILLED) is OrderState.FILLED


def test_fills_during_a_pending_cancel_or_amend_keep_the_request_pending() -> None:
    for state in (OrderState.PENDING_CANCEL, OrderState.PENDING_AMEND):
        assert transition(state, Event.V_PARTIALLY_FILLED) is state
        assert transition(state, Event.V_FILLED) is OrderState.FILLED


def test_an_order_whose_outcome_is_unknown_moves_only_on_the_venues_word() -> None:
    events = {event for (source, event) in TRANSITIONS if source is OrderState.SUBMITTED}
    platform_steps = {Event.CANCEL_REQUESTED, Event.DECLARE_LOST}
    assert all(e.name.startswith("V_") for e in events - platform_steps)
    assert Event.SEND not in events  # never sent again without the venue's answer
    assert transition(OrderState.SUBMITTED, Event.V_NOT_FOUND) is OrderState.PENDING_NEW


def test_only_orders_nothing_of_which_reached_a_venue_cancel_locally() -> None:
    local = {source for (source, event) in TRANSITIONS if event is Event.CANCEL_LOCAL}
    assert local == {
        OrderState.PENDING_NEW,
        OrderState.AWAITING_CONFIRMATION,
        OrderState.EMULATED,
        OrderState.TRIGGERED,
    }
    assert all(transition(s, Event.CANCEL_LOCAL) is OrderState.CANCELED for s in local)


def test_a_lost_order_found_after_all_takes_the_venues_state() -> None:
    assert transition(OrderState.LOST, Event.V_FILLED) is OrderState.FILLED
    assert transition(OrderState.LOST, Event.V_ACCEPTED) is OrderState.ACCEPTED
    assert not allowed(OrderState.LOST, Event.SEND)


def test_open_and_final_partition_the_states_with_lost_apart() -> None:
    for state in OrderState:
        assert state.is_open != (state.is_final or state is OrderState.LOST), state
