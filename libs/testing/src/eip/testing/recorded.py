"""Where the recorded real exchange captures are: ``data/recorded`` in the repository, plus the
folders ``EIP_RECORDED_DIR`` names.

The captures the tests and benchmarks need ship with the repository (zstd-compressed,
``*.jsonl.zst``; ``eip.exchanges.machinery.capture`` reads them as they are), so a fresh clone needs
nothing beside it. ``EIP_RECORDED_DIR`` (one folder, or several joined by ``os.pathsep``) adds
more captures: the tests that replay every capture (``recorded_captures``) then run those too.
A named capture (``find_recorded``) is looked for in the repository first, so a test that needs
a shipped capture never depends on the extra folders; a capture of the same name in both
(``x.jsonl`` beside the shipped ``x.jsonl.zst``) is taken once, from the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eip.testing.endpoints import REPO_ROOT

ENV = "EIP_RECORDED_DIR"
IN_REPO = REPO_ROOT / "data" / "recorded"
SUFFIXES = (".jsonl", ".jsonl.zst")


def recorded_dirs() -> list[Path]:
    """The repository's folder, then each folder ``EIP_RECORDED_DIR`` names."""
    extra = [Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    return [IN_REPO, *(p for p in extra if p.resolve() != IN_REPO.resolve())]


def capture_name(path: Path) -> str:
    """``binance-spot-2021-10.jsonl`` for ``…/binance-spot-2021-10.jsonl.zst`` too."""
    return path.name.removesuffix(".zst")


def recorded_captures() -> list[Path]:
    """Every capture in every folder, one per name (the first folder's), sorted by name."""
    found: dict[str, Path] = {}
    for folder in recorded_dirs():
        for path in sorted(folder.glob("*")):
            if path.name.endswith(SUFFIXES) and path.is_file():
                found.setdefault(capture_name(path), path)
    return [found[name] for name in sorted(found)]


def find_recorded(name: str) -> Path:
    """The capture ``name`` (``x.jsonl``; its ``x.jsonl.zst`` serves too); ``FileNotFoundError``
    naming every place it was looked for."""
    base = name.removesuffix(".zst")
    tried: list[Path] = []
    for folder in recorded_dirs():
        for candidate in (folder / base, folder / f"{base}.zst"):
            tried.append(candidate)
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"recorded capture {name} not found (looked for {', '.join(map(str, tried))}): the "
        f"shipped ones are in data/recorded of the repository; {ENV} adds other folders"
    )


def recorded_capture(name: str) -> Path:
    """For tests: the capture's path, or a failure (never a skip) saying where it was sought."""
    try:
        return find_recorded(name)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
