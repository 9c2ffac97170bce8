"""Generate the Python protobuf modules from proto/ (``make proto``), or check they are current.

The generated files are committed so that services need neither protoc nor grpcio-tools at run
time; ``--check`` (and the test that runs it) fails when someone edits a .proto and forgets to
regenerate.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[5]
PROTO_ROOT = REPO_ROOT / "proto"
OUTPUT_ROOT = REPO_ROOT / "libs" / "events" / "src"
GENERATED_PACKAGE = Path("eip") / "events" / "v1"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / GENERATED_PACKAGE).glob("*.proto"))


def generate(output_root: Path) -> list[Path]:
    """Run protoc for every schema into output_root; return the generated files."""
    import grpc_tools
    from grpc_tools import protoc  # dev-only dependency, imported lazily on purpose

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={output_root}",
        f"--mypy_out={output_root}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {files}")
    out_dir = output_root / GENERATED_PACKAGE
    return sorted(p for p in out_dir.iterdir() if p.name.endswith(("_pb2.py", "_pb2.pyi")))


def stale_files() -> list[str]:
    """Names of generated files that differ from what the committed .proto files produce."""
    committed_dir = OUTPUT_ROOT / GENERATED_PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        fresh_names = {p.name for p in fresh}
        committed_names = {
            p.name for p in committed_dir.iterdir() if p.name.endswith(("_pb2.py", "_pb2.pyi"))
        }
        stale = sorted(committed_names ^ fresh_names)
        for path in fresh:
            committed = committed_dir / path.name
            if committed.exists() and not filecmp.cmp(path, committed, shallow=False):
                stale.append(path.name)
    return sorted(set(stale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale generated code, run `make proto`: {', '.join(stale)}", file=sys.stderr)
            return 1
        print("generated protobuf code is up to date")
        return 0
    for path in generate(OUTPUT_ROOT):
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
