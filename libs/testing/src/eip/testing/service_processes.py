"""A platform service as a real process for a test: ``python -m eip.<service>`` with the
environment the test gives, its output in a log file, stopped gently or killed outright.

The process is the interpreter itself (no ``uv run`` in between), so ``kill`` (SIGKILL) hits
the service and nothing survives it holding the port — what a crash test needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_process(module: str, env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    """``python -m <module>`` with ``env`` over the test's environment, output appended to
    ``log_file``."""
    with log_file.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def kill_process(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown of any kind, as a crash."""
    process.kill()
    process.wait(10)
