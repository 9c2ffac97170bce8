"""The one capture reader: plain and zstd files alike, binary frames, an exact reason (with the
entry number) for every line it refuses, and the header's symbol names."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import zstandard

from eip.exchanges.machinery import capture
from eip.exchanges.machinery.capture import (
    CaptureError,
    binary_frame_text,
    frame_payload,
    header_symbol,
    iter_entries,
    read_capture,
    read_entries,
    recv_entry,
)
from eip.testing.recorded import find_recorded

HEADER = {"t": "header", "format": 2, "exchange": "HTX", "config": {"l2_book": ["BTC-USDT"]}}
CONNECT = {"t": "connect", "conn": "c", "ts": 1.0, "addr": "wss://x"}


def write(path: Path, lines: list[Any]) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text)
    return path


def test_a_compressed_capture_reads_like_the_same_capture_uncompressed(tmp_path: Path) -> None:
    shipped = find_recorded("kraken-ws1-2021-04.jsonl")
    assert shipped.name.endswith(".jsonl.zst")
    plain = tmp_path / "kraken.jsonl"
    plain.write_bytes(zstandard.ZstdDecompressor().stream_reader(shipped.open("rb")).read())

    assert read_entries(shipped) == read_entries(plain)
    assert len(read_capture(shipped).frames) == len(read_capture(plain).frames) > 1000


def test_a_binary_frame_is_read_back_as_the_bytes_received(tmp_path: Path) -> None:
    raw = gzip.compress(b'{"ping":1}')
    path = write(tmp_path / "c.jsonl", [HEADER, CONNECT, recv_entry("c", 2.0, raw),
                                         recv_entry("c", 3.0, "pong")])  # fmt: skip
    entries = read_entries(path)
    assert entries[2]["b64"] == base64.b64encode(raw).decode()
    assert frame_payload(entries[2]) == raw
    assert frame_payload(entries[3]) == "pong"
    assert binary_frame_text(raw) == '{"ping":1}'
    frames = read_capture(path).frames
    assert [(f.data, f.entry) for f in frames] == [(raw, 3), ("pong", 4)]
    with pytest.raises(ValueError, match="neither gzip nor UTF-8"):
        binary_frame_text(b"\x1f\x8bnot really gzip")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "entry 3: not JSON"),
        ('["a", "list"]', "entry 3: not a JSON object"),
        ({"t": "ping", "conn": "c"}, "entry 3: unknown type 'ping'"),
        ({"conn": "c", "ts": 1, "data": "{}"}, "entry 3: unknown type None"),
        ({"t": "recv", "conn": "c", "ts": 1}, "entry 3 (recv): missing data (or b64)"),
        ({"t": "recv", "conn": "c", "data": "{}"}, "entry 3 (recv): missing ts"),
        ({"t": "recv", "conn": "c", "ts": "1", "data": "{}"}, "entry 3 (recv): ts is not a number"),
        (
            {"t": "recv", "conn": "c", "ts": True, "data": "{}"},
            "entry 3 (recv): ts is not a number",
        ),
        ({"t": "recv", "conn": 7, "ts": 1, "data": "{}"}, "entry 3 (recv): conn is not a string"),
        (
            {"t": "recv", "conn": "c", "ts": 1, "data": {"a": 1}},
            "entry 3 (recv): data is not a string",
        ),
        ({"t": "recv", "conn": "c", "ts": 1, "b64": "%%%"}, "entry 3 (recv): b64 is not base64"),
        (
            {"t": "recv", "conn": "c", "ts": 1, "b64": "", "data": ""},
            "entry 3 (recv): both data and b64",
        ),
        ({"t": "http", "conn": "c", "ts": 1, "url": "/x"}, "entry 3 (http): missing data"),
        (HEADER, "entry 3 (header): a second header"),
    ],
)
def test_every_unreadable_line_is_named_with_the_reason(
    tmp_path: Path, line: Any, why: str
) -> None:
    path = write(tmp_path / "c.jsonl", [HEADER, CONNECT, line])
    with pytest.raises(CaptureError) as refused:
        read_entries(path)
    assert str(refused.value).startswith(why)


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ([], "entry 1: the file is empty"),
        ([CONNECT], "entry 1: the first line must be a format-2 header"),
        ([{**HEADER, "format": 1}], "entry 1 (header): format is 1, not 2"),
        ([{**HEADER, "config": ["BTC-USDT"]}], "entry 1 (header): config is not an object"),
        ([{**HEADER, "config": {"l2_book": "BTC-USDT"}}], "config 'l2_book' is not a list"),
        ([{**HEADER, "exchange": 3}], "entry 1 (header): exchange is not a non-empty string"),
    ],
)
def test_a_missing_or_bad_header_is_named(tmp_path: Path, lines: list[Any], why: str) -> None:
    with pytest.raises(CaptureError, match=why.replace("(", "\\(").replace(")", "\\)")):
        read_entries(write(tmp_path / "c.jsonl", lines))


def test_entry_numbers_are_lines_of_the_decompressed_file(tmp_path: Path) -> None:
    text = json.dumps(HEADER) + "\n\n" + json.dumps(CONNECT) + "\n{truncated"
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    numbers: list[int] = []
    with pytest.raises(CaptureError, match=r"^entry 4: not JSON"):
        numbers.extend(number for number, _ in iter_entries(path))
    assert numbers == [1, 3]


def test_a_corrupt_compressed_file_and_a_huge_line_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = zstandard.ZstdCompressor().compress((json.dumps(HEADER) + "\n").encode() * 500)
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(packed[: len(packed) // 2] + b"\x00" * 64)
    with pytest.raises(CaptureError, match="zstd stream is corrupt"):
        read_entries(cut)
    huge = tmp_path / "huge.jsonl"
    monkeypatch.setattr(capture, "MAX_LINE_CHARS", 1000)  # the real limit is 64 MiB
    huge.write_text(json.dumps(HEADER) + "\n" + json.dumps({**CONNECT, "addr": "x" * 2000}))
    with pytest.raises(CaptureError, match=r"^entry 2: longer than 1000 characters"):
        read_entries(huge)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(HEADER).encode() + b"\n\xff\xfe\n")
    with pytest.raises(CaptureError, match="not UTF-8"):
        read_entries(latin)


@pytest.mark.parametrize(
    ("name", "kind", "pair", "expiry", "unified"),
    [
        ("BTC-USDT", "spot", ("BTC", "USDT"), None, "BTC/USDT"),
        ("XBT-USD-PERP", "perpetual", ("BTC", "USD"), None, "BTC/USD:BTC"),
        ("BTC-USD-22K27", "future", ("BTC", "USD"), date(2022, 5, 27), "BTC/USD:BTC-220527"),
        ("BTC-USDT-26U4", "future", ("BTC", "USDT"), date(2026, 9, 4), "BTC/USDT:BTC-260904"),
        ("TRX-USDT-210924", "future", ("TRX", "USDT"), date(2021, 9, 24), "TRX/USDT:TRX-210924"),
        ("ETH-USD-20000-22M24-call", "option", ("ETH", "USD"), date(2022, 6, 24),
         "ETH/USD:ETH-220624-20000-C"),
    ],
)  # fmt: skip
def test_header_symbol_names_in_the_recorders_forms(
    name: str, kind: str, pair: tuple[str, str], expiry: date | None, unified: str
) -> None:
    symbol = header_symbol(name)
    assert (symbol.kind, (symbol.base, symbol.quote), symbol.expiry) == (kind, pair, expiry)
    assert symbol.unified(settle=symbol.base) == unified


@pytest.mark.parametrize("name", ["BTC", "BTC-", "-USD", "BTC-USD-SWAP", "BTC-USD-22A27",
                                  "BTC-USD-22F31x", "BTC-USD-22G30", "A-B-C-D"])  # fmt: skip
def test_names_of_no_known_form_are_refused_saying_why(name: str) -> None:
    with pytest.raises(ValueError, match=r"BASE-QUOTE|PERP nor an expiry"):
        header_symbol(name)
