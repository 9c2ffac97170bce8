"""Where the real infrastructure is, for tests and tools.

Order of precedence, per component: an endpoint given in the environment
(KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, VAULT_ADDR + VAULT_TOKEN); the local processes that
`make up` started (recorded in .run/endpoints.json); containers started through testcontainers
where a Docker engine answers. When none is available the error says how to start one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eip.testing import redaction

if TYPE_CHECKING:
    from eip.testing.containers import Containers

REPO_ROOT = Path(__file__).resolve().parents[5]
ENDPOINTS_FILE = Path(os.environ.get("EIP_RUN_DIR", REPO_ROOT / ".run")) / "endpoints.json"

HOW_TO_START = (
    "start the local infrastructure with `make up` (or `make infra-up`), or point the tests at "
    "running servers with KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and VAULT_ADDR/VAULT_TOKEN"
)


class InfrastructureMissing(Exception):
    pass


@dataclass(frozen=True)
class VaultEndpoint:
    addr: str
    token: str = field(repr=False)  # a failing test prints its fixtures: never the token


def _local() -> dict[str, Any]:
    try:
        data = json.loads(ENDPOINTS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    assert isinstance(data, dict)
    return data


def _read_secret_file(path: str) -> str:
    return Path(path).read_text().strip()


def kafka_bootstrap_servers() -> str:
    if value := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return value
    if kafka := _local().get("kafka"):
        return str(kafka["bootstrap_servers"])
    if containers := _containers():
        return containers.kafka()
    raise InfrastructureMissing(f"no Kafka configured: {HOW_TO_START}")


def database_url() -> str:
    url = _database_url()
    redaction.remember_url_password(url)
    return url


def _database_url() -> str:
    if value := os.environ.get("DATABASE_URL"):
        return value
    if pg := _local().get("postgres"):
        password = _read_secret_file(pg["password_file"])
        return f"postgresql://{pg['user']}:{password}@{pg['host']}:{pg['port']}/{pg['database']}"
    if containers := _containers():
        return containers.postgres()
    raise InfrastructureMissing(f"no PostgreSQL configured: {HOW_TO_START}")


def vault_endpoint() -> VaultEndpoint:
    vault = _vault_endpoint()
    redaction.remember(vault.token)
    return vault


def _vault_endpoint() -> VaultEndpoint:
    addr, token = os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    if addr and token:
        return VaultEndpoint(addr, token)
    if vault := _local().get("vault"):
        init = json.loads(Path(vault["init_file"]).read_text())
        return VaultEndpoint(str(vault["addr"]), str(init["root_token"]))
    if containers := _containers():
        return containers.vault()
    raise InfrastructureMissing(f"no Vault configured: {HOW_TO_START}")


def _containers() -> Containers | None:
    from eip.testing.containers import Containers

    return Containers.if_docker_available()
