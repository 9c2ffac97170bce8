"""Each service starts as its own process, finds its real dependencies, and says so on /readyz."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from eip.testing.endpoints import VaultEndpoint

pytestmark = pytest.mark.integration

SERVICES = {
    "market-data": ("eip.market_data", "MARKET_DATA_", {"kafka", "postgres"}),
    "order-book": ("eip.order_book", "ORDER_BOOK_", {"kafka", "postgres"}),
    "account": ("eip.account", "ACCOUNT_", {"kafka", "postgres", "schema"}),
    "order-management": (
        "eip.order_management",
        "ORDER_MANAGEMENT_",
        {"kafka", "postgres", "order_management"},
    ),
    "auth": ("eip.auth", "AUTH_", {"kafka", "postgres", "vault", "auth"}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(module: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"{module} did not stop within 15s of SIGTERM")


def wait_ready(url: str, expect: int = 200, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{url}/readyz", timeout=5)
            if last.status_code == expect:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url}/readyz never answered {expect}; last: {last and last.text}")


@pytest.fixture
def infra_env(
    kafka_bootstrap_servers: str,
    database_url: str,
    vault_endpoint: VaultEndpoint,
) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DATABASE_URL": database_url,
        "VAULT_ADDR": vault_endpoint.addr,
        "VAULT_TOKEN": vault_endpoint.token,
    }


@pytest.mark.parametrize("name", SERVICES)
def test_service_starts_and_is_ready_with_real_dependencies(
    name: str,
    infra_env: dict[str, str],
) -> None:
    module, prefix, deps = SERVICES[name]
    port = free_port()
    with running(module, {**infra_env, f"{prefix}HTTP_PORT": str(port)}) as process:
        url = f"http://127.0.0.1:{port}"
        ready = wait_ready(url)
        assert set(ready.json()["checks"]) == deps
        assert all(c["ok"] for c in ready.json()["checks"].values())
        assert httpx.get(f"{url}/healthz").json()["service"] == name
        assert "eip_bus_published_total" in httpx.get(f"{url}/metrics").text
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == name
    output = process.stdout.read().decode() if process.stdout else ""
    secrets = [infra_env["VAULT_TOKEN"], infra_env["DATABASE_URL"].split("@")[0].split(":")[-1]]
    assert not any(s in output for s in secrets), "a secret reached the service's logs"
    # uvicorn finishes the shutdown, then re-raises SIGTERM so the exit status tells the truth
    assert "Application shutdown complete" in output
    assert process.returncode in (0, -signal.SIGTERM), output


def test_service_with_missing_database_starts_but_is_not_ready(infra_env: dict[str, str]) -> None:
    port = free_port()
    env = {
        **infra_env,
        "DATABASE_URL": "postgresql://eip:pw-canary-123@127.0.0.1:1/eip",
        "MARKET_DATA_HTTP_PORT": str(port),
        "MARKET_DATA_CONNECT_TIMEOUT_S": "1",
    }
    with running("eip.market_data", env) as process:
        url = f"http://127.0.0.1:{port}"
        response = wait_ready(url, expect=503)
        deadline = time.monotonic() + 15
        while "127.0.0.1:1" not in response.text and time.monotonic() < deadline:
            time.sleep(0.3)  # the first attempt is still running: wait for its verdict
            response = httpx.get(f"{url}/readyz", timeout=5)
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["postgres"]["ok"] is False
        assert "DatabaseUnavailable" in body["checks"]["postgres"]["error"]
        assert "127.0.0.1:1" in body["checks"]["postgres"]["error"]
        assert body["checks"]["kafka"]["ok"] is True  # the other dependency is unaffected
        assert "pw-canary-123" not in response.text
    output = process.stdout.read().decode() if process.stdout else ""
    assert "pw-canary-123" not in output
    assert "127.0.0.1:1" in output  # the log says which database it could not reach


def test_invalid_configuration_stops_startup_naming_the_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eip.order_book"],
        env={**os.environ, "ORDER_BOOK_HTTP_PORT": "not-a-port", "ORDER_BOOK_LOG_LEVEL": "LOUD"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "ORDER_BOOK_HTTP_PORT" in stderr
    assert "ORDER_BOOK_LOG_LEVEL" in stderr
    assert "Traceback" not in stderr
