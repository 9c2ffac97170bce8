"""Every rendered manifest is valid Kubernetes and follows the platform's deployment rules.

Validity: each object of each kustomization, as kustomize renders it, against the Kubernetes
JSON schemas that kubernetes-validate bundles (offline), strictly (an unknown field is an
error, as a misspelt probe field would otherwise be dropped by the API server without a word),
for the oldest and the newest Kubernetes release it knows. A kind or apiVersion that has no
schema (autoscaling/v2beta2, removed in 1.26) fails too, where the command-line tool would
only warn.

Rules (docs/DEPLOY.md): no Secret values anywhere; each pod meets the `restricted` Pod Security
Standard and runs read-only; requests and limits; each Deployment has a Service, a
PodDisruptionBudget, and either a fixed replica count or an autoscaler (never both); a
single-instance service is replaced with Recreate, never two at once; every object carries its
service's name label (so `kubectl apply -l` takes a service whole); images are the per-service
`eip/<name>` that overlays tag; the exchange simulator is only in the test bench.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

from .conftest import Manifest, Rendering, kustomization_dirs

KUBERNETES_VERSIONS = (
    kubernetes_validate.utils.all_versions()[0],
    kubernetes_validate.utils.latest_version(),
)
NAME_LABEL = "app.kubernetes.io/name"
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
UNITS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
TEST_BENCH_ONLY = {"exchange-simulator"}
# The first test of a session may build kustomize (deploy/k8s/kustomize.sh): minutes, once.
pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(
    renderings: dict[str, Rendering], version: str
) -> None:
    problems = []
    for rendering in renderings.values():
        assert rendering.documents, f"{rendering.path} renders nothing"
        for doc in rendering.documents:
            what = f"{rendering.path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                problems.append(f"{what} (Kubernetes {version}): {path}: {exc.message}")
            except SchemaNotFoundError as exc:
                problems.append(f"{what}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_a_misspelt_field_or_a_removed_api_fails_validation() -> None:
    """The validator as used above: strict, and no schema is a failure, not a warning."""
    version = KUBERNETES_VERSIONS[-1]
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSecond": 10}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "x", "image": "x", "livenessProbe": probe}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError, match="periodSecond"):
        kubernetes_validate.validate(pod, version, strict=True)
    hpa = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {}}
    with pytest.raises(SchemaNotFoundError):
        kubernetes_validate.validate(hpa, version, strict=True)


def test_the_tree_holds_the_bases_and_overlays_the_docs_describe() -> None:
    dirs = kustomization_dirs()
    assert {"overlays/in-cluster", "overlays/test-bench"} <= set(dirs)
    assert {
        f"base/{s}"
        for s in (
            "market-data",
            "order-book",
            "account",
            "order-management",
            "auth",
            "automation",
            "console",
            "exchange-simulator",
        )
    } <= set(dirs)


def test_no_secret_value_is_in_any_manifest(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        secrets = [d["metadata"]["name"] for d in rendering.of_kind("Secret")]
        assert not secrets, f"{rendering.path} renders Secret objects {secrets}: SREs create them"
        for deployment, container in rendering.deployments():
            for entry in container.get("env", []):
                assert "value" not in entry or not re.search(
                    r"(password|secret|token)", entry["name"], re.IGNORECASE
                ), f"{rendering.path}: {deployment['metadata']['name']} sets {entry['name']} inline"


def test_every_pod_meets_the_restricted_pod_security_standard_and_runs_read_only(
    renderings: dict[str, Rendering],
) -> None:
    _assert_each_deployment(renderings, _pod_security)


def test_every_container_requests_and_limits_cpu_and_memory(
    renderings: dict[str, Rendering],
) -> None:
    _assert_each_deployment(renderings, _resources)


def test_every_deployment_has_a_service_a_budget_and_one_owner_of_its_replica_count(
    renderings: dict[str, Rendering],
) -> None:
    problems = []
    for rendering in renderings.values():
        names = {d["metadata"]["name"] for d in rendering.of_kind("Deployment")}
        for target in sorted(_autoscaled(rendering) - names):
            problems.append(f"{rendering.path}: an autoscaler targets missing Deployment {target}")
    assert not problems, "\n".join(problems)
    _assert_each_deployment(renderings, _service_budget_and_replicas)


def test_every_object_carries_its_services_name_label(renderings: dict[str, Rendering]) -> None:
    """`kubectl apply -k … -l app.kubernetes.io/name=<service>` then takes the service whole:
    its ConfigMap with its Deployment, never one without the other."""
    problems = []
    for rendering in renderings.values():
        for doc in rendering.documents:
            labels = doc["metadata"].get("labels", {})
            name = doc["metadata"]["name"]
            if labels.get(NAME_LABEL) is None or not name.startswith(labels[NAME_LABEL]):
                problems.append(f"{rendering.path}: {doc['kind']}/{name} labelled {labels}")
            if labels.get("app.kubernetes.io/part-of") != "exchange-platform":
                problems.append(
                    f"{rendering.path}: {doc['kind']}/{name} not part-of exchange-platform"
                )
    assert not problems, "\n".join(problems)


def test_images_are_one_per_service_and_tagged_by_the_overlays(
    renderings: dict[str, Rendering],
) -> None:
    problems = []
    for rendering in renderings.values():
        for deployment, container in rendering.deployments():
            name = deployment["metadata"]["name"]
            image = container["image"]
            repository, tag = _split_image(image)
            if not repository.endswith(f"eip/{name}"):
                problems.append(f"{rendering.path}: {name} runs {image}, expected eip/{name}")
            if rendering.is_overlay and (not tag or tag == "latest"):
                problems.append(f"{rendering.path}: {name} runs {image}: tag it in the overlay")
            if not rendering.is_overlay and image != f"eip/{name}":
                problems.append(f"{rendering.path}: a base names eip/{name}; overlays set tags")
    assert not problems, "\n".join(problems)


def test_every_base_is_deployed_by_an_overlay_and_the_simulator_only_on_test_benches(
    renderings: dict[str, Rendering],
) -> None:
    overlays = {p: r for p, r in renderings.items() if r.is_overlay}
    deployed = {
        path: {d["metadata"]["name"] for d in r.of_kind("Deployment")}
        for path, r in overlays.items()
    }
    bases = {p.removeprefix("base/") for p in renderings if p.startswith("base/")}
    assert bases <= set().union(*deployed.values()), (
        f"bases in no overlay: {bases - set().union(*deployed.values())}"
    )
    for path, names in deployed.items():
        if "test-bench" not in path:
            assert not names & TEST_BENCH_ONLY, f"{path} deploys {names & TEST_BENCH_ONLY}"


Check = Callable[[Rendering, str, Manifest, Manifest], Iterator[str]]


def _assert_each_deployment(renderings: dict[str, Rendering], check: Check) -> None:
    """Runs ``check`` on every Deployment of every rendering; fails with all it found."""
    problems = [
        problem
        for rendering in renderings.values()
        for deployment, container in rendering.deployments()
        for problem in check(
            rendering,
            f"{rendering.path}: Deployment {deployment['metadata']['name']}",
            deployment,
            container,
        )
    ]
    assert not problems, "\n".join(problems)


def _pod_security(
    _: Rendering, where: str, deployment: Manifest, container: Manifest
) -> Iterator[str]:
    pod = deployment["spec"]["template"]["spec"]
    pod_ctx = pod.get("securityContext", {})
    ctx = container.get("securityContext", {})
    expectations: dict[str, tuple[Any, Any]] = {
        "runAsNonRoot": (ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")), True),
        # the image's user is a name (USER eip): the kubelet can only check a number
        "runAsUser": (ctx.get("runAsUser", pod_ctx.get("runAsUser")), 10001),
        "seccompProfile": (
            ctx.get("seccompProfile", pod_ctx.get("seccompProfile")),
            {"type": "RuntimeDefault"},
        ),
        "allowPrivilegeEscalation": (ctx.get("allowPrivilegeEscalation"), False),
        "capabilities": (ctx.get("capabilities"), {"drop": ["ALL"]}),
        "readOnlyRootFilesystem": (ctx.get("readOnlyRootFilesystem"), True),
        "privileged": (ctx.get("privileged", False), False),
        "automountServiceAccountToken": (pod.get("automountServiceAccountToken"), False),
        # service links would inject <SERVICE>_PORT… into the settings' prefixes
        "enableServiceLinks": (pod.get("enableServiceLinks"), False),
    }
    for key, (got, want) in expectations.items():
        if got != want:
            yield f"{where}: {key} is {got!r}, expected {want!r}"
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            yield f"{where}: {flag}"
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            yield f"{where}: hostPath volume {volume['name']}"


def _resources(_: Rendering, where: str, __: Manifest, container: Manifest) -> Iterator[str]:
    resources = container.get("resources", {})
    for resource in ("cpu", "memory"):
        request = _quantity(resources.get("requests", {}).get(resource))
        limit = _quantity(resources.get("limits", {}).get(resource))
        if request is None or limit is None:
            yield f"{where}: {resource} needs a request and a limit (quantities)"
        elif request > limit:
            yield f"{where}: {resource} request above its limit"


def _autoscaled(rendering: Rendering) -> set[str]:
    return {
        h["spec"]["scaleTargetRef"]["name"]
        for h in rendering.of_kind("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    }


def _service_budget_and_replicas(
    rendering: Rendering, where: str, deployment: Manifest, _: Manifest
) -> Iterator[str]:
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    if not _selects(spec["selector"]["matchLabels"], pod_labels):
        yield f"{where}: its selector does not select its own pods"
    if not any(
        _selects(s["spec"].get("selector"), pod_labels) for s in rendering.of_kind("Service")
    ):
        yield f"{where}: no Service selects its pods"
    budgets = [
        p
        for p in rendering.of_kind("PodDisruptionBudget")
        if _selects(p["spec"]["selector"]["matchLabels"], pod_labels)
    ]
    if len(budgets) != 1:
        yield f"{where}: {len(budgets)} PodDisruptionBudgets select it, expected 1"
    if deployment["metadata"]["name"] in _autoscaled(rendering):
        if "replicas" in spec:
            yield f"{where}: autoscaled, so it must not fix replicas"
        return
    replicas = spec.get("replicas")
    if replicas is None:
        yield f"{where}: neither replicas nor an autoscaler"
    elif replicas == 1 and spec.get("strategy", {}).get("type") != "Recreate":
        yield f"{where}: one instance by design, so strategy Recreate"
    elif replicas == 1 and budgets and "minAvailable" in budgets[0]["spec"]:
        yield f"{where}: minAvailable on one instance blocks every drain"


def _split_image(image: str) -> tuple[str, str]:
    """``registry:5000/eip/auth:1.2`` → (``registry:5000/eip/auth``, ``1.2``); a digest counts
    as a tag."""
    reference, _, digest = image.partition("@")
    repository, tag = reference, ""
    if ":" in reference.rsplit("/", 1)[-1]:
        repository, tag = reference.rsplit(":", 1)
    return repository, digest or tag


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _quantity(value: Any) -> Decimal | None:
    match = QUANTITY.match(str(value)) if value is not None else None
    return Decimal(match[1]) * UNITS[match[2]] if match else None
