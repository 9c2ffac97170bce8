"""Running the deploy/local scripts from tests, on a run directory and ports of the test's own
(``eip.testing.local``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eip.testing.local import (
    REPO_ROOT,
    LocalScripts,
    alive,
    free_port,
    local_scripts_in,
    port_is_free,
)

__all__ = ["REPO_ROOT", "LocalScripts", "alive", "free_port", "port_is_free"]


@pytest.fixture
def make_local_scripts(tmp_path: Path) -> Iterator[Callable[[str], LocalScripts]]:
    """LocalScripts on run directories of the test's own (tmp_path/<name>)."""
    made: list[LocalScripts] = []

    def make(name: str) -> LocalScripts:
        made.append(local_scripts_in(tmp_path / name))
        return made[-1]

    yield make
    for scripts in made:
        scripts.clean_up()


@pytest.fixture
def local_scripts(make_local_scripts: Callable[[str], LocalScripts]) -> LocalScripts:
    return make_local_scripts("run")
