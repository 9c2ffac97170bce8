"""The replay/record command: real captures pass, tampered ones fail, recordings replay."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from eip.exchanges.machinery.book_capture import main, record, replay_file
from eip.exchanges.machinery.capture import CaptureError, open_text, read_entries
from eip.testing.recorded import recorded_capture

BINANCE = "binance-spot-2021-10.jsonl"
KRAKEN = "kraken-ws1-2021-04.jsonl"


async def test_replaying_the_binance_capture_succeeds_and_writes_books(tmp_path: Path) -> None:
    out_path, err = tmp_path / "books.jsonl", io.StringIO()
    with out_path.open("w") as out:
        status = await replay_file(recorded_capture(BINANCE), out, err)

    assert status == 0, err.getvalue()
    assert "RESULT: ok" in err.getvalue()
    lines = [json.loads(line) for line in out_path.open()]
    books = {line["symbol"]: line for line in lines if line["type"] == "book"}
    assert set(books) == {"NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"}
    assert all(book["in_sync"] for book in books.values())
    nkn = books["NKN/USDT"]
    assert nkn["bids"][0][0] > nkn["bids"][1][0]  # best first
    deltas = [line for line in lines if line["type"] == "delta"]
    assert {"exchange", "symbol", "sequence", "exchange_time", "bids", "asks"} <= set(deltas[0])
    assert deltas[0]["exchange_time"].startswith("2021-10-12T")


async def test_replaying_the_kraken_capture_verifies_every_checksum() -> None:
    err = io.StringIO()
    status = await replay_file(recorded_capture(KRAKEN), None, err)
    assert status == 0, err.getvalue()
    assert "checksums: matched=4269 failed=0" in err.getvalue()


def test_a_tampered_capture_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_text(recorded_capture(BINANCE)) as text:
        lines = text.read().splitlines()
    frames = [i for i, line in enumerate(lines) if "nknusdt@depth" in line and '"recv"' in line]
    del lines[frames[10]]  # a lost diff: a gap no recorded snapshot can heal
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")

    status = main(["replay", str(tampered), "--out", str(tmp_path / "out.jsonl")])

    assert status == 1
    err = capsys.readouterr().err
    assert "NKN/USDT: snapshots=1" in err
    assert "desyncs=1 in_sync=NO" in err
    assert "RESULT: FAILED" in err
    desyncs = [
        json.loads(line) for line in (tmp_path / "out.jsonl").open() if '"type":"desync"' in line
    ]
    assert [(d["symbol"], d["reason"]) for d in desyncs] == [("NKN/USDT", "gap")]


def test_a_malformed_capture_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t":"header","format":2}\n{"t":"recv","conn":"x","data":"{}"}\n')
    with pytest.raises(CaptureError, match="entry 2 \\(recv\\): missing ts"):
        read_entries(bad)


def test_a_capture_of_a_venue_without_a_replay_dialect_fails_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "gemini.jsonl"
    header = {"t": "header", "format": 2, "exchange": "GEMINI", "config": {"l2_book": ["A-B"]}}
    capture.write_text(json.dumps(header) + "\n")
    assert main(["replay", str(capture)]) == 2
    err = capsys.readouterr().err
    assert "no replay dialect for 'gemini' captures" in err
    assert "bitmex" in err  # names what does replay
    assert "Traceback" not in err


@pytest.mark.integration
@pytest.mark.parametrize("exchange", ["binance", "kraken", "coinbase"])
async def test_recording_from_the_simulator_replays_to_the_same_books(
    simulator_process: object, tmp_path: Path, exchange: str
) -> None:
    base_url = simulator_process.base_url  # type: ignore[attr-defined]
    capture, err, live = tmp_path / "sim.jsonl", io.StringIO(), io.StringIO()
    status = await record(exchange, ["BTC/USDT", "ETH/USDT"], capture, 3.0, err, base_url, live)
    assert status == 0, err.getvalue()

    entries = read_entries(capture)
    assert entries[0]["t"] == "header"
    assert entries[0]["exchange"] == exchange.upper()
    assert entries[0]["config"] == {"l2_book": ["BTC-USDT", "ETH-USDT"]}
    kinds = {e["t"] for e in entries}
    # Binance names its streams in the URL; Kraken and Coinbase subscribe by message
    assert kinds == {"header", "http", "connect", "recv"} | (
        set() if exchange == "binance" else {"send"}
    )
    assert sum(1 for e in entries if e["t"] == "recv") > 5

    out, err = io.StringIO(), io.StringIO()
    assert await replay_file(capture, out, err) == 0, err.getvalue()
    books = [json.loads(line) for line in out.getvalue().splitlines() if '"type":"book"' in line]
    assert {b["symbol"] for b in books} == {"BTC/USDT", "ETH/USDT"}
    assert all(b["in_sync"] and b["bids"] and b["asks"] for b in books)
    # the same adapter code on the recorded bytes ends where the live run ended
    live_books = [json.loads(line) for line in live.getvalue().splitlines() if '"book"' in line]
    assert books == live_books


@pytest.mark.integration
async def test_ccxt_served_exchange_records_and_replays(
    simulator_process: object, tmp_path: Path
) -> None:
    base_url = simulator_process.base_url  # type: ignore[attr-defined]
    capture, err, live = tmp_path / "ccxt.jsonl", io.StringIO(), io.StringIO()
    status = await record("ccxt:binance", ["BTC/USDT"], capture, 4.0, err, base_url, live)
    assert status == 0, err.getvalue()
    entries = read_entries(capture)
    assert entries[0]["exchange"] == "CCXT:BINANCE"
    assert any(e["t"] == "http" and "/api/v3/depth" in e["url"] for e in entries)
    assert any(e["t"] == "send" and "SUBSCRIBE" in e["data"] for e in entries)
    assert sum(1 for e in entries if e["t"] == "recv") > 5

    out, err = io.StringIO(), io.StringIO()
    assert await replay_file(capture, out, err) == 0, err.getvalue()
    books = [json.loads(line) for line in out.getvalue().splitlines() if '"type":"book"' in line]
    live_books = [json.loads(line) for line in live.getvalue().splitlines() if '"book"' in line]
    assert [b["symbol"] for b in books] == ["BTC/USDT"]
    assert books[0]["in_sync"]
    # ccxt on the recorded bytes ends where ccxt on the live socket ended
    assert books[0]["bids"] == live_books[0]["bids"]
    assert books[0]["asks"] == live_books[0]["asks"]
