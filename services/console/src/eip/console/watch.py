"""Desyncs and resyncs of the order books, as the console sees them happen.

The order-book service reports each book's state now (``GET /v1/books``: in sync or not, the
reason, counters) but keeps no list of past episodes over HTTP. Whenever a page of the console
reads that state, ``BookWatch`` compares it with the previous reading and records each book
that went out of sync (with the reason) or came back (a new epoch), so the book and platform
screens can list them. It remembers only what happened while some page was watching, and the
service's counters (``desyncs``, ``snapshots``) are shown beside it for the whole story.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Transition:
    at: float
    exchange: str
    symbol: str
    kind: str  # "desync" or "resync"
    reason: str | None
    detail: str
    epoch: int


class BookWatch:
    def __init__(self, keep: int = 200) -> None:
        self._state: dict[tuple[str, str], tuple[bool, int]] = {}
        self.transitions: deque[Transition] = deque(maxlen=keep)

    def observe(self, books: list[dict[str, Any]]) -> None:
        now = time.time()
        for book in books:
            key = (str(book["exchange"]), str(book["symbol"]))
            in_sync, epoch = bool(book["in_sync"]), int(book.get("epoch") or 0)
            before = self._state.get(key)
            self._state[key] = (in_sync, epoch)
            if before is None:
                continue
            was_in_sync, old_epoch = before
            if was_in_sync and not in_sync:
                kind = "desync"
            elif not was_in_sync and in_sync:
                kind = "resync"
            elif in_sync and epoch != old_epoch:
                # out and back in between two readings: both happened
                self.transitions.appendleft(
                    Transition(
                        now, key[0], key[1], "desync", "missed", "between readings", old_epoch
                    )
                )
                kind = "resync"
            else:
                continue
            self.transitions.appendleft(
                Transition(
                    now,
                    key[0],
                    key[1],
                    kind,
                    book.get("desync_reason"),
                    str(book.get("desync_detail") or ""),
                    epoch,
                )
            )

    def recent(self, exchange: str | None = None, symbol: str | None = None) -> list[Transition]:
        return [
            t
            for t in self.transitions
            if (exchange is None or t.exchange == exchange)
            and (symbol is None or t.symbol == symbol)
        ]
