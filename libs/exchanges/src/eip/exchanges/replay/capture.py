"""Reading a recorded capture (format 2, JSON lines: header/http/connect/send/recv).

Nothing beyond the documented fields is assumed: the header's ``exchange`` and ``config``,
``http`` lines' ``url``/``data``, ``recv`` lines' ``conn``/``ts``/``data``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CaptureError(ValueError):
    """The file is not a format-2 capture."""


@dataclass(frozen=True, slots=True)
class Frame:
    conn: str
    ts: float
    data: str


@dataclass(slots=True)
class Capture:
    exchange: str  # as the header names it: "BINANCE", "OKEX", ...
    config: dict[str, list[str]]
    http: dict[str, str] = field(default_factory=dict)  # url -> body, last one wins
    connections: dict[str, str] = field(default_factory=dict)  # conn -> addr
    frames: list[Frame] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaptureError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise CaptureError(f"{path}:{number}: not a JSON object")
            yield number, item


def read_capture(path: Path) -> Capture:
    capture: Capture | None = None
    for number, item in _lines(path):
        kind = item.get("t")
        if capture is None:
            if kind != "header" or item.get("format") != 2:
                raise CaptureError(f"{path}:{number}: first line must be a format-2 header")
            exchange = item.get("exchange")
            if not isinstance(exchange, str) or not exchange:
                raise CaptureError(f"{path}:{number}: header names no exchange")
            config = item.get("config") or {}
            if not isinstance(config, dict):
                raise CaptureError(f"{path}:{number}: header config is not an object")
            capture = Capture(exchange, {str(k): list(v or []) for k, v in config.items()})
        elif kind == "http":
            capture.http[str(item["url"])] = str(item["data"])
        elif kind == "connect":
            capture.connections[str(item["conn"])] = str(item["addr"])
        elif kind == "recv":
            capture.frames.append(Frame(str(item["conn"]), float(item["ts"]), str(item["data"])))
    if capture is None:
        raise CaptureError(f"{path}: empty file")
    return capture
