"""Infrastructure in containers, used only where a Docker engine answers.

The local-process path (deploy/local) is the one exercised on machines without Docker; this
path gives the same endpoints on developer laptops and CI runners that have an engine.
"""

from __future__ import annotations

import atexit
from functools import cache
from typing import Any

from eip.testing.endpoints import VaultEndpoint

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:16"
VAULT_IMAGE = "openbao/openbao:2.4.4"
_VAULT_ROOT_TOKEN = "eip-test-root"  # noqa: S105 - a throwaway container's dev-mode token


class Containers:
    def __init__(self) -> None:
        self._started: list[Any] = []
        atexit.register(self._stop_all)

    @staticmethod
    @cache
    def if_docker_available() -> Containers | None:
        try:
            import docker

            docker.from_env(timeout=2).ping()
        except Exception:
            return None
        return Containers()

    def _start(self, container: Any) -> Any:
        container.start()
        self._started.append(container)
        return container

    def _stop_all(self) -> None:
        for container in reversed(self._started):
            container.stop()

    @cache  # noqa: B019 - one container per process is the point
    def kafka(self) -> str:
        from testcontainers.kafka import KafkaContainer

        container = self._start(KafkaContainer(KAFKA_IMAGE).with_kraft())
        return str(container.get_bootstrap_server())

    @cache  # noqa: B019
    def postgres(self) -> str:
        from testcontainers.postgres import PostgresContainer

        container = self._start(PostgresContainer(POSTGRES_IMAGE, driver=None))
        return str(container.get_connection_url())

    @cache  # noqa: B019
    def vault(self) -> VaultEndpoint:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        container = self._start(
            DockerContainer(VAULT_IMAGE)
            .with_env("BAO_DEV_ROOT_TOKEN_ID", _VAULT_ROOT_TOKEN)
            .with_exposed_ports(8200)
        )
        wait_for_logs(container, "core: vault is unsealed", timeout=60)
        addr = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8200)}"
        return VaultEndpoint(addr, _VAULT_ROOT_TOKEN)
