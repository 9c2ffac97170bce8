"""Nothing a capture holds makes the replay command end in a traceback: corrupt captures (built
by ``eip.testing.captures``) exit 2 with one line saying what is wrong, or 0/1 when the damage
left a readable capture. In-process through ``main``; one end-to-end run as a subprocess."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from eip.exchanges.machinery.book_capture import main
from eip.testing.book_captures import capture
from eip.testing.captures import Corrupted, corrupt_captures

SYMBOLS = {"status": "ok", "data": [
    {"base-currency": "omg", "quote-currency": "btc", "price-precision": 8,
     "amount-precision": 2, "symbol": "omgbtc", "state": "online"},
]}  # fmt: skip


def htx_book(version: int, bid: str) -> bytes:
    tick = {"bids": [[bid, 1]], "asks": [["0.000138", 1]], "version": version, "ts": 1}
    return gzip.compress(json.dumps({"ch": "market.omgbtc.depth.step0", "tick": tick}).encode())


def bybit_book(kind: str, seq: int) -> dict[str, Any]:
    rows = [
        {"price": "60616.50", "symbol": "BTCUSD", "id": 1, "side": "Buy", "size": 5},
        {"price": "60617.00", "symbol": "BTCUSD", "id": 2, "side": "Sell", "size": 7},
    ]
    data: Any = rows if kind == "snapshot" else {"delete": [], "update": rows[:1], "insert": []}
    return {"topic": "orderBookL2_25.BTCUSD", "type": kind, "data": data, "cross_seq": seq}


def with_header(entries: list[dict[str, Any]], l2_book: list[str]) -> list[dict[str, Any]]:
    entries[0]["config"] = {"l2_book": l2_book}
    return entries


HTX = with_header(
    capture("huobi", {"https://api.huobi.pro/v1/common/symbols": SYMBOLS},
            [htx_book(1, "0.000137"), b'\x1f\x8b' + gzip.compress(b"{}")[2:],
             htx_book(2, "0.000136")], "wss://api.huobi.pro/ws"),
    ["OMG-BTC"],
)  # fmt: skip
BYBIT = with_header(
    capture("bybit", {}, [bybit_book("snapshot", 1), bybit_book("delta", 2)],
            "wss://stream.bybit.com/realtime"),
    ["BTC-USD-PERP"],
)  # fmt: skip


def run(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["replay", str(path)])
    return status, err.getvalue()


def check(corrupted: Corrupted) -> None:
    with tempfile.TemporaryDirectory() as folder:
        status, err = run(corrupted.write(Path(folder)))
    assert "Traceback" not in err, (corrupted.how, err)
    if corrupted.refused:
        assert status == 2, (corrupted.how, err)
        assert err.startswith("replay: "), (corrupted.how, err)
        assert "entry " in err, (corrupted.how, err)
        assert err.count("\n") == 1, (corrupted.how, err)  # one line
    else:
        assert status in (0, 1, 2), (corrupted.how, err)


def test_the_uncorrupted_captures_replay_cleanly(tmp_path: Path) -> None:
    for name, entries in (("htx", HTX), ("bybit", BYBIT)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
        status, err = run(path)
        assert status == 0, err
        assert "in_sync=yes" in err


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt_captures(HTX))
def test_a_corrupt_htx_capture_never_ends_in_a_traceback(corrupted: Corrupted) -> None:
    check(corrupted)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt_captures(BYBIT))
def test_a_corrupt_bybit_capture_never_ends_in_a_traceback(corrupted: Corrupted) -> None:
    check(corrupted)


def test_the_command_refuses_a_corrupt_capture_in_one_line(tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in HTX]
    lines[3] = lines[3][:40]  # a line cut short, as a killed recorder leaves it
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines) + "\n")

    done = subprocess.run(  # noqa: S603 - our own command, end to end
        [sys.executable, "-m", "eip.order_book.capture", "replay", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"replay: {path}: entry 4: not JSON (")
    assert done.stderr.count("\n") == 1
