"""An order's life as data: the one table of allowed transitions (state x event -> state).

Every change of an order goes through ``transition``; nothing else in the service compares
states to decide what may happen. A pair missing from ``TRANSITIONS`` is refused with
``TransitionRefused`` and changes nothing (the caller logs and counts it). The table is the
documentation too: docs/ORDER_MANAGEMENT.md prints it, and a test checks every pair.

Where this differs from nautilus_trader's table (``model/orders/base.pyx``), and why:

- **Events are facts, not target states.** nautilus keys its table by (status, status-as-
  trigger); here an event names what happened (``SEND``, ``CANCEL_LOCAL``, ``V_FILLED``), so
  one target state can be reached for different reasons and the event log says which.
- **A cancel or amend in flight survives fills.** nautilus moves PENDING_CANCEL to
  PARTIALLY_FILLED on a fill and forgets the cancel in flight; here a partial fill keeps
  PENDING_CANCEL / PENDING_AMEND (the fill still counts: filled quantity and the fills table
  change), so a second cancel is never sent for the same request.
- **Never-sent orders cancel locally.** ``CANCEL_LOCAL`` (nothing of the order can be at a
  venue: not sent, held for confirmation, emulated) goes straight to CANCELED; ``CANCEL_REQUESTED``
  (the venue may have it) goes to PENDING_CANCEL. The service picks the event from what it
  knows (was a placement ever claimed?), not from the state alone.
- **Outcome unknown is a state.** SUBMITTED covers "sent, answer not known (or lost)"; it only
  leaves through what the venue says about the client order id — including ``V_NOT_FOUND``
  (proven absent: send again, same client order id) — never by sending blindly.
- **States nautilus lacks:** AWAITING_CONFIRMATION (four-eyes), LOST (the venue does not know an
  order after the documented checks; left again if the venue turns out to know it) and adoption
  (an order found at the venue starts in the venue's state: transitions from ``None``).
- **Resuming after a failed cancel or amend** lands on the working state the order's fills say
  (``RESUME``: PARTIALLY_FILLED with fills, TRIGGERED if its trigger fired, else ACCEPTED),
  where nautilus needs a remembered previous status.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class OrderState(StrEnum):
    PENDING_NEW = "pending_new"  # stored with its outbox row; nothing sent yet
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # held until a second principal confirms
    EMULATED = "emulated"  # held by the platform until its trigger (or its entry) fires
    TRIGGERED = "triggered"  # the trigger fired: works (or is about to) as a market/limit order
    SUBMITTED = "submitted"  # sent; the venue's answer not known yet (or lost in transit)
    ACCEPTED = "accepted"  # the venue has it, working (or waiting for its trigger), nothing filled
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # cancel requested, not confirmed by the venue yet
    PENDING_AMEND = "pending_amend"  # amend (native or cancel-replace) requested, not confirmed
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # refused by the venue
    DENIED = "denied"  # refused by pre-trade risk; never sent
    LOST = "lost"  # the venue did not know it after the documented checks (alerted)

    @property
    def is_final(self) -> bool:
        """No command changes it any more (CANCELED and EXPIRED still count late fills)."""
        return self in FINAL

    @property
    def is_open(self) -> bool:
        """Working or about to: counts against open-order limits and is reconciled."""
        return self not in FINAL and self is not OrderState.LOST


class Event(StrEnum):
    # creation (from no state)
    PLACE = "place"  # risk passed: queued for sending
    DENY = "deny"  # risk refused
    HOLD = "hold"  # large trade: wait for confirmation
    ARM = "arm"  # held for an emulated trigger or a bracket's entry
    # the platform's own steps
    CONFIRM = "confirm"  # confirmed: queued for sending
    RELEASE = "release"  # an armed order goes to the venue as it is (a bracket exit)
    TRIGGER = "trigger"  # an emulated trigger fired
    SEND = "send"  # the outbox row was claimed: the placement leaves now
    EXPIRE = "expire"  # the platform's own deadline (confirmation, an emulated order's GTD)
    CANCEL_LOCAL = "cancel_local"  # cancelled before anything of it could reach a venue
    CANCEL_REQUESTED = "cancel_requested"  # a cancel is queued for the venue
    CANCEL_FAILED = "cancel_failed"  # the venue refused the cancel; the order still works
    AMEND_LOCAL = "amend_local"  # an emulated order changed in place
    AMEND_REQUESTED = "amend_requested"  # a native amend or a cancel-replace is under way
    AMEND_FAILED = "amend_failed"  # the venue refused the amend; the order works unchanged
    DECLARE_LOST = "declare_lost"  # the venue did not know it after the documented checks
    # what the venue says (an answer, a stream update, a fill, a reconcile pass)
    V_ACCEPTED = "venue_accepted"  # open (or waiting for its trigger), nothing filled
    V_TRIGGERED = "venue_triggered"  # a conditional order's trigger fired at the venue
    V_PARTIALLY_FILLED = "venue_partially_filled"  # more filled, not all
    V_FILLED = "venue_filled"
    V_CANCELED = "venue_canceled"
    V_EXPIRED = "venue_expired"
    V_REJECTED = "venue_rejected"
    V_AMENDED = "venue_amended"  # a native amend took effect
    V_NOT_FOUND = "venue_not_found"  # a placement proven never to have reached the venue


class _Resume:
    """Target of a failed cancel or amend: the working state the order's fills say."""

    def __repr__(self) -> str:
        return "RESUME"


RESUME: Final = _Resume()
Target = OrderState | _Resume

S = OrderState
E = Event

FINAL: Final = frozenset({S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.DENIED})

# The venue's word on an order it knows, from any state where it can arrive.
_VENUE_OUTCOMES: Mapping[Event, OrderState] = {
    E.V_ACCEPTED: S.ACCEPTED,
    E.V_TRIGGERED: S.TRIGGERED,
    E.V_PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    E.V_FILLED: S.FILLED,
    E.V_CANCELED: S.CANCELED,
    E.V_EXPIRED: S.EXPIRED,
}

TRANSITIONS: Mapping[tuple[OrderState | None, Event], Target] = {
    # creation; adoption of an order found at the venue starts in the venue's state
    (None, E.PLACE): S.PENDING_NEW,
    (None, E.DENY): S.DENIED,
    (None, E.HOLD): S.AWAITING_CONFIRMATION,
    (None, E.ARM): S.EMULATED,
    **{(None, event): target for event, target in _VENUE_OUTCOMES.items()},
    # waiting for a second principal
    (S.AWAITING_CONFIRMATION, E.CONFIRM): S.PENDING_NEW,
    (S.AWAITING_CONFIRMATION, E.ARM): S.EMULATED,  # confirmed, and emulated: armed now
    (S.AWAITING_CONFIRMATION, E.EXPIRE): S.EXPIRED,
    (S.AWAITING_CONFIRMATION, E.CANCEL_LOCAL): S.CANCELED,
    # held by the platform
    (S.EMULATED, E.TRIGGER): S.TRIGGERED,
    (S.EMULATED, E.RELEASE): S.PENDING_NEW,
    (S.EMULATED, E.AMEND_LOCAL): S.EMULATED,
    (S.EMULATED, E.EXPIRE): S.EXPIRED,
    (S.EMULATED, E.CANCEL_LOCAL): S.CANCELED,
    # queued for sending (a fresh order, or an emulated one whose trigger fired)
    (S.PENDING_NEW, E.SEND): S.SUBMITTED,
    (S.PENDING_NEW, E.CANCEL_LOCAL): S.CANCELED,
    (S.PENDING_NEW, E.ARM): S.EMULATED,  # the venue cannot take it natively after all
    (S.TRIGGERED, E.SEND): S.SUBMITTED,
    (S.TRIGGERED, E.CANCEL_LOCAL): S.CANCELED,
    # sent, answer not known: only the venue's word moves it
    **{(S.SUBMITTED, event): target for event, target in _VENUE_OUTCOMES.items()},
    (S.SUBMITTED, E.V_REJECTED): S.REJECTED,
    (S.SUBMITTED, E.V_NOT_FOUND): S.PENDING_NEW,  # proven absent: send again, same id
    (S.SUBMITTED, E.CANCEL_REQUESTED): S.PENDING_CANCEL,  # sent once the outcome is known
    (S.SUBMITTED, E.DECLARE_LOST): S.LOST,
    # working at the venue
    (S.ACCEPTED, E.V_TRIGGERED): S.TRIGGERED,
    (S.ACCEPTED, E.V_PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.ACCEPTED, E.V_FILLED): S.FILLED,
    (S.ACCEPTED, E.V_CANCELED): S.CANCELED,
    (S.ACCEPTED, E.V_EXPIRED): S.EXPIRED,
    (S.ACCEPTED, E.V_REJECTED): S.REJECTED,  # venues that refuse after acknowledging
    (S.ACCEPTED, E.CANCEL_REQUESTED): S.PENDING_CANCEL,
    (S.ACCEPTED, E.AMEND_REQUESTED): S.PENDING_AMEND,
    (S.ACCEPTED, E.DECLARE_LOST): S.LOST,
    (S.TRIGGERED, E.V_PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.TRIGGERED, E.V_FILLED): S.FILLED,
    (S.TRIGGERED, E.V_CANCELED): S.CANCELED,
    (S.TRIGGERED, E.V_EXPIRED): S.EXPIRED,
    (S.TRIGGERED, E.V_REJECTED): S.REJECTED,
    (S.TRIGGERED, E.CANCEL_REQUESTED): S.PENDING_CANCEL,
    (S.TRIGGERED, E.AMEND_REQUESTED): S.PENDING_AMEND,
    (S.TRIGGERED, E.DECLARE_LOST): S.LOST,
    (S.PARTIALLY_FILLED, E.V_PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.V_FILLED): S.FILLED,
    (S.PARTIALLY_FILLED, E.V_CANCELED): S.CANCELED,
    (S.PARTIALLY_FILLED, E.V_EXPIRED): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUESTED): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, E.AMEND_REQUESTED): S.PENDING_AMEND,
    (S.PARTIALLY_FILLED, E.DECLARE_LOST): S.LOST,
    # a cancel in flight: fills still count, the cancel stays pending
    (S.PENDING_CANCEL, E.V_ACCEPTED): S.PENDING_CANCEL,  # the placement's late answer
    (S.PENDING_CANCEL, E.V_TRIGGERED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.V_PARTIALLY_FILLED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.V_FILLED): S.FILLED,
    (S.PENDING_CANCEL, E.V_CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, E.V_EXPIRED): S.EXPIRED,
    (S.PENDING_CANCEL, E.V_REJECTED): S.REJECTED,  # the placement itself was refused
    (S.PENDING_CANCEL, E.V_NOT_FOUND): S.CANCELED,  # never placed: nothing to cancel
    (S.PENDING_CANCEL, E.CANCEL_FAILED): RESUME,
    (S.PENDING_CANCEL, E.DECLARE_LOST): S.LOST,
    # an amend in flight (a cancel-replace's cancel confirmed is V_CANCELED: the replacement
    # is created in the same transaction)
    (S.PENDING_AMEND, E.V_TRIGGERED): S.PENDING_AMEND,
    (S.PENDING_AMEND, E.V_PARTIALLY_FILLED): S.PENDING_AMEND,
    (S.PENDING_AMEND, E.V_AMENDED): RESUME,
    (S.PENDING_AMEND, E.AMEND_FAILED): RESUME,
    (S.PENDING_AMEND, E.V_FILLED): S.FILLED,
    (S.PENDING_AMEND, E.V_CANCELED): S.CANCELED,
    (S.PENDING_AMEND, E.V_EXPIRED): S.EXPIRED,
    (S.PENDING_AMEND, E.CANCEL_REQUESTED): S.PENDING_CANCEL,  # a cancel overrides the amend
    (S.PENDING_AMEND, E.DECLARE_LOST): S.LOST,
    # closed, but late fills still count (nautilus: "real world possibility")
    (S.CANCELED, E.V_PARTIALLY_FILLED): S.CANCELED,
    (S.CANCELED, E.V_FILLED): S.FILLED,
    (S.EXPIRED, E.V_PARTIALLY_FILLED): S.EXPIRED,
    (S.EXPIRED, E.V_FILLED): S.FILLED,
    # lost, then found after all: the venue's word wins
    **{(S.LOST, event): target for event, target in _VENUE_OUTCOMES.items()},
    (S.LOST, E.V_REJECTED): S.REJECTED,
}


class TransitionRefused(Exception):
    """``event`` is not allowed in ``state``; nothing was changed."""

    def __init__(self, state: OrderState | None, event: Event) -> None:
        where = "a new order" if state is None else f"an order in {state.value}"
        super().__init__(f"{event.value} is not allowed for {where}")
        self.state = state
        self.event = event


def resume_state(*, filled: bool, triggered: bool) -> OrderState:
    """The working state of an order the venue still has, after a cancel or amend failed or a
    native amend took effect."""
    if filled:
        return S.PARTIALLY_FILLED
    return S.TRIGGERED if triggered else S.ACCEPTED


def allowed(state: OrderState | None, event: Event) -> bool:
    return (state, event) in TRANSITIONS


def transition(
    state: OrderState | None, event: Event, *, filled: bool = False, triggered: bool = False
) -> OrderState:
    """The state ``event`` takes an order in ``state`` to; ``TransitionRefused`` if the table
    has no such pair. ``filled`` / ``triggered`` only decide where ``RESUME`` lands."""
    target = TRANSITIONS.get((state, event))
    if target is None:
        raise TransitionRefused(state, event)
    if isinstance(target, _Resume):
        return resume_state(filled=filled, triggered=triggered)
    return target
