"""The chaos suite's platform: Kafka, PostgreSQL, Vault, the exchange simulator and every
service, started by deploy/local/up.sh on a run directory and ports of its own, so that
stopping its Kafka or PostgreSQL never touches the shared servers other tests use.

The services run as ``make up`` runs them (``services.sh``: the venv's interpreter exec'd in a
session of its own, its pid file naming it), with the configured subscriptions of
``services.sh`` (Binance BTC/USDT trades and ticker, ETH/USDT trades on the simulator).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from eip.testing.local import REPO_ROOT, LocalScripts, alive, free_port, local_scripts_in

SERVICES = (
    "exchange-simulator",
    "market-data",
    "order-book",
    "account",
    "order-management",
    "auth",
    "console",
    "automation",
)
PORT_VARIABLES = {
    "exchange-simulator": "SIMULATOR_HTTP_PORT",
    "market-data": "MARKET_DATA_HTTP_PORT",
    "order-book": "ORDER_BOOK_HTTP_PORT",
    "account": "ACCOUNT_HTTP_PORT",
    "order-management": "ORDER_MANAGEMENT_HTTP_PORT",
    "auth": "AUTH_HTTP_PORT",
    "console": "CONSOLE_HTTP_PORT",
    "automation": "AUTOMATION_HTTP_PORT",
}
UP_TIMEOUT_S = 900  # a fresh machine installs Kafka's jars and builds Vault first


@dataclass
class Platform:
    """The chaos suite's own platform and the verbs the suite uses on it."""

    scripts: LocalScripts

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.scripts.env[PORT_VARIABLES[service]]}"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.scripts.env['EIP_KAFKA_PORT']}"

    def pid(self, service: str) -> int:
        return int(self.scripts.pid_file(service).read_text())

    def log(self, service: str) -> str:
        path = self.scripts.run_dir / "services" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin_secret(self) -> str:
        return (self.scripts.run_dir / "auth-admin-secret").read_text().strip()

    async def run(self, script: str, *args: str) -> None:
        """A deploy/local script, off the event loop; fails the test unless it exits 0."""
        await asyncio.to_thread(self.scripts.ok, script, *args)

    async def kill(self, service: str) -> int:
        """SIGKILL of the service's own process, as an OOM killer or a node loss would."""
        pid = self.pid(service)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(pid):
            assert time.monotonic() < deadline, f"{service} (pid {pid}) survived SIGKILL"
            await asyncio.sleep(0.05)
        return pid

    async def token(self, scopes: str) -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{self.url('auth')}/v1/tokens",
                json={
                    "client_id": "eip-admin",
                    "client_secret": self.admin_secret(),
                    "scope": scopes,
                },
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    # In the checkout's own .run/ (gitignored), not pytest's temporary folders: another
    # session's pytest prunes those, and a failed run's logs must stay to be read.
    run_dir = REPO_ROOT / ".run" / "chaos"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    scripts = local_scripts_in(run_dir)
    for variable in (
        "EIP_KAFKA_PORT",
        "EIP_KAFKA_CONTROLLER_PORT",
        "EIP_PG_PORT",
        "EIP_VAULT_PORT",
        *PORT_VARIABLES.values(),
    ):
        scripts.env[variable] = str(free_port())
    started = time.monotonic()
    try:
        result = scripts.run("up", "all", timeout_s=UP_TIMEOUT_S)
        assert result.returncode == 0, f"up.sh all exited {result.returncode}:\n{result.stderr}"
        endpoints = json.loads((scripts.run_dir / "endpoints.json").read_text())
        assert set(endpoints["services"]) == set(SERVICES), endpoints
        print(f"chaos platform up in {time.monotonic() - started:.0f}s")
        yield Platform(scripts)
    finally:
        scripts.run("down", timeout_s=300)
        scripts.run("postgres", "purge", timeout_s=120)
        _report_logs(scripts.run_dir)


def _report_logs(run_dir: Path) -> None:
    """Where the services' logs are (the run directory stays until the next run)."""
    logs = sorted((run_dir / "services").glob("*.log"))
    print("chaos logs: " + ", ".join(str(p) for p in logs))
