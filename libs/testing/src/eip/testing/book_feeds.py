"""Shared by the feed tests: run a feed to the end of a replay and keep what it emitted."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from eip.exchanges.contract.book_events import BookDelta, BookDesync, BookEvent, BookSnapshot
from eip.exchanges.machinery.book_capture import replay_file
from eip.exchanges.machinery.capture import read_entries
from eip.exchanges.machinery.ws_book_feed import WsBookFeed
from eip.testing.recorded import find_recorded

BINANCE_CAPTURE = find_recorded("binance-spot-2021-10.jsonl")
KRAKEN_CAPTURE = find_recorded("kraken-ws1-2021-04.jsonl")


def load(path: Path) -> list[dict[str, Any]]:
    return read_entries(path)


class Events:
    def __init__(self) -> None:
        self.items: list[BookEvent] = []

    async def __call__(self, event: BookEvent) -> None:
        self.items.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]

    @property
    def snapshots(self) -> list[BookSnapshot]:
        return self.of(BookSnapshot)

    @property
    def deltas(self) -> list[BookDelta]:
        return self.of(BookDelta)

    @property
    def desyncs(self) -> list[BookDesync]:
        return self.of(BookDesync)


async def replay(feed: WsBookFeed) -> Events:
    events = Events()
    await feed.run(events)
    return events


def side(levels: list[tuple[Decimal, Decimal]]) -> dict[Decimal, Decimal]:
    return dict(levels)


def write_capture(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path


async def replay_command(path: Path) -> tuple[int, str]:
    """The replay command's exit status and summary (stderr) for a capture file."""
    err = io.StringIO()
    return await replay_file(path, None, err), err.getvalue()
