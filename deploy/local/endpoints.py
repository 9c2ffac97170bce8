"""The run directory's endpoints.json, written and printed for deploy/local/endpoints.sh.

Standard library only: it runs with the system's python3, before and without the workspace.
``write`` reads ``name<TAB>url`` lines of the services that run (services.sh endpoints
--running) on stdin; the infrastructure's addresses come as arguments from the shell scripts,
which own them (common.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def simulator_endpoints(http: str) -> dict[str, str]:
    ws = "ws" + http.removeprefix("http")
    return {
        "rest": f"{http}/api/v3",
        "ws_streams": f"{ws}/ws",
        "ws_combined": f"{ws}/stream",
        "ws_api": f"{ws}/ws-api/v3",
        "kraken_rest": f"{http}/0",
        "kraken_ws": f"{ws}/kraken/v2",
        "kraken_ws_auth": f"{ws}/kraken/v2-auth",
        "coinbase_rest": f"{http}/api/v3/brokerage",
        "coinbase_ws": f"{ws}/coinbase/ws",
        "admin": f"{http}/admin/v1",
    }


def write(out: Path, args: list[str]) -> None:
    kafka, pg_host, pg_port, pg_db, pg_user, pg_password_file, vault, vault_init = args
    services = dict(line.rstrip("\n").split("\t", 1) for line in sys.stdin if line.strip())
    simulator = services.get("exchange-simulator")
    endpoints: dict[str, Any] = {
        "kafka": {"bootstrap_servers": kafka},
        "postgres": {
            "host": pg_host,
            "port": int(pg_port),
            "database": pg_db,
            "user": pg_user,
            "password_file": pg_password_file,
        },
        "vault": {"addr": vault, "init_file": vault_init},
        "services": {
            name: {"http": url, "openapi": f"{url}/openapi.json", "docs": f"{url}/docs"}
            for name, url in services.items()
        },
        "simulator": simulator_endpoints(simulator) if simulator else None,
    }
    # Readers never see half a file: written beside it, then renamed over it.
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(endpoints, indent=2) + "\n")
    tmp.replace(out)


def show(path: Path) -> None:
    endpoints = json.loads(path.read_text())
    pg, vault = endpoints["postgres"], endpoints["vault"]
    lines = [
        f"  {'Kafka':<19} {endpoints['kafka']['bootstrap_servers']}",
        f"  {'PostgreSQL':<19} postgresql://{pg['user']}@{pg['host']}:{pg['port']}/"
        f"{pg['database']}   (password in {pg['password_file']})",
        f"  {'Vault':<19} {vault['addr']}   (root token in {vault['init_file']})",
    ]
    for name, service in endpoints["services"].items():
        if name == "console":
            continue
        lines.append(f"  {name:<19} {service['http']}   (API docs {service['docs']})")
    if console := endpoints["services"].get("console"):
        # The one URL an operator opens: a web page, not an API.
        lines.append(
            f"  {'Operator console':<19} {console['http']}   (log in as eip-admin with the"
            " secret in .run/auth-admin-secret)"
        )
    if sim := endpoints["simulator"]:
        lines.append(
            f"  Simulator, Binance: REST {sim['rest']}   streams "
            f"{sim['ws_streams']}  {sim['ws_combined']}   WebSocket API {sim['ws_api']}"
        )
        lines.append(
            f"{'':11}Kraken:  REST {sim['kraken_rest']}   WebSocket v2 {sim['kraken_ws']}"
            f"  {sim['kraken_ws_auth']}"
        )
        lines.append(
            f"{'':11}Coinbase: REST {sim['coinbase_rest']}   WebSocket {sim['coinbase_ws']}"
        )
        lines.append(f"{'':11}admin {sim['admin']} (keys per venue: POST /accounts/{{id}}/keys)")
    print("\n".join(lines))


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "write":
        write(Path(argv[1]), argv[2:])
        return 0
    if len(argv) == 2 and argv[0] == "print":
        show(Path(argv[1]))
        return 0
    print(
        "usage: endpoints.py write FILE KAFKA PG_HOST PG_PORT PG_DB PG_USER PG_PASSWORD_FILE "
        "VAULT_ADDR VAULT_INIT_FILE < services | print FILE",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
