"""``python -m eip.exchanges.replay FILE [--out F] [--channels trades,ticker]``.

Writes normalized records as JSON lines (``--out``, default standard output) and a summary
per symbol and channel to standard error; exits 1 when a trade or ticker frame was not
understood or produced a record that fails the checks (``result.problems``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO, cast

from eip.exchanges.market_data import Ticker, Trade
from eip.exchanges.replay.result import CHANNELS, Channel, as_json
from eip.exchanges.replay.run import replay


def _channels(text: str) -> list[Channel]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in CHANNELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"channels are {','.join(CHANNELS)}; got {text!r}")
    return [cast(Channel, c) for c in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.exchanges.replay")
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, help="JSON lines of records (default: stdout)")
    parser.add_argument("--channels", type=_channels, default=list(CHANNELS))
    args = parser.parse_args(argv)
    out: TextIO = args.out.open("w", encoding="utf-8") if args.out else sys.stdout

    def write(record: Trade | Ticker) -> None:
        out.write(json.dumps(as_json(record)) + "\n")

    try:
        result = replay(args.file, args.channels, sink=write)
    except (OSError, ValueError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.out:
            out.close()
    summary = result.summary
    for row in summary.rows():
        print(json.dumps({"exchange": result.exchange, **row}), file=sys.stderr)
    for error in summary.errors:
        print(f"not understood: {error}", file=sys.stderr)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
