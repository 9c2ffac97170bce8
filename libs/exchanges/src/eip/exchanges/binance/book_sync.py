"""Binance's rule for keeping a local book on its diff stream, as a small state machine.

From Binance's "How to manage a local order book correctly" (the rule ccxt also applies):
after loading a REST snapshot with ``lastUpdateId``, drop every event with
``u <= lastUpdateId``; the first event applied must have ``U <= lastUpdateId + 1 <= u``; every
later event must have ``U == previous u + 1``. Anything else is a gap: the book is rebuilt from
a new snapshot. An event wholly at or below the current id (a repeat) is ignored. If the first
event after the snapshot already starts past ``lastUpdateId + 1`` the snapshot is older than the
stream, which Binance says to answer with a new snapshot — the same action as a gap.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    APPLY = "apply"
    SKIP = "skip"  # already contained in the book
    GAP = "gap"


class DepthSync:
    def __init__(self, last_update_id: int) -> None:
        self.last_update_id = last_update_id
        self.first_applied = False

    def check(self, first_id: int, last_id: int) -> Verdict:
        """Judge an event ``U=first_id, u=last_id``; on APPLY the caller applies it."""
        if first_id > last_id:
            return Verdict.GAP  # malformed range: cannot be placed in the sequence
        if last_id <= self.last_update_id:
            return Verdict.SKIP
        expected = self.last_update_id + 1
        ok = first_id == expected if self.first_applied else first_id <= expected <= last_id
        if not ok:
            return Verdict.GAP
        self.first_applied = True
        self.last_update_id = last_id
        return Verdict.APPLY
