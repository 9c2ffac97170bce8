"""``python -m eip.exchanges.machinery.replay FILE [--out F] [--channels trades,ticker]
[--strict]``.

Writes normalized records as JSON lines (``--out``, default standard output) and a summary
per symbol and channel to standard error. ``FILE`` is a capture, ``*.jsonl`` or ``*.jsonl.zst``.
Exit status: 0 when every trade and ticker frame was understood; 1 when one was not, or
produced a record that fails the checks (``result.problems``), or — with ``--strict`` — the
capture held no trade or ticker frame at all (otherwise reported as ``no data``); 2 when the
capture cannot be replayed (an unreadable line, named with its entry number; an exchange
without a replay). Never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO, cast

from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import CaptureError
from eip.exchanges.machinery.replay.result import CHANNELS, Channel, as_json
from eip.exchanges.machinery.replay.run import Replay, replay


def _channels(text: str) -> list[Channel]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in CHANNELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"channels are {','.join(CHANNELS)}; got {text!r}")
    return [cast(Channel, c) for c in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.exchanges.machinery.replay")
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, help="JSON lines of records (default: stdout)")
    parser.add_argument("--channels", type=_channels, default=list(CHANNELS))
    parser.add_argument(
        "--strict", action="store_true", help="a capture without trade or ticker frames fails"
    )
    args = parser.parse_args(argv)
    try:
        result = _replay(args.file, args.out, args.channels)
    except CaptureError as exc:
        print(f"replay: {args.file}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"replay: {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a venue body the parser setup cannot read, an unknown exchange
        print(
            f"replay: {args.file}: cannot replay: {type(exc).__name__}: {exc}"[:500],
            file=sys.stderr,
        )
        return 2
    summary = result.summary
    for row in summary.rows():
        print(json.dumps({"exchange": result.exchange, **row}), file=sys.stderr)
    for error in summary.errors:
        print(f"not understood: {error}", file=sys.stderr)
    no_data = not summary.frames
    if no_data:
        wanted = " or ".join(args.channels)
        print(f"no data: the capture holds no {wanted} frame this replay reads", file=sys.stderr)
    return 0 if summary.ok and not (args.strict and no_data) else 1


def _replay(path: Path, out_path: Path | None, channels: list[Channel]) -> Replay:
    out: TextIO = out_path.open("w", encoding="utf-8") if out_path else sys.stdout

    def write(record: Trade | Ticker) -> None:
        out.write(json.dumps(as_json(record)) + "\n")

    try:
        return replay(path, channels, sink=write)
    finally:
        if out_path:
            out.close()


if __name__ == "__main__":
    raise SystemExit(main())
