"""The recorded-capture format (``data/recorded/README.md``, format 2): JSON Lines of header,
http, connect, send and recv entries, ``ts`` in unix seconds, frames kept byte for byte. The one
reader and writer of captures, for the market-data replay, the order-book record/replay and the
simulator's replay alike.

What is subtle:

- Files are read as a stream, ``*.jsonl`` or zstd-compressed ``*.jsonl.zst`` alike (the
  captures shipped in the repository are compressed); nothing else looks at the suffix.
- A ``recv`` entry carries its frame as text in ``data``, or, for a binary frame (HTX sends
  gzip), base64 in ``b64``. ``frame_payload`` gives every consumer the frame as it came off the
  socket: ``str`` for a text frame, ``bytes`` for a binary one.
- Every entry is checked before anyone reads it (kind, fields, their JSON types, the base64),
  so a consumer never meets a ``KeyError`` or ``TypeError`` from a bad line: it gets one
  ``CaptureError`` naming the entry — its line in the decompressed file — and what is wrong.
- Header ``config`` names symbols in the recorder's own form (``BTC-USDT``, ``BTC-USDT-PERP``,
  ``BTC-USD-22K27``); ``header_symbol`` reads that form, and each venue's replay code decides
  which of its instruments the name means.

Nothing beyond the documented fields is assumed; unknown fields are ignored.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import math
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal

import zstandard

from eip.exchanges.contract.symbols import normalize_asset

FORMAT_VERSION = 2
# A line this long is no capture line (the largest shipped one, Binance's exchangeInfo body, is
# 2 MB): refusing it keeps a corrupt or hostile file from being read into memory whole.
MAX_LINE_CHARS = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"

_TEXT, _NUMBER = "a string", "a number"
# kind -> (field, JSON type) every entry of that kind must have
REQUIRED_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "header": (),
    "http": (("conn", _TEXT), ("ts", _NUMBER), ("url", _TEXT), ("data", _TEXT)),
    "connect": (("conn", _TEXT), ("ts", _NUMBER), ("addr", _TEXT)),
    "send": (("conn", _TEXT), ("ts", _NUMBER), ("data", _TEXT)),
    "recv": (("conn", _TEXT), ("ts", _NUMBER)),
}


class CaptureError(ValueError):
    """The file is not a readable format-2 capture; the message names the entry and why."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check(number: int, entry: dict[str, Any], first: bool) -> None:
    kind = entry.get("t")
    if first and kind != "header":
        raise CaptureError(f"entry {number}: the first line must be a format-2 header")
    needed = REQUIRED_FIELDS.get(kind) if isinstance(kind, str) else None
    if needed is None:
        raise CaptureError(f"entry {number}: unknown type {kind!r}")
    missing = [name for name, _ in needed if name not in entry]
    if missing:
        raise CaptureError(f"entry {number} ({kind}): missing {', '.join(missing)}")
    for name, wanted in needed:
        ok = _is_number(entry[name]) if wanted == _NUMBER else isinstance(entry[name], str)
        if not ok:
            raise CaptureError(f"entry {number} ({kind}): {name} is not {wanted}")
    if kind == "header":
        _check_header(number, entry, first)
    elif kind == "recv":
        _check_frame(number, entry)


def _check_header(number: int, entry: dict[str, Any], first: bool) -> None:
    where = f"entry {number} (header)"
    if not first:
        raise CaptureError(f"{where}: a second header (only the first line is one)")
    if entry.get("format") != FORMAT_VERSION:
        raise CaptureError(f"{where}: format is {entry.get('format')!r}, not {FORMAT_VERSION}")
    exchange = entry.get("exchange")
    if exchange is not None and not (isinstance(exchange, str) and exchange):
        raise CaptureError(f"{where}: exchange is not a non-empty string")
    config = entry.get("config")
    if config is None:
        return
    if not isinstance(config, dict):
        raise CaptureError(f"{where}: config is not an object")
    for channel, names in config.items():
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise CaptureError(f"{where}: config {channel!r} is not a list of strings")


def _check_frame(number: int, entry: dict[str, Any]) -> None:
    has_data, has_b64 = "data" in entry, "b64" in entry
    if has_data == has_b64:
        why = "both data and b64" if has_data else "missing data (or b64)"
        raise CaptureError(f"entry {number} (recv): {why}")
    if has_data and not isinstance(entry["data"], str):
        raise CaptureError(f"entry {number} (recv): data is not a string")
    if has_b64:
        try:
            _b64(entry)
        except ValueError:
            raise CaptureError(f"entry {number} (recv): b64 is not base64") from None


def _b64(entry: dict[str, Any]) -> bytes:
    value = entry["b64"]
    if not isinstance(value, str):
        raise ValueError("b64 is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def frame_payload(entry: dict[str, Any]) -> str | bytes:
    """A checked ``recv`` (or ``send``) entry's frame as it came off the socket: the text of a
    text frame, the bytes of a binary one (``b64``)."""
    return _b64(entry) if "b64" in entry else str(entry["data"])


def binary_frame_text(raw: bytes) -> str:
    """The text a binary frame carries: gzip (HTX compresses every frame) is inflated, anything
    else must be UTF-8. ``ValueError`` when it is neither."""
    try:
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"binary frame is neither gzip nor UTF-8 text: {exc}") from None


def payload_text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else binary_frame_text(payload)


class _Unzstd(io.RawIOBase):
    """A zstd file's decompressed bytes, read as a stream. Unlike zstandard's own stream reader
    it notices a stream cut short (a copy that stopped early): ``ZstdError`` at its end rather
    than a quietly shorter capture. Concatenated frames are read one after the other."""

    CHUNK = 1 << 20

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._raw.read(self.CHUNK)
            if not chunk:
                if self._started and not self._frame.eof:
                    raise zstandard.ZstdError("the compressed stream ends inside a frame")
                if not self._started:
                    raise zstandard.ZstdError("the file holds no zstd frame")
                return 0
            self._started = True
            self._pending = self._decompress(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _decompress(self, chunk: bytes) -> bytes:
        out = b""
        while chunk:
            if self._frame.eof:  # the next frame starts here
                self._frame = zstandard.ZstdDecompressor().decompressobj()
            out += self._frame.decompress(chunk)
            chunk = self._frame.unused_data if self._frame.eof else b""
        return out


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """The capture's text, decompressed on the fly when the file is ``*.zst``."""
    with path.open("rb") as raw:
        reader: IO[bytes] = io.BufferedReader(_Unzstd(raw)) if path.suffix == ".zst" else raw
        with io.TextIOWrapper(reader, encoding="utf-8", newline="\n") as text:
            yield text


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        with open_text(path) as text:
            while True:
                line = text.readline(MAX_LINE_CHARS + 1)
                if not line:
                    return
                number += 1
                if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                    raise CaptureError(f"entry {number}: longer than {MAX_LINE_CHARS} characters")
                yield number, line
    except UnicodeDecodeError:
        raise CaptureError(f"entry {number + 1}: not UTF-8 text") from None
    except zstandard.ZstdError as exc:
        raise CaptureError(f"entry {number + 1}: the zstd stream is corrupt ({exc})") from None


def iter_entries(source: Path | Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(entry number, entry)`` in file order, each checked; the number is the entry's line in
    the (decompressed) file, blank lines counted and skipped. ``source`` is a file or
    already-parsed entries (tests), numbered from 1."""
    if isinstance(source, Path):
        parsed: Iterable[tuple[int, Any]] = _parsed(source)
    else:
        parsed = enumerate(source, 1)
    first = True
    for number, entry in parsed:
        if not isinstance(entry, dict):
            raise CaptureError(f"entry {number}: not a JSON object")
        _check(number, entry, first)
        first = False
        yield number, entry


def _parsed(path: Path) -> Iterator[tuple[int, Any]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line.rstrip("\r\n"))  # so columns count in this line
        except json.JSONDecodeError as exc:
            raise CaptureError(
                f"entry {number}: not JSON ({exc.msg}, column {exc.colno})"
            ) from None
        except ValueError as exc:  # an integer of more digits than Python converts
            raise CaptureError(f"entry {number}: not JSON ({exc})") from None
        except RecursionError:
            raise CaptureError(f"entry {number}: JSON nested too deeply") from None


def read_entries(source: Path | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry in file order, each checked (``iter_entries``); a file without a single
    entry is an error."""
    entries = [entry for _, entry in iter_entries(source)]
    if not entries:
        raise CaptureError("entry 1: the file is empty; the first line must be a header")
    return entries


def recorded_json(entries: Iterable[dict[str, Any]], kind: str) -> Iterator[tuple[str, Any]]:
    """``(url, parsed body)`` of every ``kind`` entry whose data is JSON (``url`` is "" for
    frames); entries that are not JSON are passed over, as a venue's text pings are."""
    for entry in entries:
        if entry["t"] != kind:
            continue
        try:
            yield str(entry.get("url", "")), json.loads(payload_text(frame_payload(entry)))
        except ValueError:  # not JSON, or a binary frame that is no text
            continue


@dataclass(frozen=True, slots=True)
class Frame:
    conn: str
    ts: float
    data: str | bytes  # a text frame as text, a binary frame as its bytes
    entry: int = 0  # its entry number in the capture, for messages about it


@dataclass(slots=True)
class Capture:
    """A capture as the market-data replay reads it: header, REST bodies and received frames."""

    exchange: str  # as the header names it: "BINANCE", "OKEX", ...
    config: dict[str, list[str]]
    http: dict[str, str] = field(default_factory=dict)  # url -> body, last one wins
    connections: dict[str, str] = field(default_factory=dict)  # conn -> addr
    frames: list[Frame] = field(default_factory=list)


def read_capture(path: Path) -> Capture:
    """A whole capture whose first line is a format-2 header naming the exchange."""
    capture: Capture | None = None
    for number, entry in iter_entries(path):
        kind = entry["t"]
        if capture is None:
            exchange = entry.get("exchange")
            if not exchange:
                raise CaptureError("entry 1 (header): names no exchange")
            config = entry.get("config") or {}
            capture = Capture(str(exchange), {str(k): list(v or []) for k, v in config.items()})
        elif kind == "http":
            capture.http[entry["url"]] = entry["data"]
        elif kind == "connect":
            capture.connections[entry["conn"]] = entry["addr"]
        elif kind == "recv":
            payload = frame_payload(entry)
            capture.frames.append(Frame(entry["conn"], float(entry["ts"]), payload, number))
    if capture is None:
        raise CaptureError("entry 1: the file is empty; the first line must be a header")
    return capture


def recv_entry(conn: str, ts: float, payload: str | bytes) -> dict[str, Any]:
    """The ``recv`` line of one frame: text in ``data``, a binary frame base64 in ``b64``."""
    if isinstance(payload, bytes):
        return {"t": "recv", "conn": conn, "ts": ts, "b64": base64.b64encode(payload).decode()}
    return {"t": "recv", "conn": conn, "ts": ts, "data": payload}


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


# -- the header's symbol names --------------------------------------------------------------

SymbolKind = Literal["spot", "perpetual", "future", "option"]
# cryptofeed's futures month letters (Symbol.month_code), January first
MONTH_CODES = "FGHJKMNQUVXZ"
_EXPIRY = re.compile(r"^(\d{2})([FGHJKMNQUVXZ])(\d{1,2})$|^(\d{2})(\d{2})(\d{2})$")


@dataclass(frozen=True, slots=True)
class HeaderSymbol:
    """One symbol as a capture header names it, read: ``BTC-USDT`` (spot), ``BTC-USDT-PERP``
    (perpetual), ``BTC-USD-22K27`` or ``BTC-USD-220527`` (future expiring 2022-05-27),
    ``ETH-USD-20000-22M24-call`` (option). Assets are normalized (``XBT`` is ``BTC``)."""

    name: str
    base: str
    quote: str
    kind: SymbolKind
    expiry: date | None = None
    strike: str | None = None
    right: Literal["C", "P"] | None = None

    def unified(self, settle: str | None = None) -> str:
        """ccxt's unified symbol: ``BASE/QUOTE``, and for derivatives ``:SETTLE`` (``settle``,
        the venue's choice) then ``-YYMMDD`` and ``-STRIKE-C|P``."""
        pair = f"{self.base}/{self.quote}"
        if self.kind == "spot":
            return pair
        if settle is None:
            raise ValueError(f"{self.name}: a {self.kind} needs its settlement currency")
        symbol = f"{pair}:{settle}"
        if self.expiry is not None:
            symbol += "-" + self.expiry.strftime("%y%m%d")
        if self.kind == "option":
            symbol += f"-{self.strike}-{self.right}"
        return symbol


def _expiry(text: str) -> date | None:
    found = _EXPIRY.match(text)
    if found is None:
        return None
    if found.group(1):
        year, month, day = found.group(1), MONTH_CODES.index(found.group(2)) + 1, found.group(3)
    else:
        year, month, day = found.group(4), int(found.group(5)), found.group(6)
    try:
        return date(2000 + int(year), month, int(day))
    except ValueError:
        return None


def header_symbol(name: str) -> HeaderSymbol:
    """Read a header symbol name; ``ValueError`` saying why when it is none of the forms."""
    parts = name.strip().split("-")
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(f"{name!r} is not BASE-QUOTE[-PERP|-EXPIRY]")
    base, quote = normalize_asset(parts[0]), normalize_asset(parts[1])
    if len(parts) == 2:
        return HeaderSymbol(name, base, quote, "spot")
    if len(parts) == 3 and parts[2].upper() == "PERP":
        return HeaderSymbol(name, base, quote, "perpetual")
    if len(parts) == 3:
        expiry = _expiry(parts[2])
        if expiry is None:
            raise ValueError(f"{name!r}: {parts[2]!r} is neither PERP nor an expiry like 22K27")
        return HeaderSymbol(name, base, quote, "future", expiry)
    if len(parts) == 5 and parts[4].lower() in ("call", "put", "c", "p"):
        expiry = _expiry(parts[3])
        if expiry is None or not re.fullmatch(r"\d+(\.\d+)?", parts[2]):
            raise ValueError(f"{name!r} is not BASE-QUOTE-STRIKE-EXPIRY-call|put")
        right: Literal["C", "P"] = "C" if parts[4].lower().startswith("c") else "P"
        return HeaderSymbol(name, base, quote, "option", expiry, parts[2], right)
    raise ValueError(f"{name!r} is not BASE-QUOTE[-PERP|-EXPIRY]")


# -- how a venue's book adapter reads a capture ----------------------------------------------

Entries = list[dict[str, Any]]


def _nothing_recorded(entries: Entries) -> list[str]:
    return []


def _default_settings(entries: Entries) -> dict[str, Any]:
    return {}


def _replayable(entries: Entries) -> str | None:
    return None


@dataclass(frozen=True)
class BookCaptureDialect:
    """What a venue's package tells the book replay (``machinery.book_capture``) about its
    captures; each venue names its own in its registry entry, and the defaults read nothing
    beyond the header."""

    # the book symbols the capture's own subscriptions (and instrument lists) name, for venues
    # whose header names say less than those (settlement, expiry, the venue's spelling)
    symbols: Callable[[Entries], list[str]] = _nothing_recorded
    # the adapter settings the capture's subscriptions show (depth, channel, topic, ...)
    settings: Callable[[Entries], dict[str, Any]] = _default_settings
    # how the venue reads a header name (``BTC-USDT-PERP``); None: spot books only
    header_symbol: Callable[[HeaderSymbol], str] | None = None
    # books recorded on several connections, one feed each: (symbols, settings) per connection
    connections: Callable[[Entries], list[tuple[list[str], dict[str, Any]]]] | None = None
    # why the capture cannot be replayed by this adapter at all, or None
    refusal: Callable[[Entries], str | None] = _replayable
