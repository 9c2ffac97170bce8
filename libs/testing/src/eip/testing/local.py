"""The deploy/local scripts run from tests, on a run directory and ports of the test's own.

A shared platform may run on the default ports (and a developer's `make up` does): tests that
start components through the scripts (tests/deploy, the chaos suite in tests/chaos) never
touch them. Each gets its own EIP_RUN_DIR and an environment reduced to what the scripts need
(no KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, VAULT_TOKEN or *_PORT inherited from the shell that
runs pytest), so what the scripts do follows only from the variables the test sets.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from eip.testing.endpoints import REPO_ROOT
from eip.testing.simulator import free_port

__all__ = ["REPO_ROOT", "LocalScripts", "alive", "free_port", "local_scripts_in", "port_is_free"]

SCRIPTS = REPO_ROOT / "deploy" / "local"
BASH = shutil.which("bash") or "/bin/bash"
# Passed through from the test's environment: finding uv, its settings, and the caches.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_CACHE_HOME", "EIP_CACHE_DIR")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing accepts connections on the port (a process killed a moment ago may still be
    closing its socket: wait a little for the kernel)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                pass
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@dataclass
class LocalScripts:
    """deploy/local/<script>.sh with a fixed environment; `env` may be extended per test."""

    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    # services started through start_service, stopped (and killed if need be) at teardown
    started: dict[str, list[int]] = field(default_factory=dict)

    def run(
        self,
        script: str,
        *args: str,
        extra_env: dict[str, str] | None = None,
        timeout_s: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own scripts, fixed arguments
            [BASH, str(SCRIPTS / f"{script}.sh"), *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            cwd=REPO_ROOT,
        )

    def ok(self, script: str, *args: str, extra_env: dict[str, str] | None = None) -> str:
        """Runs the script and fails the test, with its stderr, unless it exits 0."""
        result = self.run(script, *args, extra_env=extra_env)
        assert result.returncode == 0, (
            f"{script}.sh {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
        return result.stdout

    def pid_file(self, service: str) -> Path:
        return self.run_dir / "services" / f"{service}.pid"

    def start_service(self, service: str) -> int:
        """services.sh start SERVICE; the pid it recorded."""
        self.started.setdefault(service, [])
        self.ok("services", "start", service)
        pid = int(self.pid_file(service).read_text())
        self.started[service].append(pid)
        return pid

    def clean_up(self) -> None:
        for service, pids in self.started.items():
            self.run("services", "stop", service)
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie awaiting its reaper (whose ports are closed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def local_scripts_in(run_dir: Path) -> LocalScripts:
    """LocalScripts on ``run_dir``, with only the inherited variables the scripts need."""
    env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("UV_")})
    env["EIP_RUN_DIR"] = str(run_dir)
    return LocalScripts(run_dir, env)
