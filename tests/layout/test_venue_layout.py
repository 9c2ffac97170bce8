"""One venue, one package (docs/ARCHITECTURE.md, "Code layout"; docs/ADDING_A_VENUE.md).

Services orchestrate: they name a venue only in their configuration and look everything
venue-specific up in ``eip.exchanges.registry`` by the id configured. What the platform knows
about a venue lives in one folder, ``libs/exchanges/src/eip/exchanges/<venue>/``. The venue
names come from the registry (ids, ccxt ids, aliases, former names), so a venue added there is
checked at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from eip.exchanges import registry

ROOT = Path(__file__).resolve().parents[2]
VENUES_DIR = "libs/exchanges/src/eip/exchanges"

# Where a service may name a venue, and why.
CONFIGURATION = "settings.py"  # settings are configuration: their defaults and examples
ALLOWED_TREES = {
    # the simulator's dialects are the venues' side of the wire; they stay in the simulator
    "services/exchange_simulator/",
}
# Files named after a venue that live outside its package, and why.
ALLOWED_FILES = {
    # the order book's native core reads Binance depth frames without making a Python object
    # per level (its fast path, libs/book/README.md); it compiles with the book's crate
    "libs/book/rust/binance.rs",
    # the venue's side of BitMEX's private REST and WebSocket for tests, while the simulator
    # has no BitMEX trading dialect; shared by the exchanges' and the auth service's tests
    "libs/testing/src/eip/testing/bitmex_venue.py",
}
ALLOWED_LINES = {
    # OpenAPI documentation, like the settings' examples: an exchange id, a signing scheme
    ("services/order_book/src/eip/order_book/schemas.py", 'examples=["binance"]'),
    ("services/auth/src/eip/auth/api.py", "``binance-rest``) and that scheme's fields"),
}
# Venue names that are also English words are looked for only as quoted literals.
ENGLISH = {"gate"}
# Folders that are not the platform's code: tests, recorded captures, tool and build output.
NOT_CODE = {
    "tests",
    "data",
    ".git",
    ".venv",
    ".run",
    "target",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}


def venue_names() -> dict[str, str]:
    """Every name a venue goes by → the venue's id."""
    names: dict[str, str] = {}
    for venue in registry.VENUES:
        for name in (venue.id, venue.ccxt_id, *venue.aliases, *venue.former_names):
            if name:
                names[name] = venue.id
    return names


def _pattern() -> re.Pattern[str]:
    words = sorted(n for n in venue_names() if n not in ENGLISH)
    quoted = sorted(n for n in venue_names() if n in ENGLISH)
    alternatives = [rf"\b{re.escape(w)}\b" for w in words]
    alternatives += [rf"[\"']{re.escape(w)}[\"']" for w in quoted]
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _allowed(path: str, line: str) -> bool:
    if path.endswith("/" + CONFIGURATION) or any(path.startswith(t) for t in ALLOWED_TREES):
        return True
    return any(path == p and snippet in line for p, snippet in ALLOWED_LINES)


def test_services_name_no_venue_outside_their_configuration() -> None:
    pattern = _pattern()
    found = []
    sources = sorted(ROOT.glob("services/*/src/**/*"))
    assert any(p.suffix == ".py" for p in sources), f"no service sources under {ROOT}"
    for path in sources:
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line) and not _allowed(relative, line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, (
        "services name venues outside their configuration; look the venue up in "
        "eip.exchanges.registry by its configured id instead:\n" + "\n".join(found)
    )


def _code_paths() -> list[str]:
    paths = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in NOT_CODE]
        base = Path(folder).relative_to(ROOT)
        paths += [(base / name).as_posix() for name in files]
    return paths


def test_each_venue_lives_in_one_folder() -> None:
    names = venue_names()
    paths = _code_paths()
    assert paths, f"no files under {ROOT}"
    misplaced = []
    for relative in paths:
        if relative in ALLOWED_FILES or any(relative.startswith(t) for t in ALLOWED_TREES):
            continue
        tokens = set(re.split(r"[/_.\-]", relative.lower()))
        for name in tokens & names.keys():
            home = f"{VENUES_DIR}/{names[name]}/"
            if not relative.startswith(home):
                misplaced.append(f"{relative} (names {name}; belongs in {home})")
    assert not misplaced, "venue code outside its venue's package:\n" + "\n".join(misplaced)
