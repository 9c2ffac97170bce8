"""Nothing a capture holds makes ``python -m eip.exchanges.machinery.replay`` end in a
traceback: corrupt captures (``eip.testing.captures``) exit 2 with one line naming the entry
and what is wrong, or 0/1 when the damage left a readable capture."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from eip.exchanges.machinery.replay.__main__ import main
from eip.testing.captures import Corrupted, corrupt_captures

from .synthetic import VENUES, capture_entries

HTX = capture_entries("HTX", *VENUES["HUOBI"], gzipped=True)
OKX = capture_entries("OKX", *VENUES["OKX"])


def check(corrupted: Corrupted) -> None:
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(err):
        path = corrupted.write(Path(folder))
        status = main([str(path), "--out", str(Path(folder) / "out.jsonl")])
    text = err.getvalue()
    assert "Traceback" not in text, (corrupted.how, text)
    if corrupted.refused:
        assert status == 2, (corrupted.how, text)
        assert text.startswith(f"replay: {path}: entry "), (corrupted.how, text)
        assert text.count("\n") == 1, (corrupted.how, text)
    else:
        assert status in (0, 1, 2), (corrupted.how, text)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt_captures(HTX))
def test_a_corrupt_htx_capture_never_ends_in_a_traceback(corrupted: Corrupted) -> None:
    check(corrupted)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt_captures(OKX))
def test_a_corrupt_okx_capture_never_ends_in_a_traceback(corrupted: Corrupted) -> None:
    check(corrupted)
