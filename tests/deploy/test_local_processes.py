"""services.sh controls exactly the processes it started (issue 11 §7).

The exchange simulator — the cheapest service, it needs no infrastructure — is started through
deploy/local/services.sh on a free port with a run directory of the test's own. The pid file
must name the service's own process (not `uv run`, whose child outlived a `kill -9` of it and
kept the port), start must refuse a port that some other process holds even when that one
answers /healthz, and stop must leave nothing listening.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .conftest import LocalScripts, alive, free_port, port_is_free

SERVICE = "exchange-simulator"


def wait_dead(pid: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still runs"
        time.sleep(0.1)


def proc_args(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def proc_env(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_a_kill_9_of_the_recorded_pid_frees_the_port_and_start_and_stop_stay_exact(
    local_scripts: LocalScripts,
) -> None:
    scripts = local_scripts
    port = free_port()
    scripts.env["SIMULATOR_HTTP_PORT"] = str(port)
    # A shell that ran env.sh carries the operator's root token: the simulator must not get it.
    scripts.env["VAULT_TOKEN"] = "canary-root-token"

    pid = scripts.start_service(SERVICE)
    args = proc_args(pid)
    assert args[1:] == ["-m", "eip.exchange_simulator"], args  # the interpreter, not uv
    assert os.getpgid(pid) == pid  # it leads its own process group, which stop signals
    scripts.ok("services", "status", SERVICE)
    # It runs with exactly the environment `services.sh env` shows.
    rendered = dict(
        line.split("=", 1) for line in scripts.ok("services", "env", SERVICE).splitlines()
    )
    environment = proc_env(pid)
    assert {key: environment.get(key) for key in rendered} == rendered
    assert "VAULT_TOKEN" not in environment

    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert port_is_free(port), "the killed service's port is still held (an orphan?)"
    assert scripts.run("services", "status", SERVICE).returncode != 0

    restarted = scripts.start_service(SERVICE)
    assert restarted != pid
    scripts.ok("services", "status", SERVICE)

    scripts.ok("services", "stop", SERVICE)
    wait_dead(restarted)
    assert port_is_free(port)
    assert not scripts.pid_file(SERVICE).exists()
    assert scripts.run("services", "status", SERVICE).returncode != 0


def test_start_refuses_a_port_held_by_a_process_that_is_not_its_own(
    make_local_scripts: Callable[[str], LocalScripts],
) -> None:
    ours, other = make_local_scripts("ours"), make_local_scripts("other")
    port = str(free_port())
    ours.env["SIMULATOR_HTTP_PORT"] = other.env["SIMULATOR_HTTP_PORT"] = port
    # The holder is a healthy simulator of another run directory: it answers /healthz on the
    # very port, which start used to take for its own service.
    holder = other.start_service(SERVICE)

    result = ours.run("services", "start", SERVICE)
    assert result.returncode != 0
    assert f"port {port} for {SERVICE} is taken by pid {holder}" in result.stderr
    assert not ours.pid_file(SERVICE).exists()
    assert ours.run("services", "status", SERVICE).returncode != 0
    # and stop, with nothing of its own to stop, leaves the other one alone
    ours.ok("services", "stop", SERVICE)
    assert alive(holder)

    other.ok("services", "stop", SERVICE)
    wait_dead(holder)
    assert port_is_free(int(port))


def test_endpoints_json_lists_the_services_that_run_whichever_script_writes_it(
    local_scripts: LocalScripts,
) -> None:
    scripts = local_scripts
    port = free_port()
    scripts.env["SIMULATOR_HTTP_PORT"] = str(port)
    endpoints_file = scripts.run_dir / "endpoints.json"
    # What `make up` then `make test` (an infra-only up) both end with.
    scripts.ok("endpoints", "write")
    assert json.loads(endpoints_file.read_text())["services"] == {}

    scripts.start_service(SERVICE)
    scripts.ok("endpoints", "write")  # as up.sh infra does, services running
    endpoints = json.loads(endpoints_file.read_text())
    assert endpoints["services"] == {
        SERVICE: {
            "http": f"http://127.0.0.1:{port}",
            "openapi": f"http://127.0.0.1:{port}/openapi.json",
            "docs": f"http://127.0.0.1:{port}/docs",
        }
    }
    assert endpoints["simulator"]["admin"] == f"http://127.0.0.1:{port}/admin/v1"
    assert f"http://127.0.0.1:{port}" in scripts.ok("endpoints", "print")

    scripts.ok("services", "stop", SERVICE)  # stopping one service alone updates the file
    endpoints = json.loads(endpoints_file.read_text())
    assert endpoints["services"] == {}
    assert endpoints["simulator"] is None


def test_a_service_that_exits_during_startup_fails_start_at_once_with_its_log(
    local_scripts: LocalScripts,
) -> None:
    local_scripts.env["SIMULATOR_HTTP_PORT"] = str(free_port())
    local_scripts.env["SIMULATOR_MARKET"] = "no-such-market"  # refused by its settings class
    began = time.monotonic()
    result = local_scripts.run("services", "start", SERVICE)
    assert result.returncode != 0
    assert "SIMULATOR_MARKET" in result.stderr  # the tail of the service's own log
    assert f"{SERVICE} exited during startup" in result.stderr
    assert time.monotonic() - began < 30  # not the 60 s a health wait would give it
    assert not local_scripts.pid_file(SERVICE).exists()
