"""Where the recorded real exchange captures are: ``shared/data/recorded`` beside the repository.

Tests, benchmarks and docs all find them here, so a checkout elsewhere needs one setting
(``EIP_RECORDED_DIR``) rather than edits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eip.testing.endpoints import REPO_ROOT

ENV = "EIP_RECORDED_DIR"


def recorded_dir() -> Path:
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    return (REPO_ROOT.parent / "shared" / "data" / "recorded").resolve()


def find_recorded(name: str) -> Path:
    """The capture's path; ``FileNotFoundError`` naming where it was looked for."""
    path = recorded_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"recorded capture {name} not found at {path}: keep shared/ beside the repository "
            f"or set {ENV} to the folder that holds it"
        )
    return path


def recorded_capture(name: str) -> Path:
    """For tests: the capture's path, or a failure (never a skip) saying how to provide it."""
    try:
        return find_recorded(name)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
