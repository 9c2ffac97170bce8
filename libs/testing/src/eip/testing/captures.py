"""Corrupt captures for the fuzz tests of every reader of the capture format.

``corrupt_captures(entries)`` starts from a valid capture (its entries) and breaks it the ways
real files break: a truncated or non-JSON line, a missing or mistyped field, bad base64, a
binary frame that is not gzip, an unknown ``t``, no header or a second one, an empty file, a
huge line, stray bytes, a cut zstd stream. Each example says whether the damage breaks the
format itself (``refused``: every reader must refuse it, exit status 2) or may leave a
readable capture whose frames an adapter has to cope with.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard
from hypothesis import strategies as st

from eip.exchanges.machinery.capture import REQUIRED_FIELDS


@dataclass(frozen=True)
class Corrupted:
    data: bytes  # the file's bytes
    refused: bool  # the format itself is broken: a reader must refuse it
    how: str  # what was done, for the failure message

    def write(self, folder: Path, name: str = "capture") -> Path:
        compressed = self.how.startswith("zst")
        path = folder / (f"{name}.jsonl.zst" if compressed else f"{name}.jsonl")
        path.write_bytes(self.data)
        return path


def _dump(entries: list[Any]) -> list[str]:
    return [e if isinstance(e, str) else json.dumps(e) for e in entries]


def _join(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


WRONG_VALUES: list[Any] = [None, 7, "7", [], {}, True, 1.5, "x" * 3]


@st.composite
def corrupt_captures(draw: st.DrawFn, entries: list[dict[str, Any]]) -> Corrupted:
    lines = _dump(entries)
    index = draw(st.integers(0, len(entries) - 1))
    entry = dict(entries[index])
    kind = draw(
        st.sampled_from(
            [
                "truncate",
                "not json",
                "not an object",
                "drop field",
                "wrong type",
                "bad base64",
                "b64 not gzip",
                "unknown t",
                "no header",
                "second header",
                "empty",
                "huge line",
                "stray bytes",
                "frame text",
                "zst",
                "zst cut",
            ]
        )
    )
    refused = True
    if kind == "truncate":
        line = lines[index]
        cut = draw(st.integers(1, max(1, len(line) - 1)))
        lines[index] = line[:cut]
        refused = True  # a JSON object cut short is never JSON
    elif kind == "not json":
        lines[index] = draw(st.sampled_from(["{", "nope", "{'t': 'recv'}", "[1,", '"t"']))
    elif kind == "not an object":
        lines[index] = draw(st.sampled_from(["[]", "1", '"recv"', "null", "true"]))
    elif kind == "drop field":
        field = draw(st.sampled_from(sorted(entry)))
        del entry[field]
        lines[index] = json.dumps(entry)
        refused = field in _required(entries[index])
    elif kind == "wrong type":
        field = draw(st.sampled_from(sorted(entry)))
        value = draw(st.sampled_from(WRONG_VALUES))
        entry[field] = value
        lines[index] = json.dumps(entry)
        refused = not _still_valid(entries[index], field, value)
    elif kind == "bad base64":
        lines.insert(index + 1, json.dumps({"t": "recv", "conn": "x", "ts": 1.0, "b64": "@@"}))
    elif kind == "b64 not gzip":
        raw = draw(st.sampled_from([b"\x1f\x8b\x08 cut", b"\xff\xfe\x00", b"\x8b\x00 not text"]))
        frame = {"t": "recv", "conn": _conn(entries), "ts": _ts(entries), "b64": _b64(raw)}
        lines.append(json.dumps(frame))
        refused = False  # a readable line; the frame inside is what cannot be read
    elif kind == "unknown t":
        entry["t"] = draw(st.sampled_from(["ping", "RECV", "", "close"]))
        lines[index] = json.dumps(entry)
    elif kind == "no header":
        lines.pop(0)
    elif kind == "second header":
        lines.insert(draw(st.integers(1, len(lines))), lines[0])
    elif kind == "empty":
        lines = draw(st.sampled_from([[], [""], ["", "  "]]))
    elif kind == "huge line":
        frame = {"t": "recv", "conn": _conn(entries), "ts": _ts(entries), "data": "x" * 300_000}
        lines.append(json.dumps(frame))
        refused = False  # a readable line holding a frame no venue sends
    elif kind == "stray bytes":
        stray = draw(st.binary(min_size=1, max_size=40))
        data = _join(lines[:index]) + stray + b"\n" + _join(lines[index:])
        return Corrupted(data, _stray_refused(stray), f"{kind} before entry {index + 1}")
    elif kind == "frame text":
        text = draw(st.sampled_from(["", "pong", "{}", "[]", "null", '{"ch": 5}', "[1, [2]]"]))
        frame = {"t": "recv", "conn": _conn(entries), "ts": _ts(entries), "data": text}
        lines.append(json.dumps(frame))
        refused = False
    elif kind == "zst":  # a valid capture, compressed: must read as the plain one
        return Corrupted(zstandard.ZstdCompressor().compress(_join(lines)), False, kind)
    elif kind == "zst cut":
        packed = zstandard.ZstdCompressor().compress(_join(lines))
        cut = draw(st.integers(4, max(4, len(packed) - 1)))
        return Corrupted(packed[:cut], True, kind)
    return Corrupted(_join(lines), refused, f"{kind} at entry {index + 1}")


def _required(entry: dict[str, Any]) -> set[str]:
    kind = entry.get("t")
    fields = {name for name, _ in REQUIRED_FIELDS.get(str(kind), ())} | {"t"}
    if kind == "header":
        fields.add("format")
    if kind == "recv":
        fields |= {"data", "b64"} & set(entry)
    return fields


def _still_valid(entry: dict[str, Any], field: str, value: Any) -> bool:
    """Whether ``entry`` with ``field`` set to ``value`` is still a valid entry: the format's
    own rules, written out independently of the reader they test."""
    if field not in _required(entry):
        if entry.get("t") == "header" and field == "exchange":
            return value is None or (isinstance(value, str) and bool(value))
        if entry.get("t") == "header" and field == "config":
            return value is None or value == {}
        return True  # a field the format does not read
    if field in ("t", "format"):
        return False
    if field == "ts":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if field == "b64":
        return False  # none of WRONG_VALUES is base64 of anything
    return isinstance(value, str)  # conn, url, addr, data


def _stray_refused(stray: bytes) -> bool:
    """Stray bytes are refused unless every line they make is blank (blank lines are skipped);
    at most 40 of them cannot spell a valid entry."""
    try:
        text = stray.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(part.strip() for part in text.split("\n"))


def _conn(entries: list[dict[str, Any]]) -> str:
    return next((str(e["conn"]) for e in entries if e.get("t") == "recv"), "x")


def _ts(entries: list[dict[str, Any]]) -> float:
    return max((float(e["ts"]) for e in entries if "ts" in e), default=1.0) + 0.1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
