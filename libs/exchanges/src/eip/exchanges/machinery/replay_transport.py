"""A transport that serves a capture instead of the network, for offline replays and tests.

REST: ``get(url)`` answers with the next recorded body for the same path and query (the host
is ignored, so captures taken against a simulator replay too). WebSocket: ``connect`` hands
out recorded connections in order; when the capture holds several, the adapter's first
message picks the one whose recorded subscription looks most like it (a book adapter gets the
book connection, not the trade one). Messages the adapter sends are kept in ``sent``, not
answered. When the frames or bodies run out the transport raises ``TransportExhausted`` and the
feed's ``run`` returns.

Frames are served as recorded: text as ``str``, binary frames (``b64``) as ``bytes``, as the live
transport hands them over. ``last_entry`` names the capture entry served last, so whoever runs a
replay can say which line an adapter stopped at.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eip.exchanges.machinery.capture import frame_payload, iter_entries
from eip.exchanges.machinery.transport import (
    YIELD_EVERY,
    Connection,
    Received,
    TransportExhausted,
)


def _resource(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _leaves(value: Any, prefix: str = "") -> set[tuple[str, str]]:
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in _leaves(v, f"{prefix}.{k}")}
    if isinstance(value, list):
        return {leaf for v in value for leaf in _leaves(v, prefix + "[]")}
    return {(prefix, json.dumps(value))}


def _similarity(a: str, b: str) -> int:
    try:
        return len(_leaves(json.loads(a)) & _leaves(json.loads(b)))
    except json.JSONDecodeError:
        return int(a == b)


Numbered = tuple[int, dict[str, Any]]  # (entry number, entry)


class RecordedConnection:
    def __init__(self, conn: str, addr: str, entries: list[Numbered]) -> None:
        self.conn = conn
        self.addr = addr
        self.sends = [e["data"] for _, e in entries if e["t"] == "send"]
        self.frames = deque(
            (n, Received(frame_payload(e), float(e["ts"]))) for n, e in entries if e["t"] == "recv"
        )


class ReplayConnection:
    def __init__(self, transport: ReplayTransport, url: str) -> None:
        self._transport = transport
        self._url = url
        self.recorded: RecordedConnection | None = None
        self.sent: list[str] = []
        self._reads = 0

    async def send(self, text: str) -> None:
        self.sent.append(text)
        self._transport.sent.append(text)
        if self.recorded is None:
            self.recorded = self._transport.claim(self._url, text)

    async def recv(self) -> Received:
        if self.recorded is None:
            self.recorded = self._transport.claim(self._url, None)
        self._reads += 1
        if self._reads % YIELD_EVERY == 0:
            # let other tasks run, as the live connection does when frames are already
            # buffered; a turn per frame cost as much as handling a Kraken frame
            await asyncio.sleep(0)
        if not self.recorded.frames:
            raise TransportExhausted(f"capture connection {self.recorded.conn} has no more frames")
        self._transport.frames_served += 1
        number, frame = self.recorded.frames.popleft()
        self._transport.last_entry = (number, "recv")
        return frame

    async def close(self) -> None:
        return None


class ReplayTransport:
    def __init__(self, capture: Path | list[dict[str, Any]]) -> None:
        self.header: dict[str, Any] = {}
        self._http: dict[str, deque[tuple[int, Received]]] = defaultdict(deque)
        by_conn: dict[str, list[Numbered]] = defaultdict(list)
        addrs: dict[str, str] = {}
        for number, entry in iter_entries(capture):
            if entry["t"] == "header":
                self.header = entry
            elif entry["t"] == "http":
                self._http[_resource(entry["url"])].append(
                    (number, Received(entry["data"], float(entry["ts"])))
                )
            elif entry["t"] == "connect":
                addrs[entry["conn"]] = entry["addr"]
                by_conn[entry["conn"]]  # keeps the order of connect lines
            elif entry["t"] in ("send", "recv"):
                by_conn[entry["conn"]].append((number, entry))
        self._unclaimed = [
            RecordedConnection(conn, addrs.get(conn, ""), items) for conn, items in by_conn.items()
        ]
        self.sent: list[str] = []
        self.frames_served = 0
        self.connects = 0
        self.last_entry: tuple[int, str] | None = None  # (number, kind) served last

    async def connect(self, url: str) -> Connection:
        if not self._unclaimed:
            raise TransportExhausted("no more recorded connections")
        self.connects += 1
        return ReplayConnection(self, url)

    def claim(self, url: str, first_message: str | None) -> RecordedConnection:
        host = urlsplit(url).hostname
        candidates = [c for c in self._unclaimed if urlsplit(c.addr).hostname == host]
        candidates = candidates or self._unclaimed
        if not candidates:
            raise TransportExhausted("no more recorded connections")
        chosen = candidates[0]
        if first_message is not None:
            # max() keeps the first of equals, so an unrelated message picks the recorded order.
            chosen = max(
                candidates,
                key=lambda c: max((_similarity(first_message, s) for s in c.sends), default=0),
            )
        self._unclaimed.remove(chosen)
        return chosen

    async def get(self, url: str) -> Received:
        queue = self._http.get(_resource(url))
        if not queue:
            raise TransportExhausted(f"no recorded response left for {_resource(url)}")
        number, response = queue.popleft()
        self.last_entry = (number, "http")
        return response

    async def aclose(self) -> None:
        return None
