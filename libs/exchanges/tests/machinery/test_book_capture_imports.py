"""The replay command starts without the libraries a native venue's replay does not use: ccxt
(with aiohttp under it) took seconds of CPU to import, httpx and websockets half a second more,
before the first frame. Checked in a fresh interpreter, where nothing else imported them; the
start-up time itself is measured by ``bench/order_book_replay_startup.py``."""

from __future__ import annotations

import json
import subprocess
import sys

from eip.testing.recorded import find_recorded

HEAVY = ("ccxt", "aiohttp", "httpx", "websockets")

SCRIPT = """
import json, sys
from eip.exchanges.machinery.book_capture import main
status = main(["replay", sys.argv[1]])
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"status": status, "heavy": heavy}), file=sys.__stdout__)
"""


def replay_in_fresh_interpreter(capture: str) -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 (this interpreter, the test's own script)
        [sys.executable, "-c", SCRIPT, capture, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_replaying_a_kraken_capture_imports_neither_ccxt_nor_aiohttp_nor_httpx() -> None:
    result = replay_in_fresh_interpreter(str(find_recorded("kraken-ws1-2021-04.jsonl")))
    assert result == {"status": 0, "heavy": []}


def test_replaying_a_binance_capture_imports_neither_ccxt_nor_aiohttp_nor_httpx() -> None:
    result = replay_in_fresh_interpreter(str(find_recorded("binance-spot-2021-10.jsonl")))
    assert result == {"status": 0, "heavy": []}
