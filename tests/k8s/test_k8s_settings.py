"""Each Deployment gives its service what the service really reads: the names of its settings.

The environment a manifest provides (its ConfigMap's keys, and its ``env`` entries, secrets as
``secretKeyRef``) is compared with the service's settings class, walked through pydantic's
``model_fields`` (the shared ``eip.config.ServiceSettings`` fields included), and the service's
app is built from exactly that environment to read its port, its routes and the
infrastructure it connects to:

- every name provided is a setting (a typo would be ignored by the service, silently);
- a secret setting (``SecretStr``, or named like a password, secret, token, key or DSN) comes
  from a Secret, and no ConfigMap value is a URL with a password in it;
- in an overlay (what gets applied), every setting the service needs there is provided: one
  without a default, one whose default points at the loopback address (unreachable from a
  pod, e.g. an HTTP host, a JWKS URL), and the address and credentials of each piece of
  infrastructure the app connects to (its ``eip.runtime.Needs``);
- the container port, the probes' ports and the Service's target port are the service's
  ``http_port`` as it loads from that environment, and the probe paths are routes of its app;
- a URL naming another Service of the same rendering uses that Service's port and a route of
  its app, and token verifiers expect the issuer and audience the auth service signs with.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from starlette.routing import Match

from eip.config import ConfigError, ServiceSettings, load_settings
from eip.runtime import Needs

from .conftest import K8S, REPO, Manifest, Rendering

# Names that hold secrets even where a field is not typed SecretStr.
SECRET_NAME = re.compile(r"(^|_)(password|passwd|secret|token|api_key|apikey|dsn)$", re.IGNORECASE)
# A URL carrying a password: scheme://user:password@host
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.IGNORECASE)
URL = re.compile(r"https?://[^\s\"',}\]]+")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Needed exactly when the app connects to what they name (checked from its Needs, below).
INFRASTRUCTURE = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "VAULT_ADDR", "VAULT_TOKEN")
# Placeholders the app is built with where the manifest names a Secret: its shape, not a value.
SECRET_PLACEHOLDER = {"DATABASE_URL": "postgresql://user:placeholder@postgres:5432/eip"}
# The first test of a session may build kustomize (deploy/k8s/kustomize.sh): minutes, once.
pytestmark = pytest.mark.timeout(900)


def test_each_service_under_services_has_a_base() -> None:
    """A new service (automation is next) starts from a copy of a base."""
    packages = sorted(
        p.relative_to(REPO).parts[1] for p in REPO.glob("services/*/src/eip/*/app.py")
    )
    missing = [
        f"services/{p}: no deploy/k8s/base/{p.replace('_', '-')} (copy base/account and adapt it,"
        " docs/DEPLOY.md#adding-a-service)"
        for p in packages
        if not (K8S / "base" / p.replace("_", "-") / "kustomization.yaml").is_file()
    ]
    assert packages, "no service packages found under services/"
    assert not missing, "\n".join(missing)


def test_every_manifest_provides_exactly_the_settings_its_service_reads(
    renderings: dict[str, Rendering],
) -> None:
    problems = [p for r in renderings.values() for p in _check_rendering(r)]
    assert not problems, "\n".join(problems)


def test_the_check_names_the_missing_setting_and_the_manifest() -> None:
    """The check itself: a jwks URL left at its default and a misspelt name are both reported,
    each with the env name and the manifest (what a new setting of another change will meet)."""
    config = {"ACCOUNT_HTTP_HOST": "0.0.0.0", "ACCOUNT_HTP_PORT": "1"}  # noqa: S104 - as in a pod
    rendering = _rendering_of("account", config)
    problems = "\n".join(_check_rendering(rendering))
    assert "overlays/example: Deployment account does not provide ACCOUNT_AUTH_JWKS_URL" in problems
    assert "127.0.0.1:8105" in problems  # the default, as the reason
    assert "KAFKA_BOOTSTRAP_SERVERS" in problems  # needed: the app connects to Kafka
    assert "DATABASE_URL" in problems
    assert "ACCOUNT_HTP_PORT (from ConfigMap account-config) is not a setting of" in problems
    assert "listens on 8103" in problems  # ACCOUNT_HTTP_PORT unset: the default, not 8000


def test_the_check_refuses_a_secret_in_a_configmap() -> None:
    rendering = _rendering_of(
        "account",
        {"DATABASE_URL": "postgresql://eip:hunter2@postgres:5432/eip", "VAULT_TOKEN": "s.x"},
    )
    problems = "\n".join(_check_rendering(rendering))
    assert "DATABASE_URL is a secret setting but comes from ConfigMap account-config" in problems
    assert "VAULT_TOKEN is a secret setting but comes from ConfigMap account-config" in problems
    assert "holds a URL with a password" in problems
    assert "hunter2" not in problems


# --- the check ---------------------------------------------------------------------------------


@dataclass
class Provided:
    """The environment a container gets: name -> value, and where each name comes from."""

    values: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)  # "ConfigMap x", "Secret x", "value"
    secret: set[str] = field(default_factory=set)
    optional_secret: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Service:
    """A service's settings class and app factory, found by the Deployment's name."""

    name: str
    settings_cls: type[ServiceSettings]
    build_app: Callable[[Any], FastAPI]

    @classmethod
    def named(cls, name: str) -> Service:
        package = "eip." + name.replace("-", "_")
        module = importlib.import_module(f"{package}.settings")
        classes = [
            c
            for c in vars(module).values()
            if isinstance(c, type)
            and issubclass(c, ServiceSettings)
            and c.__module__ == module.__name__
        ]
        assert len(classes) == 1, f"{module.__name__} should define one ServiceSettings subclass"
        app_module = importlib.import_module(f"{package}.app")
        return cls(name, classes[0], app_module.build_app)


def _check_rendering(rendering: Rendering) -> Iterator[str]:
    loaded: dict[str, tuple[Service, ServiceSettings, FastAPI]] = {}
    for deployment, container in rendering.deployments():
        name = deployment["metadata"]["name"]
        where = f"{rendering.path}: Deployment {name}"
        try:
            service = Service.named(name)
        except ModuleNotFoundError as exc:
            yield f"{where}: a Deployment is named after its service's package ({exc})"
            continue
        provided = _provided(rendering, container, where)
        if isinstance(provided, str):
            yield provided
            continue
        yield from _names_and_secrets(where, service, provided)
        if rendering.is_overlay:
            yield from _missing_static(where, service, provided)
        try:
            settings, app = _load(service, provided)
        except ConfigError as exc:
            # A base may leave a setting without a default to its overlays.
            if rendering.is_overlay:
                yield f"{where}: the service would not start: {exc}"
            continue
        if rendering.is_overlay:
            yield from _missing_infrastructure(where, service, provided, app)
        yield from _ports_and_probes(rendering, where, deployment, container, settings, app)
        loaded[name] = (service, settings, app)
    yield from _cross_service(rendering, loaded)


def _provided(rendering: Rendering, container: Manifest, where: str) -> Provided | str:
    out = Provided()
    for ref in container.get("envFrom", []):
        if "configMapRef" not in ref:
            return (
                f"{where}: envFrom {ref} — secrets come one by one as secretKeyRef, so that"
                " each name can be checked against the settings"
            )
        cm_name = ref["configMapRef"]["name"]
        config_map = rendering.get("ConfigMap", cm_name)
        if config_map is None:
            return f"{where}: envFrom names ConfigMap {cm_name}, which the rendering lacks"
        label = f"ConfigMap {_generated_name(cm_name)}"
        for key, value in (config_map.get("data") or {}).items():
            out.values[key], out.source[key] = str(value), label
    for entry in container.get("env", []):
        key = entry["name"]
        secret_ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if secret_ref is not None:
            out.values[key] = SECRET_PLACEHOLDER.get(key, f"placeholder-{key.lower()}")
            out.source[key] = f"Secret {secret_ref['name']}"
            out.secret.add(key)
            if secret_ref.get("optional"):
                out.optional_secret.add(key)
        elif "value" in entry:
            out.values[key], out.source[key] = str(entry["value"]), "value"
        else:
            source = entry.get("valueFrom")
            return f"{where}: env {key} comes from {source}; use a ConfigMap key or a secretKeyRef"
    return out


def _generated_name(name: str) -> str:
    """``auth-config-7b8cf4mchf`` → ``auth-config``: kustomize's content hash suffix dropped."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def _env_names(cls: type[ServiceSettings], name: str, info: FieldInfo) -> tuple[str, ...]:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(c.upper() for c in alias.choices if isinstance(c, str))
    if isinstance(alias, str):
        return (alias.upper(),)
    return (f"{cls.env_prefix()}{name}".upper(),)


def _fields(cls: type[ServiceSettings]) -> Iterator[tuple[str, FieldInfo, tuple[str, ...]]]:
    for name, info in cls.model_fields.items():
        yield name, info, _env_names(cls, name, info)


def _is_secret(name: str, info: FieldInfo) -> bool:
    return SecretStr in _types(info.annotation) or bool(SECRET_NAME.search(name))


def _types(annotation: Any) -> set[Any]:
    args = getattr(annotation, "__args__", None)
    return {annotation} | ({t for a in args for t in _types(a)} if args else set())


def _names_and_secrets(where: str, service: Service, provided: Provided) -> Iterator[str]:
    cls = service.settings_cls
    real = {n for _, _, names in _fields(cls) for n in names}
    real |= {f"{cls.env_prefix()}CONFIG_FILE", "EIP_CONFIG_FILE"}
    secret = {n for name, info, names in _fields(cls) if _is_secret(name, info) for n in names}
    for key in sorted(provided.values):
        if key.upper() not in real:
            yield (
                f"{where}: {key} (from {provided.source[key]}) is not a setting of {cls.__name__}"
                f" ({cls.__module__}); the service would ignore it"
            )
        elif key.upper() in secret and key not in provided.secret:
            yield (
                f"{where}: {key} is a secret setting but comes from {provided.source[key]};"
                " give it as a secretKeyRef to a Secret the SREs create"
            )
        if key not in provided.secret and URL_WITH_PASSWORD.search(provided.values[key]):
            yield f"{where}: {key} (from {provided.source[key]}) holds a URL with a password"
    for key in sorted(provided.optional_secret):
        info = next((i for _, i, names in _fields(cls) if key.upper() in names), None)
        if info is not None and info.is_required():
            yield f"{where}: {key} has no default, so its secretKeyRef must not be optional"


def _loopback_default(info: FieldInfo) -> str | None:
    default = info.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    text = str(default)
    return text if any(host in text for host in LOOPBACK) else None


def _missing_static(where: str, service: Service, provided: Provided) -> Iterator[str]:
    given = {k.upper() for k in provided.values}
    for _, info, names in _fields(service.settings_cls):
        if given & set(names) or set(names) & set(INFRASTRUCTURE):
            continue
        if info.is_required():
            reason = "it has no default"
        elif (default := _loopback_default(info)) is not None:
            reason = f"its default {default!r} is the loopback address, unreachable in a pod"
        else:
            continue
        yield _missing(where, names[0], reason, service)


def _missing(where: str, env_name: str, reason: str, service: Service) -> str:
    return (
        f"{where} does not provide {env_name} ({reason}); add it to the ConfigMap"
        f" {service.name}-config (deploy/k8s/base/{service.name}/config.env, or the overlay's"
        " configMapGenerator), or as a secretKeyRef if it is a secret"
    )


def _load(service: Service, provided: Provided) -> tuple[ServiceSettings, FastAPI]:
    # Exactly the manifest's environment: nothing of the shell running the tests leaks in.
    with mock.patch.dict(os.environ, provided.values, clear=True):
        settings = load_settings(service.settings_cls)
    return settings, service.build_app(settings)


def _missing_infrastructure(
    where: str, service: Service, provided: Provided, app: FastAPI
) -> Iterator[str]:
    deps = getattr(app.state, "deps", None)
    needs = deps.needs if deps is not None else Needs(kafka=False, database=False, vault=False)
    wanted = {
        "KAFKA_BOOTSTRAP_SERVERS": (needs.kafka, "Kafka"),
        "DATABASE_URL": (needs.database, "PostgreSQL"),
        "VAULT_ADDR": (needs.vault, "Vault"),
        "VAULT_TOKEN": (needs.vault, "Vault"),
    }
    given = {k.upper() for k in provided.values}
    for env_name, (needed, what) in wanted.items():
        if needed and env_name not in given:
            reason = f"the app connects to {what} (its eip.runtime.Needs)"
            yield _missing(where, env_name, reason, service)


def _ports_and_probes(
    rendering: Rendering,
    where: str,
    deployment: Manifest,
    container: Manifest,
    settings: ServiceSettings,
    app: FastAPI,
) -> Iterator[str]:
    port_var = f"{settings.env_prefix()}HTTP_PORT"
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if ports.get("http") != settings.http_port:
        yield (
            f"{where}: container port 'http' is {ports.get('http')} but the service listens on"
            f" {settings.http_port} ({port_var})"
        )
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe_name, path in expected.items():
        probe = container.get(probe_name)
        if probe is None or "httpGet" not in probe:
            yield f"{where}: no {probe_name} (httpGet {path})"
            continue
        get = probe["httpGet"]
        port = ports.get(get["port"], get["port"])
        if port != settings.http_port:
            yield (
                f"{where}: {probe_name} probes port {port}, the service listens on"
                f" {settings.http_port}"
            )
        if get["path"] != path:
            yield f"{where}: {probe_name} probes {get['path']}, expected {path}"
        if not _serves(app, get["path"]):
            yield f"{where}: {probe_name} path {get['path']} is not a route of the service's app"
    selector = deployment["spec"]["selector"]["matchLabels"]
    for svc in rendering.of_kind("Service"):
        if svc["spec"].get("selector") != selector:
            continue
        for port in svc["spec"]["ports"]:
            target = ports.get(port.get("targetPort"), port.get("targetPort", port["port"]))
            if target != settings.http_port:
                yield (
                    f"{rendering.path}: Service {svc['metadata']['name']} port {port['port']}"
                    f" targets {target}, the service listens on {settings.http_port}"
                )


def _serves(app: FastAPI, path: str) -> bool:
    """Whether a GET of ``path`` reaches a route of the app: Starlette's own matching, so
    routers included under a prefix count as they do when serving."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "path_params": {}}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def _cross_service(
    rendering: Rendering, loaded: dict[str, tuple[Service, ServiceSettings, FastAPI]]
) -> Iterator[str]:
    services = {s["metadata"]["name"]: s for s in rendering.of_kind("Service")}
    for name, (_, settings, _) in loaded.items():
        for key, value in _setting_texts(settings):
            for url in URL.findall(value):
                parts = urlsplit(url)
                target = services.get(parts.hostname or "")
                if target is None or parts.hostname not in loaded:
                    continue  # outside this rendering (an exchange, the infrastructure)
                service_ports = {p["port"] for p in target["spec"]["ports"]}
                port = parts.port or (443 if parts.scheme == "https" else 80)
                where = f"{rendering.path}: Deployment {name}: {key}={url}"
                if port not in service_ports:
                    yield f"{where}: Service {parts.hostname} has ports {sorted(service_ports)}"
                if parts.path.strip("/") and not _serves(loaded[parts.hostname][2], parts.path):
                    yield f"{where}: {parts.path} is not a route of {parts.hostname}"
    auth = loaded.get("auth")
    if auth is None:
        return
    for name, (_, settings, _) in loaded.items():
        for claim in ("issuer", "audience"):
            expected = getattr(auth[1], claim)
            got = getattr(settings, f"auth_{claim}", expected)
            if got != expected:
                yield (
                    f"{rendering.path}: Deployment {name} expects token {claim} {got!r}, the auth"
                    f" service signs with {expected!r}"
                )


def _setting_texts(settings: ServiceSettings) -> Iterator[tuple[str, str]]:
    for name, value in settings:
        if not isinstance(value, SecretStr):
            yield name, value if isinstance(value, str) else repr(value)


def _rendering_of(service: str, config: dict[str, str]) -> Rendering:
    """A one-Deployment overlay as kustomize would render it, for testing the check itself."""
    config_map: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{service}-config-abcde12345"},
        "data": config,
    }
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": service,
                            "image": f"eip/{service}:0.1.0",
                            "ports": [{"name": "http", "containerPort": 8000}],
                            "envFrom": [{"configMapRef": {"name": f"{service}-config-abcde12345"}}],
                            "startupProbe": probe,
                            "livenessProbe": probe,
                            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
                        }
                    ]
                }
            },
        },
    }
    return Rendering("overlays/example", [config_map, deployment])
