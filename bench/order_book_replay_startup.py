"""Start-up of ``python -m eip.order_book.capture replay``: how long a fresh interpreter takes to
reach the first frame of a native venue's capture, beside the baseline of importing what the
command used to import before its first frame (ccxt.pro, httpx, websockets) in the same run.

    uv run --frozen --no-sync python bench/order_book_replay_startup.py [--repeat 5]

Measured in fresh interpreters (``sys.executable``): "to first frame" is wall-clock from the
spawn until the replay hands the adapter its first frame (the command's imports, reading and
checking the capture, the adapter's metadata from the capture); "whole replay" is the complete
command on the Kraken capture (4,321 frames, 4,269 checksums). Goal: under 0.5 s to the first
frame.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from eip.testing.recorded import find_recorded

FIRST_FRAME = """
import sys, time
from eip.exchanges.machinery import replay_transport

original = replay_transport.ReplayConnection.recv

async def first(self):
    print(time.time(), file=sys.__stdout__, flush=True)
    raise SystemExit(0)

replay_transport.ReplayConnection.recv = first
from eip.exchanges.machinery.book_capture import main
main(["replay", sys.argv[1]])
"""

HEAVY = "import ccxt.pro, httpx, websockets.asyncio.client"


def spawn(*args: str) -> tuple[float, str]:
    started = time.time()
    done = subprocess.run(  # noqa: S603 (this interpreter, the bench's own arguments)
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args[:2]} failed: {done.stderr[-1000:]}")
    return started, done.stdout


def to_first_frame(capture: str) -> float:
    started, out = spawn("-c", FIRST_FRAME, capture)
    return float(out.strip().splitlines()[-1]) - started


def timed(*args: str) -> float:
    started = time.perf_counter()
    spawn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    kraken = str(find_recorded("kraken-ws1-2021-04.jsonl"))
    binance = str(find_recorded("binance-spot-2021-10.jsonl"))
    rows = [
        ("kraken: spawn to first frame", min(to_first_frame(kraken) for _ in range(args.repeat))),
        ("binance: spawn to first frame", min(to_first_frame(binance) for _ in range(args.repeat))),
        (
            "kraken: whole replay command",
            min(
                timed("-m", "eip.order_book.capture", "replay", kraken) for _ in range(args.repeat)
            ),
        ),
        (
            "baseline: bare interpreter",
            min(timed("-c", "pass") for _ in range(args.repeat)),
        ),
        (
            "baseline: import ccxt.pro, httpx, websockets",
            min(timed("-c", HEAVY) for _ in range(args.repeat)),
        ),
    ]
    print(f"seconds, best of {args.repeat} fresh interpreters; goal < 0.5 s to the first frame")
    for name, seconds in rows:
        print(f"{name:<46} {seconds:>7.3f}")


if __name__ == "__main__":
    main()
