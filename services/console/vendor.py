"""The console's vendored browser libraries: fetched from the npm registry, checked, copied.

    uv run python services/console/vendor.py fetch   # npm pack each package (cache outside git),
                                                      # check its integrity, copy the files,
                                                      # record their sha256 in vendor.json
    uv run python services/console/vendor.py check    # the committed copies match vendor.json

Why vendored rather than built at install time: the console needs no JavaScript build (its
pages are server-rendered; its two small scripts are plain ES modules), so `make install`, CI
and the service image need no Node.js at all — the files ship inside the Python package. What
keeps the copies honest is this script: each tarball's sha512 must equal the registry's
integrity pinned in vendor.json, and the tests fail when a committed copy differs from the
sha256 recorded from it. Standard library and `npm` only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "vendor.json"
CACHE = (
    Path(
        os.environ.get("EIP_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "exchange-platform"
    )
    / "npm"
)


def manifest() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(MANIFEST.read_text())
    return loaded


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch() -> int:
    data = manifest()
    packages = data["packages"]
    assert isinstance(packages, list)
    CACHE.mkdir(parents=True, exist_ok=True)
    recorded: dict[str, str] = {}
    for package in packages:
        spec = f"{package['name']}@{package['version']}"
        tarball = CACHE / f"{package['name'].replace('/', '-')}-{package['version']}.tgz"
        if not tarball.is_file():
            subprocess.run(  # noqa: S603 - npm (from PATH, as a developer runs it), a pinned spec
                [  # noqa: S607
                    "npm",
                    "pack",
                    spec,
                    "--pack-destination",
                    str(CACHE),
                    "--cache",
                    str(CACHE / "cache"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        digest = (
            "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        )
        if digest != package["integrity"]:
            print(f"vendor: {spec}: integrity {digest} is not the pinned one", file=sys.stderr)
            return 1
        with tarfile.open(tarball) as archive:
            for member, destination in package["files"].items():
                source = archive.extractfile(member)
                if source is None:
                    print(f"vendor: {spec} has no file {member}", file=sys.stderr)
                    return 1
                target = HERE / destination
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
                recorded[destination] = sha256(target)
        print(f"vendor: {spec} ok")
    data["sha256"] = dict(sorted(recorded.items()))
    MANIFEST.write_text(json.dumps(data, indent=2) + "\n")
    return 0


def problems() -> list[str]:
    """What differs between the committed copies and vendor.json (empty: all match)."""
    recorded = manifest()["sha256"]
    assert isinstance(recorded, dict)
    found = []
    for destination, expected in recorded.items():
        path = HERE / destination
        if not path.is_file():
            found.append(f"{destination}: missing")
        elif sha256(path) != expected:
            found.append(f"{destination}: differs from the copy vendor.json recorded")
    return found


def main(argv: list[str]) -> int:
    if argv == ["fetch"]:
        return fetch()
    if argv == ["check"]:
        found = problems()
        for problem in found:
            print(f"vendor: {problem}", file=sys.stderr)
        return 1 if found else 0
    print("usage: vendor.py fetch|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
