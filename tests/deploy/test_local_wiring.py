"""Every service that `make up` starts follows the ports it is given — exhaustively.

For a set of moved ports and a host of its own, each service's effective configuration is
rendered as deploy/local/services.sh would start it (`services.sh env <service>`) and loaded
through the service's own settings class. Every setting whose name says it is an address (a
URL, a port, bootstrap servers, a host...) must then be set explicitly by services.sh and point
at the moved ports and host, never at a default. The fields are found by walking the settings
classes, so a setting added later without wiring in services.sh fails here.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from eip.config import ServiceSettings, load_settings

from .conftest import REPO_ROOT, LocalScripts

HOST = "127.0.0.9"
# Infrastructure ports (deploy/local/common.sh) and their defaults.
INFRA_PORTS = {
    "EIP_KAFKA_PORT": 19092,
    "EIP_KAFKA_CONTROLLER_PORT": 19093,
    "EIP_PG_PORT": 15432,
    "EIP_VAULT_PORT": 18200,
}
ADDRESS_FIELD = re.compile(r"(_url|_urls|_uri|_port|_ports|_servers|_addr|_host|_hosts|_endpoint)$")
# Where the settings known today must point; any other address field must at least point at one
# of the moved ports (and nowhere else).
EXPECTED_PORT = {
    "kafka_bootstrap_servers": "EIP_KAFKA_PORT",
    "database_url": "EIP_PG_PORT",
    "vault_addr": "EIP_VAULT_PORT",
    "auth_jwks_url": "AUTH_HTTP_PORT",
    "binance_base_url": "SIMULATOR_HTTP_PORT",
    "kraken_base_url": "SIMULATOR_HTTP_PORT",
    "coinbase_base_url": "SIMULATOR_HTTP_PORT",
    "bitmex_base_url": "SIMULATOR_HTTP_PORT",
    "kucoin_base_url": "SIMULATOR_HTTP_PORT",
    "bitfinex_base_url": "SIMULATOR_HTTP_PORT",
    "htx_base_url": "SIMULATOR_HTTP_PORT",
    "bybit_base_url": "SIMULATOR_HTTP_PORT",
    "okx_base_url": "SIMULATOR_HTTP_PORT",
    "gateio_base_url": "SIMULATOR_HTTP_PORT",
    "exchange_urls": "SIMULATOR_HTTP_PORT",
    # the console's way to each service's public API
    "auth_url": "AUTH_HTTP_PORT",
    "market_data_url": "MARKET_DATA_HTTP_PORT",
    "order_book_url": "ORDER_BOOK_HTTP_PORT",
    "account_url": "ACCOUNT_HTTP_PORT",
    "order_management_url": "ORDER_MANAGEMENT_HTTP_PORT",
    "automation_url": "AUTOMATION_HTTP_PORT",
}


def services(scripts: LocalScripts) -> list[tuple[str, str, str, int]]:
    """(name, module, port variable, default port) of each service services.sh runs."""
    rows = [line.split("\t") for line in scripts.ok("services", "list").splitlines()]
    return [(name, module, var, int(default)) for name, module, var, default in rows]


def moved_ports(scripts: LocalScripts) -> dict[str, int]:
    variables = [*INFRA_PORTS, *(var for _, _, var, _ in services(scripts))]
    return {var: 41000 + i for i, var in enumerate(variables)}


def settings_class(module: str) -> type[ServiceSettings]:
    settings_module = importlib.import_module(f"{module}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(settings_module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls.__module__ == settings_module.__name__
    ]
    assert len(found) == 1, f"{settings_module.__name__} should define one settings class"
    return found[0]


def default_ports(scripts: LocalScripts) -> set[int]:
    """Every port a default names: the scripts' and every settings class's own."""
    ports = set(INFRA_PORTS.values()) | {default for *_, default in services(scripts)}
    for _, module, _, _ in services(scripts):
        for name, info in settings_class(module).model_fields.items():
            if ADDRESS_FIELD.search(name):
                default = info.get_default(call_default_factory=True)
                ports |= {port for _, port in addresses(default)}
    return ports


def rendered_env(scripts: LocalScripts, name: str, ports: dict[str, int]) -> dict[str, str]:
    env = {var: str(port) for var, port in ports.items()} | {"EIP_HOST": HOST}
    out = scripts.ok("services", "env", name, extra_env=env)
    pairs = [line.split("=", 1) for line in out.splitlines()]
    return dict((key, value) for key, value in pairs)


def effective_settings(
    cls: type[ServiceSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The settings the service would load from exactly this environment."""
    with monkeypatch.context() as patch:
        for key in list(os.environ):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return load_settings(cls)


def addresses(value: Any) -> Iterator[tuple[str | None, int]]:
    """(host, port) of every address in a setting's value: a port, a URL, `host:port[,...]`,
    or a list or mapping of them."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        yield None, value
    elif isinstance(value, dict):
        for item in value.values():
            yield from addresses(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from addresses(item)
    elif isinstance(value, str) and "://" in value:
        url = urlsplit(value)
        assert url.port is not None, f"{value!r} names no port"
        yield url.hostname, url.port
    elif isinstance(value, str) and ":" in value:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            yield host, int(port)


def test_every_service_with_settings_is_started_by_the_local_scripts(
    local_scripts: LocalScripts,
) -> None:
    with_settings = {
        f"eip.{path.parent.name}" for path in REPO_ROOT.glob("services/*/src/eip/*/settings.py")
    }
    assert with_settings == {module for _, module, _, _ in services(local_scripts)}


def test_the_moved_ports_are_none_of_the_defaults(local_scripts: LocalScripts) -> None:
    moved = set(moved_ports(local_scripts).values())
    assert len(moved) == len(moved_ports(local_scripts))
    assert not moved & default_ports(local_scripts)
    # the defaults were found: the settings classes' own (e.g. the simulator's in auth's URL)
    assert {19092, 8300, 8105} <= default_ports(local_scripts)


SERVICES = [
    "exchange-simulator",
    "market-data",
    "order-book",
    "account",
    "order-management",
    "auth",
    "automation",
    "console",
]


def test_every_service_of_the_local_scripts_is_checked_below(local_scripts: LocalScripts) -> None:
    assert [name for name, *_ in services(local_scripts)] == SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_every_address_setting_of_a_service_points_at_the_ports_it_was_given(
    service: str, local_scripts: LocalScripts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = moved_ports(local_scripts)
    defaults = default_ports(local_scripts)
    _, module, port_var, _ = next(row for row in services(local_scripts) if row[0] == service)
    cls = settings_class(module)
    env = rendered_env(local_scripts, service, ports)
    settings = effective_settings(cls, env, monkeypatch)

    checked = []
    for name in cls.model_fields:
        if not ADDRESS_FIELD.search(name):
            continue
        checked.append(name)
        assert name in settings.model_fields_set, (
            f"{service}: services.sh does not set {name} (so it keeps its default)"
        )
        value = getattr(settings, name)
        if name.endswith(("_host", "_hosts")):
            assert value == HOST, f"{service}: {name} = {value!r}"
            continue
        found = list(addresses(value))
        assert found, f"{service}: {name} names no address"
        for host, port in found:
            assert host in (None, HOST), f"{service}: {name} points at host {host}"
            assert port not in defaults, f"{service}: {name} points at default port {port}"
            assert port in ports.values(), f"{service}: {name} points at {port}, not a moved port"
            expected = port_var if name == "http_port" else EXPECTED_PORT.get(name)
            if expected is not None:
                assert port == ports[expected], f"{service}: {name} should use {expected}"
    # the walk saw the settings every service has
    assert {"http_host", "http_port", "kafka_bootstrap_servers", "database_url"} <= set(checked)


def test_credentials_go_only_to_the_services_that_use_them(local_scripts: LocalScripts) -> None:
    ports = moved_ports(local_scripts)
    simulator = rendered_env(local_scripts, "exchange-simulator", ports)
    market_data = rendered_env(local_scripts, "market-data", ports)
    auth = rendered_env(local_scripts, "auth", ports)
    # the simulator uses no database: it is told where it is, without the password
    assert urlsplit(simulator["DATABASE_URL"]).password is None
    assert urlsplit(market_data["DATABASE_URL"]).password == "<redacted>"
    # only auth gets a Vault token (its own, limited one); the listing never shows secrets
    assert "VAULT_TOKEN" not in simulator
    assert "VAULT_TOKEN" not in market_data
    assert auth["VAULT_TOKEN"] == "<redacted>"
    assert auth["AUTH_BOOTSTRAP_CLIENT_SECRET"] == "<redacted>"


def test_the_operator_chooses_the_exchanges_but_not_the_infrastructure(
    local_scripts: LocalScripts,
) -> None:
    ports = moved_ports(local_scripts)
    # A shell that ran another platform's env.sh, and an operator's own venue.
    shell = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "DATABASE_URL": "postgresql://eip:x@127.0.0.1:15432/eip",
        "MARKET_DATA_EXCHANGE_URLS": '{"binance":"https://api.binance.com"}',
    }
    local_scripts.env.update(shell)
    env = rendered_env(local_scripts, "market-data", ports)
    assert env["MARKET_DATA_EXCHANGE_URLS"] == shell["MARKET_DATA_EXCHANGE_URLS"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == f"{HOST}:{ports['EIP_KAFKA_PORT']}"
    assert urlsplit(env["DATABASE_URL"]).port == ports["EIP_PG_PORT"]


def test_rendering_needs_no_infrastructure_and_creates_nothing(
    local_scripts: LocalScripts, tmp_path: Path
) -> None:
    rendered_env(local_scripts, "auth", moved_ports(local_scripts))
    created = [p for p in local_scripts.run_dir.rglob("*") if p.is_file()]
    assert created == [], "rendering the environment wrote secrets or state"
