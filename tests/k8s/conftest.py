"""The Kubernetes manifests (deploy/k8s) as kustomize renders them, for the tests beside this file.

Every directory under deploy/k8s with a kustomization.yaml is rendered once per session with
the pinned kustomize (deploy/k8s/kustomize.sh builds it from the Go module proxy on first use,
like Vault), so the tests check exactly what `kubectl apply -k` would send. No cluster is
involved. A kustomization that does not render fails every test that asks for it, with
kustomize's own message.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUSTOMIZE = K8S / "kustomize.sh"
# First use builds kustomize (a few minutes); later renders take a fraction of a second.
RENDER_TIMEOUT_S = 600

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendering:
    """One kustomization rendered: `path` relative to deploy/k8s, e.g. ``overlays/in-cluster``."""

    path: str
    documents: list[Manifest]

    @property
    def is_overlay(self) -> bool:
        """Overlays are what gets applied; a base alone lacks its environment's wiring."""
        return self.path.startswith("overlays/")

    def of_kind(self, kind: str) -> list[Manifest]:
        return [d for d in self.documents if d.get("kind") == kind]

    def get(self, kind: str, name: str) -> Manifest | None:
        return next((d for d in self.of_kind(kind) if d["metadata"]["name"] == name), None)

    def deployments(self) -> Iterator[tuple[Manifest, Manifest]]:
        """Each Deployment with its one container (every service runs one)."""
        for deployment in self.of_kind("Deployment"):
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            yield deployment, container


def kustomization_dirs() -> list[str]:
    return sorted(str(p.parent.relative_to(K8S)) for p in K8S.rglob("kustomization.yaml"))


def render(path: str) -> Rendering:
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        ["bash", str(KUSTOMIZE), "build", str(K8S / path)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=RENDER_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kustomize build deploy/k8s/{path} failed:\n{result.stderr}", pytrace=False)
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    return Rendering(path, documents)


@pytest.fixture(scope="session")
def renderings() -> dict[str, Rendering]:
    """Every kustomization under deploy/k8s, rendered."""
    dirs = kustomization_dirs()
    assert dirs, f"no kustomization.yaml under {K8S}"
    return {path: render(path) for path in dirs}
