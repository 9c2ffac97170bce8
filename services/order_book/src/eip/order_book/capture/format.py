"""The capture file format of ``shared/data/recorded/README.md``: JSON Lines of header, http,
connect, send and recv entries, ``ts`` in unix seconds, frames kept as the exact text."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

FORMAT_VERSION = 2
KINDS = frozenset({"header", "http", "connect", "send", "recv"})


class CaptureError(ValueError):
    pass


def read_capture(source: Path | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """All entries, validated; ``source`` is a file or already-parsed entries (tests)."""
    entries = list(_parse_file(source)) if isinstance(source, Path) else list(source)
    for number, entry in enumerate(entries, 1):
        kind = entry.get("t")
        if kind not in KINDS:
            raise CaptureError(f"entry {number}: unknown type {kind!r}")
        needed = {
            "header": (),
            "http": ("conn", "ts", "url", "data"),
            "connect": ("conn", "ts", "addr"),
            "send": ("conn", "ts", "data"),
            "recv": ("conn", "ts", "data"),
        }[kind]
        missing = [name for name in needed if name not in entry]
        if missing:
            raise CaptureError(f"entry {number} ({kind}): missing {', '.join(missing)}")
    return entries


def _parse_file(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaptureError(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(entry, dict):
                raise CaptureError(f"{path}:{number}: not an object")
            yield entry


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
