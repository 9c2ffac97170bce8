"""Small hand-made captures for unit tests (same format as the recorded ones)."""

from __future__ import annotations

import json
from typing import Any

from eip.exchanges.machinery.capture import recv_entry


def capture(
    exchange: str,
    http: dict[str, Any],
    frames: list[Any],
    addr: str,
    start: float = 1_700_000_000.0,
    step: float = 0.1,
) -> list[dict[str, Any]]:
    """Header, one http line per url, then ``frames`` on one connection ``step`` s apart.

    A frame is a JSON-able message, text, or ``bytes`` (a binary frame, kept as ``b64``), or
    ``(frame, ts)`` to place it at an exact time.
    """
    conn = f"{exchange.upper()}.ws.1"
    entries: list[dict[str, Any]] = [
        {"t": "header", "format": 2, "exchange": exchange.upper(), "config": {}, "recorded": start}
    ]
    for url, body in http.items():
        data = body if isinstance(body, str) else json.dumps(body)
        entries.append({"t": "http", "conn": "X.http.0", "ts": start, "url": url, "data": data})
    entries.append({"t": "connect", "conn": conn, "ts": start, "addr": addr})
    ts = start
    for frame in frames:
        if isinstance(frame, tuple):
            message, ts = frame
        else:
            message, ts = frame, ts + step
        payload = message if isinstance(message, str | bytes) else json.dumps(message)
        entries.append(recv_entry(conn, ts, payload))
    return entries
