"""The capture file format of ``shared/data/recorded/README.md`` (format 2): JSON Lines of
header, http, connect, send and recv entries, ``ts`` in unix seconds, frames kept as the exact
text. The one reader and writer of captures, for the market-data replay and the order-book
record/replay alike.

Nothing beyond the documented fields is assumed: the header's ``exchange`` and ``config``,
``http`` lines' ``url``/``data``, ``send``/``recv`` lines' ``conn``/``ts``/``data``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT_VERSION = 2
_REQUIRED: dict[str, tuple[str, ...]] = {
    "header": (),
    "http": ("conn", "ts", "url", "data"),
    "connect": ("conn", "ts", "addr"),
    "send": ("conn", "ts", "data"),
    "recv": ("conn", "ts", "data"),
}


class CaptureError(ValueError):
    """The file is not a format-2 capture."""


def read_entries(source: Path | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry in file order, each checked for its kind and required fields; ``source`` is
    a file or already-parsed entries (tests)."""
    entries = list(_parse_file(source)) if isinstance(source, Path) else list(source)
    for number, entry in enumerate(entries, 1):
        kind = entry.get("t")
        needed = _REQUIRED.get(kind) if isinstance(kind, str) else None
        if needed is None:
            raise CaptureError(f"entry {number}: unknown type {kind!r}")
        missing = [name for name in needed if name not in entry]
        if missing:
            raise CaptureError(f"entry {number} ({kind}): missing {', '.join(missing)}")
    return entries


def recorded_json(entries: Iterable[dict[str, Any]], kind: str) -> Iterator[tuple[str, Any]]:
    """``(url, parsed body)`` of every ``kind`` entry whose data is JSON (``url`` is "" for
    frames); entries that are not JSON are passed over, as a venue's text pings are."""
    for entry in entries:
        if entry["t"] != kind:
            continue
        try:
            yield str(entry.get("url", "")), json.loads(entry["data"])
        except json.JSONDecodeError:
            continue


def _parse_file(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaptureError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(entry, dict):
                raise CaptureError(f"{path}:{number}: not a JSON object")
            yield entry


@dataclass(frozen=True, slots=True)
class Frame:
    conn: str
    ts: float
    data: str


@dataclass(slots=True)
class Capture:
    """A capture as the market-data replay reads it: header, REST bodies and received frames."""

    exchange: str  # as the header names it: "BINANCE", "OKEX", ...
    config: dict[str, list[str]]
    http: dict[str, str] = field(default_factory=dict)  # url -> body, last one wins
    connections: dict[str, str] = field(default_factory=dict)  # conn -> addr
    frames: list[Frame] = field(default_factory=list)


def read_capture(path: Path) -> Capture:
    """A whole capture whose first line is a format-2 header."""
    entries = read_entries(path)
    if not entries:
        raise CaptureError(f"{path}: empty file")
    header = entries[0]
    if header.get("t") != "header" or header.get("format") != FORMAT_VERSION:
        raise CaptureError(f"{path}:1: first line must be a format-2 header")
    exchange = header.get("exchange")
    if not isinstance(exchange, str) or not exchange:
        raise CaptureError(f"{path}:1: header names no exchange")
    config = header.get("config") or {}
    if not isinstance(config, dict):
        raise CaptureError(f"{path}:1: header config is not an object")
    capture = Capture(exchange, {str(k): list(v or []) for k, v in config.items()})
    for entry in entries[1:]:
        kind = entry["t"]
        if kind == "http":
            capture.http[str(entry["url"])] = str(entry["data"])
        elif kind == "connect":
            capture.connections[str(entry["conn"])] = str(entry["addr"])
        elif kind == "recv":
            capture.frames.append(Frame(str(entry["conn"]), float(entry["ts"]), str(entry["data"])))
    return capture


class CaptureWriter:
    """Appends entries as they happen; each line is flushed so a killed recorder keeps them."""

    def __init__(self, out: IO[str], exchange: str, config: dict[str, Any]) -> None:
        self._out = out
        self.write(
            {
                "t": "header",
                "format": FORMAT_VERSION,
                "exchange": exchange.upper(),
                "config": config,
                "recorded": time.time(),
            }
        )

    def write(self, entry: dict[str, Any]) -> None:
        self._out.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._out.flush()
