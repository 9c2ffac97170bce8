"""The connection state machine is its table: every (state, event) pair is either a row, an
ignored pair, or refused."""

from __future__ import annotations

import itertools

import pytest

from eip.account.connections import (
    IGNORED,
    TRANSITIONS,
    ConnectionEvent,
    ConnectionState,
    InvalidTransition,
    next_state,
)

S, E = ConnectionState, ConnectionEvent

EXPECTED = {
    S.SYNCING: {
        E.CONNECTED: S.SYNCING,
        E.SYNCED: S.LIVE,
        E.FAILED: S.DEGRADED,
        E.RECOVERED: S.SYNCING,
        E.ROTATED: S.SYNCING,
        E.REVOKED: S.REVOKED,
    },
    S.LIVE: {
        E.CONNECTED: S.LIVE,
        E.SYNCED: S.LIVE,
        E.FAILED: S.DEGRADED,
        E.RECOVERED: S.LIVE,
        E.ROTATED: S.SYNCING,
        E.REVOKED: S.REVOKED,
    },
    S.DEGRADED: {
        E.CONNECTED: S.DEGRADED,
        E.SYNCED: S.LIVE,
        E.FAILED: S.DEGRADED,
        E.RECOVERED: S.LIVE,
        E.ROTATED: S.SYNCING,
        E.REVOKED: S.REVOKED,
    },
    S.REVOKED: {e: S.REVOKED for e in E},
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, E)))
def test_every_state_and_event_has_exactly_the_expected_outcome(
    state: ConnectionState, event: ConnectionEvent
) -> None:
    assert next_state(state, event) is EXPECTED[state][event]


def test_the_table_and_the_ignored_pairs_cover_every_pair_once() -> None:
    pairs = set(itertools.product(S, E))
    assert set(TRANSITIONS) | IGNORED == pairs
    assert not set(TRANSITIONS) & IGNORED


def test_a_revoked_connection_never_comes_back() -> None:
    for event in E:
        assert next_state(S.REVOKED, event) is S.REVOKED
    assert all(target is S.REVOKED for (src, _), target in TRANSITIONS.items() if src is S.REVOKED)


def test_every_state_is_reachable_from_a_new_connection() -> None:
    seen, frontier = {S.SYNCING}, [S.SYNCING]
    while frontier:
        state = frontier.pop()
        for event in E:
            target = next_state(state, event)
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


def test_a_pair_outside_the_table_is_refused() -> None:
    import eip.account.connections as module

    trimmed = {k: v for k, v in TRANSITIONS.items() if k != (S.LIVE, E.FAILED)}
    original = module.TRANSITIONS
    module.TRANSITIONS = trimmed
    try:
        with pytest.raises(InvalidTransition, match="no transition from live on failed"):
            next_state(S.LIVE, E.FAILED)
    finally:
        module.TRANSITIONS = original
