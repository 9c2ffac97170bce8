"""A connection's life as data: the states, the events that move it, and the one table of
allowed transitions.

A connection is one exchange credential held by the auth service, linked to a platform
account. Its state is what a user sees next to its balances:

- ``syncing``: just connected (or reconnected after a key rotation); balances are being read.
- ``live``: balances were read and the venue's private stream (where it has one) is up.
- ``degraded``: something failed — the stream dropped, REST answers errors — with the reason;
  the last known balances are still shown, marked with their age.
- ``revoked``: the credential was revoked at the auth service; nothing is synced any more.
  Final: a revoked credential never comes back (auth refuses to rotate it).

Handlers never compare states themselves: they ask ``next_state`` and store what it says, so
every path through the code is one of the table's rows, and the table is tested exhaustively.
A pair that is not in the table is a bug (``InvalidTransition``), except where the table says
the event is ignored (the state is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ConnectionState(StrEnum):
    SYNCING = "syncing"
    LIVE = "live"
    DEGRADED = "degraded"
    REVOKED = "revoked"


class ConnectionEvent(StrEnum):
    CONNECTED = "connected"  # auth.credentials.v1 CREATED / VALIDATED, or restored at start
    SYNCED = "synced"  # balances read over REST and the private stream (if any) subscribed
    FAILED = "failed"  # a stream drop or REST failure, with a reason
    RECOVERED = "recovered"  # the failing part works again
    ROTATED = "rotated"  # auth.credentials.v1 ROTATED: reconnect with the new version
    REVOKED = "revoked"  # auth.credentials.v1 REVOKED, or the venue/auth refuse the key


S, E = ConnectionState, ConnectionEvent

TRANSITIONS: Mapping[tuple[ConnectionState, ConnectionEvent], ConnectionState] = {
    (S.SYNCING, E.CONNECTED): S.SYNCING,
    (S.SYNCING, E.SYNCED): S.LIVE,
    (S.SYNCING, E.FAILED): S.DEGRADED,
    (S.SYNCING, E.RECOVERED): S.SYNCING,  # nothing was live yet: the first sync decides
    (S.SYNCING, E.ROTATED): S.SYNCING,
    (S.SYNCING, E.REVOKED): S.REVOKED,
    (S.LIVE, E.CONNECTED): S.LIVE,  # a re-validation changes nothing that works
    (S.LIVE, E.SYNCED): S.LIVE,
    (S.LIVE, E.FAILED): S.DEGRADED,
    (S.LIVE, E.RECOVERED): S.LIVE,
    (S.LIVE, E.ROTATED): S.SYNCING,
    (S.LIVE, E.REVOKED): S.REVOKED,
    (S.DEGRADED, E.CONNECTED): S.DEGRADED,  # still failing until a sync says otherwise
    (S.DEGRADED, E.SYNCED): S.LIVE,
    (S.DEGRADED, E.FAILED): S.DEGRADED,  # the reason is updated
    (S.DEGRADED, E.RECOVERED): S.LIVE,
    (S.DEGRADED, E.ROTATED): S.SYNCING,
    (S.DEGRADED, E.REVOKED): S.REVOKED,
    (S.REVOKED, E.REVOKED): S.REVOKED,  # a replayed revocation
}

# Events that may arrive for a revoked connection and are dropped without a change: a stream
# or sync task that was still finishing when the revocation came, a replayed lifecycle event.
IGNORED: frozenset[tuple[ConnectionState, ConnectionEvent]] = frozenset(
    (S.REVOKED, e) for e in (E.CONNECTED, E.SYNCED, E.FAILED, E.RECOVERED, E.ROTATED)
)


class InvalidTransition(Exception):
    def __init__(self, state: ConnectionState, event: ConnectionEvent) -> None:
        super().__init__(f"no transition from {state.value} on {event.value}")
        self.state = state
        self.event = event


def next_state(state: ConnectionState, event: ConnectionEvent) -> ConnectionState:
    """The state after ``event``; ``InvalidTransition`` for a pair the table does not have."""
    target = TRANSITIONS.get((state, event))
    if target is not None:
        return target
    if (state, event) in IGNORED:
        return state
    raise InvalidTransition(state, event)


def is_syncing(state: ConnectionState) -> bool:
    """Whether balances and trades are being synced in this state."""
    return state is not ConnectionState.REVOKED
